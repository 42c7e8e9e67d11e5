"""Built-in classical denoisers: median, Gaussian, Wiener, mean (box) and switching (decision-based) median.

All take float32/float64 images in [0, 1] (H×W or H×W×3), never mutate their input and return float32 of the
same shape. Colour is filtered per channel, each channel independently. Borders: median replicates the edge;
gaussian, mean and wiener reflect symmetrically (``dcba|abcd``, scipy ``mode="reflect"``); see
:mod:`denoisebench.builtin.filters` for the algorithms and their exactness.

``default_params(noise)`` sizes each filter from the noise spec: impulse noise (salt-and-pepper, mixed) by its
amount, the other noise types by a rough noise standard deviation (:func:`noise_std`). The thresholds were
chosen by a PSNR sweep on Train400 crops (benchmarks/tune_defaults.py), not on the benchmark images.
"""

from __future__ import annotations

import cv2
import numpy as np

from denoisebench.builtin.filters import (
    adaptive_impulses,
    extreme_impulses,
    median_filter,
    switching_median,
    wiener_filter,
)
from denoisebench.errors import ParameterError
from denoisebench.hookspecs import hookimpl
from denoisebench.images import check_image
from denoisebench.interfaces import Denoiser, NoiseSpec


def _odd_size(owner: str, name: str, value, lo: int = 3, hi: int = 31) -> None:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and lo <= value <= hi and value % 2
    if not ok:
        raise ParameterError(
            f"denoiser {owner!r}: {name}={value!r} is invalid; pass an odd integer in [{lo}, {hi}], e.g. {name}=5"
        )


def _number(owner: str, name: str, value, lo: float, hi: float, *, lo_open: bool = True) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        bracket = "(" if lo_open else "["
        raise ParameterError(
            f"denoiser {owner!r}: {name}={value!r} is invalid; pass a number in {bracket}{lo:g}, {hi:g}]"
        )


def _as_float(noisy: np.ndarray) -> np.ndarray:
    x = np.asarray(noisy)
    check_image(x, source="noisy input")
    return np.ascontiguousarray(x, dtype=np.float32)


def _impulse_amount(noise: NoiseSpec | None) -> float:
    if noise is not None and noise.model in ("salt_pepper", "mixed"):
        return float(noise.kwargs.get("amount", 0.1))
    return 0.0


def _step(value: float, steps: tuple[tuple[float, object], ...], last):
    """The value of the first step whose limit is >= ``value``, else ``last``."""
    return next((v for limit, v in steps if value <= limit), last)


def noise_std(noise: NoiseSpec | None) -> float:
    """A rough noise standard deviation in 0–255 units, for sizing smoothing filters (25 when unknown).

    gaussian/mixed: sigma; speckle: 0.45·sqrt(var)·255 and poisson: sqrt(0.45/peak)·255, i.e. at a typical
    mid-tone intensity of 0.45.
    """
    if noise is None:
        return 25.0
    p = noise.kwargs
    if noise.model in ("gaussian", "mixed"):
        return float(p.get("sigma", 25.0))
    if noise.model == "speckle":
        return 0.45 * float(p.get("var", 0.04)) ** 0.5 * 255.0
    if noise.model == "poisson":
        return (0.45 / max(float(p.get("peak", 16.0)), 1e-3)) ** 0.5 * 255.0
    return 25.0


class Median(Denoiser):
    name = "median"
    description = "median filter, edge-replicated border (exact; cv2 fast paths)"
    defaults = {"size": 3}
    param_grid = {"size": [3, 5, 7, 9]}

    def validate(self, params):
        _odd_size(self.name, "size", params["size"])

    @classmethod
    def default_params(cls, noise=None):
        amount = _impulse_amount(noise)
        if amount:  # mixed: one size larger when its Gaussian part is strong
            size = _step(amount, ((0.2, 3), (0.4, 5)), 7)
            return {"size": min(size + 2, 9) if noise.model == "mixed" and noise_std(noise) >= 25 else size}
        return {"size": _step(noise_std(noise), ((30, 3), (45, 5), (60, 7)), 9)}

    def denoise(self, noisy, *, noise=None, rng=None):
        return median_filter(_as_float(noisy), self.params["size"])


