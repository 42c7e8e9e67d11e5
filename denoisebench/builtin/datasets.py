"""Built-in datasets: ``embedded`` (the default), ``embedded_color``, ``folder`` and the standard sets.

- ``embedded``: 8 natural images that ship inside the scikit-image wheel (no network), converted to gray with
  BT.601 luma where they are colour, centre-cropped to 256x256 (option ``crop``; 0 = full size). Images and
  licences: see :data:`EMBEDDED` and ``docs/datasets.md``.
- ``embedded_color``: astronaut, coffee, chelsea, rocket in RGB, same crop.
- ``folder``: the images in one folder (``path``, required; ``gray`` None = as stored, True, False = RGB).
  Hidden files and files whose suffix is not an image suffix are skipped silently; a file with an image suffix
  that does not start like an image is a :class:`DatasetError` naming it when the folder is listed; an image
  that fails to decode is an :class:`ImageError` naming it when it is loaded.
- ``set12``, ``bsd68``, ``cbsd68``, ``kodak24``, ``kodak24_crop500``, ``mcmaster``, ``urban100``, ``train400``:
  see :mod:`denoisebench.builtin.standard_sets` (options ``root``, ``verify``, ``download``, ``mirror``).
- paired (real-noise) datasets ``polyu``, ``pairs``, ``sidd``, ``nam``: see :mod:`denoisebench.builtin.pairs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from denoisebench.builtin.pairs import PAIRED_CLASSES
from denoisebench.builtin.standard_sets import SETS, SetFiles, SetInfo, natural_key, sha256_file
from denoisebench.errors import DatasetError, ParameterError
from denoisebench.hookspecs import hookimpl
from denoisebench.images import IMAGE_SUFFIXES, load_image, to_float, to_gray
from denoisebench.interfaces import Dataset, check_params

# skimage.data function -> (file in skimage/data/, licence per its docstring, sha256 of that file in 0.26.0)
EMBEDDED: dict[str, tuple[str, str, str]] = {
    "camera": ("camera.png", "CC0 (photographer Lav Varshney)",
               "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),
    "astronaut": ("astronaut.png", "public domain (NASA)",
                  "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
    "coffee": ("coffee.png", "CC0 (Rachel Michetti)",
               "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
    "chelsea": ("chelsea.png", "CC0 (Stefan van der Walt)",
                "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
    "rocket": ("rocket.jpg", "public domain (SpaceX)",
               "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
    "coins": ("coins.png", "no known copyright restrictions (Greek coins from Pompeii, Brooklyn Museum)",
              "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba"),
    "brick": ("brick.png", "CC0 (CC0Textures)",
              "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
    "grass": ("grass.png", "CC0 (DeviantArt user linolafett)",
              "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89"),
}
EMBEDDED_GRAY = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "brick", "grass")
EMBEDDED_COLOR = ("astronaut", "coffee", "chelsea", "rocket")

# file signatures of the formats in IMAGE_SUFFIXES (checked when a folder is listed)
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM",
               b"P1", b"P2", b"P3", b"P4", b"P5", b"P6")


def _check_flag(owner: str, key: str, value: Any, allow_none: bool = False) -> None:
    if not (isinstance(value, bool) or (allow_none and value is None)):
        what = "true, false or none" if allow_none else "true or false"
        raise ParameterError(f"{owner}: {key}={value!r} is invalid; pass {what}")


def centre_crop(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Centre crop to at most ``size`` x ``size``; returns the crop and (top, left, height, width)."""
    h, w = image.shape[:2]
    ch, cw = min(h, size), min(w, size)
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(image[top:top + ch, left:left + cw]), (top, left, ch, cw)


