"""Image conventions: float32 arrays in [0, 1], H×W (gray) or H×W×3 (RGB, channels last).

Conversion rules (applied by :func:`to_float` and :func:`load_image`):

- uint8 -> x / 255, uint16 -> x / 65535, bool -> {0, 1}; float arrays are kept (as float32) and must lie in [0, 1].
- H×W×1 -> H×W. RGBA -> RGB by dropping alpha (a warning-free, documented choice: alpha is not composited).
- Palette / LA / other PIL-style modes are converted by the reader (OpenCV: palette -> RGB, LA -> gray).
- Anything else (more channels, NaN/inf, out-of-range floats, 1-D or 4-D arrays) is rejected with one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoisebench.errors import ImageError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".webp")


def to_float(image: np.ndarray, *, source: str = "image") -> np.ndarray:
    """Convert an array to the float32 [0, 1] convention; raise ImageError naming ``source`` otherwise."""
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif arr.dtype == bool:
        out = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32, copy=True)
        if not np.all(np.isfinite(out)):
            raise ImageError(f"{source}: contains NaN or inf; pass finite values in [0, 1]")
        lo, hi = float(out.min()), float(out.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ImageError(f"{source}: float values span [{lo:.4g}, {hi:.4g}]; pass values in [0, 1]")
        np.clip(out, 0.0, 1.0, out=out)
    else:
        raise ImageError(f"{source}: unsupported dtype {arr.dtype}; pass uint8, uint16, bool or float in [0, 1]")
    if out.ndim == 3 and out.shape[2] == 1:
        out = out[:, :, 0]
    if out.ndim == 3 and out.shape[2] == 4:
        out = np.ascontiguousarray(out[:, :, :3])
    check_image(out, source=source)
    return out


def check_image(image: np.ndarray, *, source: str = "image") -> None:
    """Raise ImageError unless ``image`` is H×W or H×W×3."""
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3):
        if min(image.shape[:2]) < 1:
            raise ImageError(f"{source}: empty image of shape {image.shape}")
        return
    raise ImageError(f"{source}: shape {image.shape} is not H×W or H×W×3; pass a gray or RGB image")


def is_color(image: np.ndarray) -> bool:
    return image.ndim == 3


def to_gray(image: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), the rule used to make BSD68 from CBSD68."""
    if image.ndim == 2:
        return image
    return (image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114).astype(np.float32)


def load_image(path: str | Path, *, gray: bool | None = None) -> np.ndarray:
    """Read an image file into the float32 [0, 1] convention (RGB order for colour).

    ``gray=True`` converts colour to gray (BT.601), ``gray=False`` replicates gray to RGB, ``None`` keeps it.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file; pass the path of an existing image")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:  # PermissionError, an I/O error
        raise ImageError(f"{path}: cannot read the file ({exc.strerror or exc}); check its permissions") from None
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if arr is None:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise ImageError(f"{path}: a {path.suffix.lower()} file that cannot be decoded (truncated or corrupt"
                             f"{', empty' if not data.size else ''}); replace it with an intact copy")
        raise ImageError(f"{path}: not a readable image; pass one of {', '.join(IMAGE_SUFFIXES)}")
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = arr[:, :, :3]
        if arr.shape[2] == 3:
            arr = arr[:, :, ::-1]  # OpenCV reads BGR
        elif arr.shape[2] == 2:  # gray + alpha
            arr = arr[:, :, 0]
    out = to_float(np.ascontiguousarray(arr), source=str(path))
    if gray is True:
        out = to_gray(out)
    elif gray is False and out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return out


def save_image(path: str | Path, image: np.ndarray) -> None:
    """Write a [0, 1] image as 8-bit PNG (rounded)."""
    import cv2

    arr = np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    if arr.ndim == 3:
        arr = arr[:, :, ::-1]
    cv2.imwrite(str(path), arr)