class Gaussian(Denoiser):
    name = "gaussian"
    description = "Gaussian low-pass filter (cv2.GaussianBlur), reflected border, radius int(truncate*sigma+0.5)"
    defaults = {"sigma": 1.0, "truncate": 4.0}
    param_grid = {"sigma": [0.5, 0.8, 1.0, 1.5, 2.0]}

    def validate(self, params):
        _number(self.name, "sigma", params["sigma"], 0.0, 20.0)
        _number(self.name, "truncate", params["truncate"], 0.0, 10.0)

    @classmethod
    def default_params(cls, noise=None):
        amount = _impulse_amount(noise)
        if amount:
            return {"sigma": 1.5 if amount <= 0.15 else 2.0, "truncate": 4.0}
        return {"sigma": _step(noise_std(noise), ((12, 0.5), (30, 0.8), (45, 1.2), (60, 1.5)), 2.0), "truncate": 4.0}

    def denoise(self, noisy, *, noise=None, rng=None):
        sigma = float(self.params["sigma"])
        k = 2 * int(float(self.params["truncate"]) * sigma + 0.5) + 1
        return cv2.GaussianBlur(_as_float(noisy), (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


class Mean(Denoiser):
    name = "mean"
    description = "mean (box) filter (cv2.blur), reflected border"
    defaults = {"size": 3}
    param_grid = {"size": [3, 5, 7]}

    def validate(self, params):
        _odd_size(self.name, "size", params["size"])

    @classmethod
    def default_params(cls, noise=None):
        amount = _impulse_amount(noise)
        if amount:
            return {"size": 5 if amount <= 0.15 else 7}
        return {"size": _step(noise_std(noise), ((37, 3), (60, 5)), 7)}

    def denoise(self, noisy, *, noise=None, rng=None):
        size = self.params["size"]
        return cv2.blur(_as_float(noisy), (size, size), borderType=cv2.BORDER_REFLECT)


class Wiener(Denoiser):
    name = "wiener"
    description = "adaptive Wiener filter on local mean/variance (MATLAB wiener2 / scipy.signal.wiener)"
    #: noise: the noise power (variance, 0-1 units; scipy.signal.wiener's name) or None to estimate it as the
    #: mean local variance
    defaults = {"size": 5, "noise": None, "border": "reflect"}
    param_grid = {"size": [3, 5, 7]}

    def validate(self, params):
        _odd_size(self.name, "size", params["size"])
        if params["noise"] is not None:
            _number(self.name, "noise", params["noise"], 0.0, 1.0, lo_open=False)
        if params["border"] not in ("reflect", "zero"):
            raise ParameterError(
                f"denoiser {self.name!r}: border={params['border']!r} is invalid; pass 'reflect' or 'zero'"
            )

    @classmethod
    def default_params(cls, noise=None):
        size = 7 if _impulse_amount(noise) else _step(noise_std(noise), ((18, 3), (30, 5)), 7)
        return {"size": size, "noise": None, "border": "reflect"}

    def denoise(self, noisy, *, noise=None, rng=None):
        p = self.params
        return wiener_filter(_as_float(noisy), p["size"], p["noise"], p["border"])


class SwitchingMedian(Denoiser):
    name = "switching_median"
    description = "decision-based median for impulse noise: only detected impulses are replaced"
    defaults = {"max_size": 7, "detection": "extremes", "tol": 0.0}
    param_grid = {"max_size": [5, 7, 9], "detection": ["extremes", "adaptive"]}

    def validate(self, params):
        _odd_size(self.name, "max_size", params["max_size"])
        if params["detection"] not in ("extremes", "adaptive"):
            raise ParameterError(
                f"denoiser {self.name!r}: detection={params['detection']!r} is invalid; pass 'extremes' or 'adaptive'"
            )
        _number(self.name, "tol", params["tol"], 0.0, 0.5, lo_open=False)

    @classmethod
    def default_params(cls, noise=None):
        # salt-and-pepper impulses are exactly 0 or 1; in other noise, outliers are found by the adaptive test
        detection = "extremes" if noise is None or noise.model == "salt_pepper" else "adaptive"
        return {**cls.defaults, "detection": detection}

    def denoise(self, noisy, *, noise=None, rng=None):
        x = _as_float(noisy)
        p = self.params
        if x.ndim == 3:
            return np.stack([self._one(np.ascontiguousarray(x[..., c]), p) for c in range(x.shape[2])], axis=2)
        return self._one(x, p)

    @staticmethod
    def _one(x2d, p):
        if p["detection"] == "adaptive":
            impulse = adaptive_impulses(x2d, p["max_size"])
        else:
            impulse = extreme_impulses(x2d, float(p["tol"]))
        return switching_median(x2d, impulse, p["max_size"])


CLASSICAL = (Median, Gaussian, Wiener, Mean, SwitchingMedian)


@hookimpl
def denoisebench_register_denoisers(registry):
    for cls in CLASSICAL:
        registry.add(cls)