class Embedded(Dataset):
    name = "embedded"
    description = ("8 natural images from the scikit-image wheel (camera, astronaut, coffee, chelsea, rocket, "
                   "coins, brick, grass), gray (BT.601), centre 256x256; offline")
    color = False
    license = "CC0 / public domain / no known copyright restrictions (per image, see provenance)"
    defaults: ClassVar[dict[str, Any]] = {"crop": 256}
    images: ClassVar[tuple[str, ...]] = EMBEDDED_GRAY

    def __init__(self, **options: Any):
        opts = check_params(f"dataset {self.name!r}", options, self.defaults)
        crop = opts["crop"]
        if crop is None:
            crop = 0
        if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 0:
            raise ParameterError(f"dataset {self.name!r}: crop={crop!r} is invalid; pass a size in pixels "
                                 f"(e.g. crop=256) or crop=0 for the full images")
        opts["crop"] = int(crop)
        super().__init__(**opts)

    def ids(self) -> list[str]:
        return list(self.images)

    def _check_id(self, image_id: str) -> None:
        if image_id not in self.images:
            raise DatasetError(f"dataset {self.name!r} has no image {image_id!r}; ids: {', '.join(self.images)}")

    def load(self, image_id: str) -> np.ndarray:
        import skimage.data

        self._check_id(image_id)
        image = to_float(getattr(skimage.data, image_id)(), source=f"skimage.data.{image_id}()")
        image = image if self.color else to_gray(image)
        if self.options["crop"]:
            image = centre_crop(image, self.options["crop"])[0]
        return image

    def provenance(self, image_id: str) -> dict[str, Any]:
        import skimage
        import skimage.data

        self._check_id(image_id)
        fname, licence, pinned = EMBEDDED[image_id]
        path = Path(skimage.data.__file__).parent / fname
        digest = sha256_file(path) if path.is_file() else ""
        crop = self.options["crop"]
        return {
            "dataset": self.name, "image_id": image_id, "source": f"skimage.data.{image_id}()",
            "path": str(path), "skimage_version": skimage.__version__, "sha256": digest,
            "sha256_matches_pinned": digest == pinned, "license": licence,
            "conversion": "RGB" if self.color else "gray: BT.601 luma (0.299 R + 0.587 G + 0.114 B) if colour",
            "crop": f"centre {crop}x{crop} (smaller sides kept whole)" if crop else "none",
        }


class EmbeddedColor(Embedded):
    name = "embedded_color"
    description = "4 colour images from the scikit-image wheel (astronaut, coffee, chelsea, rocket), centre 256x256"
    color = True
    license = "CC0 / public domain (per image, see provenance)"
    images = EMBEDDED_COLOR


