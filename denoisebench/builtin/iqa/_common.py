"""Shared pieces of the IQA metrics: input checks, the MATLAB conventions the official codes rely on.

The official implementations (the authors' MATLAB scripts) take images in 0..255 and use MATLAB's
``rgb2gray``, ``conv2(..., 'same')`` (zero padding) and ``round`` (half away from zero); these helpers
reproduce exactly those operations on float64 arrays, so the metric modules read like the scripts.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import ImageError, ParameterError
from denoisebench.interfaces import Metric, check_params

#: MATLAB rgb2gray weights (the first row of the inverse NTSC matrix), which the calibration runs used to
#: feed colour images to the gray-only official scripts (MS-SSIM, GMSD, VIF)
RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
#: NTSC YIQ rows used by FeatureSIM.m
YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


class MetricUndefinedError(ImageError):
    """The metric is not defined for this image pair (e.g. a constant image where it divides by a variance).

    An :class:`ImageError`, so the worker records the metric as null with this one-line reason.
    """


def pair(name: str, reference: Any, estimate: Any, min_side: int, uint8: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (reference, estimate) pair and return float64 copies scaled to 0..255 (rounded to integer
    levels, as an 8-bit file holds them, when ``uint8``).

    One-line ImageError for: not H×W / H×W×3, mismatched shapes, NaN/inf, a side below ``min_side``.
    """
    ref, est = np.asarray(reference), np.asarray(estimate)
    for what, arr in (("reference", ref), ("estimate", est)):
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
            raise ImageError(f"{name}: {what} shape {arr.shape} is not H×W or H×W×3; pass a gray or RGB image")
    if ref.shape != est.shape:
        raise ImageError(f"{name}: reference shape {ref.shape} != estimate shape {est.shape}; "
                         "pass images of the same shape")
    if min(ref.shape[:2]) < min_side:
        raise ImageError(f"{name}: image of {ref.shape[0]}x{ref.shape[1]} pixels is too small; "
                         f"{name} needs both sides >= {min_side}")
    out = []
    for what, arr in (("reference", ref), ("estimate", est)):
        a = arr.astype(np.float64) * 255.0
        if not np.isfinite(a).all():
            raise ImageError(f"{name}: {what} contains NaN or inf; pass finite values in [0, 1]")
        out.append(np.floor(a + 0.5) if uint8 else a)
    return out[0], out[1]


def gray(img: np.ndarray, uint8: bool = False) -> np.ndarray:
    """MATLAB ``rgb2gray`` of an RGB image in 0..255, rounded to integer levels when ``uint8`` (what rgb2gray
    returns for a uint8 image); a gray image is returned as is."""
    if img.ndim == 2:
        return img
    r, g, b = RGB2GRAY
    out = r * img[..., 0] + g * img[..., 1] + b * img[..., 2]
    return np.floor(out + 0.5) if uint8 else out


def is_constant(img: np.ndarray) -> bool:
    return bool(img.min() == img.max())


def matlab_round(x: float) -> int:
    """MATLAB ``round``: halves away from zero (Python's round() goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def conv2_same(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(img, kernel, 'same')``: true convolution, zero padding, MATLAB's centring rule."""
    import cv2

    kh, kw = kernel.shape
    # conv2 'same' keeps full-convolution rows floor(kh/2) .. floor(kh/2)+H-1; cv2.filter2D correlates, so
    # flip the kernel and put the anchor where that rule puts the centre
    anchor = (kw - 1 - kw // 2, kh - 1 - kh // 2)
    return cv2.filter2D(img, cv2.CV_64F, np.ascontiguousarray(kernel[::-1, ::-1]), anchor=anchor,
                        borderType=cv2.BORDER_CONSTANT)


def average_downsample(img: np.ndarray, f: int) -> np.ndarray:
    """``conv2(img, fspecial('average', f), 'same')`` then ``(1:f:end, 1:f:end)``, as FeatureSIM.m and GMSD.m do.

    Computed directly at the kept pixels: each is the mean of the f×f window that conv2 'same' centres there
    (zero outside the image, so the last row/column of an image whose size is not a multiple of f is darker,
    exactly as in the official scripts).
    """
    if f == 1:
        return img
    lo = (f - 1) // 2
    hi = f - 1 - lo
    h, w = img.shape
    padded = np.pad(img, ((lo, hi), (lo, hi)))
    oh, ow = -(-h // f), -(-w // f)
    acc = np.zeros((oh, ow))
    for a in range(f):
        for b in range(f):
            acc += padded[a:a + f * oh:f, b:b + f * ow:f]
    return acc / (f * f)


UINT8_NOTE = ("; uint8=true: both images rounded to 8-bit levels first and colour->gray rounded again, as the "
              "official MATLAB scripts see 8-bit files (rgb2gray of uint8)")


class IQAMetric(Metric):
    """Base of the IQA metrics: option validation (one-line ParameterError) and the ``uint8`` option.

    ``uint8`` (default false): score the images as the official MATLAB scripts score 8-bit image files:
    round both to 8-bit levels first, and round a colour image's gray conversion again (MATLAB's rgb2gray
    returns uint8 for uint8 input). The official calibration values were made that way; the default keeps
    the harness's float images unquantised.
    """

    min_side: ClassVar[int] = 1
    defaults: ClassVar[dict[str, Any]] = {"uint8": False}
    #: option -> allowed values (a tuple) for the options other than uint8
    choices: ClassVar[dict[str, tuple]] = {}

    def __init__(self, **options: Any):
        opts = check_params(f"metric {self.name!r}", options, self.defaults)
        if not isinstance(opts["uint8"], bool):
            raise ParameterError(f"metric {self.name!r}: uint8={opts['uint8']!r} is invalid; pass true or false")
        for key, allowed in self.choices.items():
            if opts[key] not in allowed:
                raise ParameterError(f"metric {self.name!r}: {key}={opts[key]!r} is invalid; pass one of "
                                     f"{', '.join(map(str, allowed))}")
        super().__init__(**{k: v for k, v in opts.items() if v != self.defaults[k]})
        self.params = opts
        self.uint8 = opts["uint8"]
        self.convention = self.describe(opts)

    @classmethod
    def describe(cls, opts: dict[str, Any]) -> str:
        """The convention text for these options (recorded with the run)."""
        return cls.convention + (UINT8_NOTE if opts.get("uint8") else "")


def digest(*parts: Any) -> tuple:
    """A cache key for arrays (shape, dtype and a blake2b digest of the bytes) and plain values."""
    key = []
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            key.append((a.shape, a.dtype.str, hashlib.blake2b(a.data, digest_size=16).digest()))
        else:
            key.append(p)
    return tuple(key)


class LRU:
    """A small thread-safe least-recently-used cache (per process; workers reuse one metric instance)."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