class Folder(Dataset):
    name = "folder"
    description = "the images in one folder (option path); gray=None keeps them as stored"
    license = "unknown (user-supplied images)"
    defaults: ClassVar[dict[str, Any]] = {"path": None, "gray": None}
    positional_option: ClassVar[str] = "path"

    def __init__(self, **options: Any):
        opts = check_params(f"dataset {self.name!r}", options, self.defaults)
        if opts["path"] in (None, ""):
            raise ParameterError("dataset 'folder': option path is required; pass folder:/path/to/images")
        _check_flag("dataset 'folder'", "gray", opts["gray"], allow_none=True)
        opts["path"] = str(Path(str(opts["path"])).expanduser().resolve())
        super().__init__(**opts)
        self._files: dict[str, Path] | None = None
        self.skipped: list[str] = []

    def _list(self) -> dict[str, Path]:
        if self._files is not None:
            return self._files
        folder = Path(self.options["path"])
        if not folder.exists():
            raise DatasetError(f"dataset 'folder': {folder} does not exist; pass an existing folder of images")
        if not folder.is_dir():
            raise DatasetError(f"dataset 'folder': {folder} is a file, not a folder; pass the folder that holds it")
        files, skipped = {}, []
        for p in sorted(folder.iterdir(), key=lambda q: natural_key(q.name)):
            if p.name.startswith(".") or not p.is_file():
                continue
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(p.name)
                continue
            with open(p, "rb") as f:
                head = f.read(16)
            if not (head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
                what = "is empty" if not head else f"does not start like an image file ({head[:8]!r})"
                raise DatasetError(f"dataset 'folder': {p} {what}; remove it from {folder} or replace it "
                                   f"with a readable image")
            files[p.name] = p
        if not files:
            extra = f" ({len(skipped)} other files skipped)" if skipped else ""
            raise DatasetError(f"dataset 'folder': no image files in {folder}{extra}; pass a folder holding "
                               f"{', '.join(IMAGE_SUFFIXES)} files")
        self._files, self.skipped = files, skipped
        return files

    def ids(self) -> list[str]:
        return list(self._list())

    def _path(self, image_id: str) -> Path:
        files = self._list()
        if image_id not in files:
            raise DatasetError(f"dataset 'folder' ({self.options['path']}) has no image {image_id!r}")
        return files[image_id]

    def load(self, image_id: str) -> np.ndarray:
        return load_image(self._path(image_id), gray=self.options["gray"])

    def provenance(self, image_id: str) -> dict[str, Any]:
        path = self._path(image_id)
        return {"dataset": self.name, "image_id": image_id, "source": str(path), "path": str(path),
                "sha256": sha256_file(path), "license": self.license}


class StandardSet(Dataset):
    """A published test set, verified file by file against the packaged sha256 list."""

    info: ClassVar[SetInfo]
    defaults: ClassVar[dict[str, Any]] = {"root": None, "verify": True, "download": True, "mirror": None}
    positional_option: ClassVar[str] = "root"

    def __init__(self, **options: Any):
        opts = check_params(f"dataset {self.name!r}", options, self.defaults)
        for key in ("verify", "download"):
            _check_flag(f"dataset {self.name!r}", key, opts[key])
        if opts["root"] not in (None, ""):
            opts["root"] = str(Path(str(opts["root"])).expanduser().resolve())
        else:
            opts["root"] = None
        mirror = opts["mirror"]
        if mirror is not None and not (isinstance(mirror, str) and mirror.startswith(("http://", "https://"))):
            raise ParameterError(f"dataset {self.name!r}: mirror={mirror!r} is invalid; pass an http(s) URL "
                                 f"under which <folder>/<file> is served")
        super().__init__(**opts)
        self.files = SetFiles(self.info, **opts)
        self._ids = {name.rsplit(".", 1)[0]: name for name in self.files.hashes}

    def prepare(self) -> Path:
        """Fetch (if needed) and verify every file; return the folder holding them."""
        return self.files.prepare()

    def ids(self) -> list[str]:
        self.prepare()
        return list(self._ids)

    def _fname(self, image_id: str) -> str:
        if image_id not in self._ids:
            first, last = next(iter(self._ids)), list(self._ids)[-1]
            raise DatasetError(f"dataset {self.name!r} has no image {image_id!r}; ids run {first} ... {last}")
        return self._ids[image_id]

    def load(self, image_id: str) -> np.ndarray:
        path = self.files.path(self._fname(image_id))
        return load_image(path, gray=not self.info.color)

    def provenance(self, image_id: str) -> dict[str, Any]:
        fname = self._fname(image_id)
        folder, local = self.files.locate()
        return {"dataset": self.name, "image_id": image_id, "file": fname, "source": self.files.url(fname),
                "path": str(folder / fname), "local_copy": local, "sha256": self.files.hashes[fname],
                "verified": self.options["verify"] or not local, "license": self.info.license}


def _standard(info: SetInfo) -> type[StandardSet]:
    cls_name = "Set_" + info.name
    cls = type(cls_name, (StandardSet,), {
        "name": info.name, "info": info, "color": info.color, "description": info.description,
        "license": info.license, "__module__": __name__, "__qualname__": cls_name,
    })
    globals()[cls_name] = cls  # picklable by reference
    return cls


STANDARD_CLASSES = [_standard(info) for info in SETS.values()]


@hookimpl
def denoisebench_register_datasets(registry):
    for cls in (Embedded, EmbeddedColor, Folder, *STANDARD_CLASSES, *PAIRED_CLASSES):
        registry.add(cls)
