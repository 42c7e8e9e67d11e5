"""Built-in noise models (definitions in DESIGN.md; sigma in 0–255 units, images in [0, 1]).

All models draw from the ``numpy.random.Generator`` they are given (never global state) and, by default, clip
the result to [0, 1]. Colour images get independent noise per channel element (as scikit-image and MATLAB's
``imnoise`` do).
"""

from __future__ import annotations

import numpy as np

from denoisebench.errors import ParameterError
from denoisebench.hookspecs import hookimpl
from denoisebench.interfaces import NoiseModel, NoiseSpec


def _require(cond: bool, model: str, param: str, value, what: str) -> None:
    if not cond:
        raise ParameterError(f"noise model {model!r}: {param}={value!r} is invalid; pass {what}")


def _number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def add_gaussian(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma / 255.0)


def add_salt_pepper(image: np.ndarray, amount: float, salt_ratio: float, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(image.shape, dtype=np.float32)
    out = image.copy()
    salt = amount * salt_ratio
    out[u < salt] = 1.0
    out[(u >= salt) & (u < amount)] = 0.0
    return out


class Gaussian(NoiseModel):
    name = "gaussian"
    description = "additive white Gaussian noise"
    convention = "y = x + n, n ~ N(0, (sigma/255)^2); sigma in 0-255 units"
    defaults = {"sigma": 25.0}
    main_param = "sigma"
    levels = {"15": {"sigma": 15.0}, "25": {"sigma": 25.0}, "50": {"sigma": 50.0}}

    def validate(self, params):
        s = params["sigma"]
        _require(_number(s) and s >= 0, self.name, "sigma", s, "a number >= 0 in 0-255 units, e.g. sigma=25")

    def _apply(self, clean, rng):
        return add_gaussian(clean, self.params["sigma"], rng)


class Speckle(NoiseModel):
    name = "speckle"
    description = "multiplicative Gaussian (speckle) noise, scikit-image's model"
    convention = "y = x + x*n, n ~ N(0, var) (scikit-image 'speckle'; MATLAB imnoise uses uniform n)"
    defaults = {"var": 0.04}
    main_param = "var"
    levels = {"0.01": {"var": 0.01}, "0.04": {"var": 0.04}, "0.1": {"var": 0.1}}

    def validate(self, params):
        v = params["var"]
        _require(_number(v) and v >= 0, self.name, "var", v, "a variance >= 0, e.g. var=0.04")

    def _apply(self, clean, rng):
        n = rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(np.sqrt(self.params["var"]))
        return clean + clean * n


class SaltPepper(NoiseModel):
    name = "salt_pepper"
    description = "impulse noise: pixels set to 1 (salt) or 0 (pepper)"
    convention = "each element becomes 1 w.p. amount*salt_ratio, 0 w.p. amount*(1-salt_ratio) (MATLAB/skimage s&p)"
    defaults = {"amount": 0.1, "salt_ratio": 0.5}
    main_param = "amount"
    levels = {"10%": {"amount": 0.1}, "30%": {"amount": 0.3}, "50%": {"amount": 0.5}}

    def validate(self, params):
        a, r = params["amount"], params["salt_ratio"]
        _require(_number(a) and 0 <= a <= 1, self.name, "amount", a, "a fraction in [0, 1], e.g. amount=0.1")
        _require(_number(r) and 0 <= r <= 1, self.name, "salt_ratio", r, "a fraction in [0, 1], e.g. 0.5")

    def _apply(self, clean, rng):
        return add_salt_pepper(clean, self.params["amount"], self.params["salt_ratio"], rng)


class Mixed(NoiseModel):
    name = "mixed"
    description = "Gaussian noise followed by salt-and-pepper noise"
    convention = "gaussian(sigma) then salt_pepper(amount, salt_ratio=0.5)"
    defaults = {"sigma": 15.0, "amount": 0.1}
    levels = {"15+10%": {"sigma": 15.0, "amount": 0.1}, "25+30%": {"sigma": 25.0, "amount": 0.3}}

    def validate(self, params):
        s, a = params["sigma"], params["amount"]
        _require(_number(s) and s >= 0, self.name, "sigma", s, "a number >= 0 in 0-255 units, e.g. sigma=15")
        _require(_number(a) and 0 <= a <= 1, self.name, "amount", a, "a fraction in [0, 1], e.g. amount=0.1")

    def _apply(self, clean, rng):
        noisy = add_gaussian(clean, self.params["sigma"], rng)
        return add_salt_pepper(noisy, self.params["amount"], 0.5, rng)


class Poisson(NoiseModel):
    name = "poisson"
    description = "Poisson (shot) noise at a given peak photon count"
    convention = "y = Poisson(peak*x)/peak"
    defaults = {"peak": 16.0}
    main_param = "peak"
    levels = {"64": {"peak": 64.0}, "16": {"peak": 16.0}, "4": {"peak": 4.0}}

    def validate(self, params):
        p = params["peak"]
        _require(_number(p) and p > 0, self.name, "peak", p, "a peak count > 0, e.g. peak=16")

    def _apply(self, clean, rng):
        peak = float(self.params["peak"])
        return (rng.poisson(clean.astype(np.float64) * peak) / peak).astype(np.float32)


def estimate_sigma(noisy: np.ndarray) -> float:
    """Noise standard deviation of ``noisy`` in 0-255 units: scikit-image's ``estimate_sigma`` (wavelet median
    absolute deviation of the finest diagonal subband, Donoho & Johnstone 1994: sigma = median(|HH|) / 0.6745),
    averaged over the channels of a colour image."""
    from skimage.restoration import estimate_sigma as skimage_estimate

    image = np.asarray(noisy, dtype=np.float64)
    axis = -1 if image.ndim == 3 else None
    return float(skimage_estimate(image, channel_axis=axis, average_sigmas=True)) * 255.0


class Real(NoiseModel):
    """Real (captured) noise: the noisy image is a paired dataset's stored capture; nothing is drawn."""

    name = "real"
    description = "real sensor noise: the stored noisy capture of a paired dataset (polyu, pairs:PATH, sidd, nam)"
    convention = ("the noisy image is the paired dataset's stored capture (no synthetic noise drawn), scored "
                  "against its reference; non-blind denoisers get gaussian(sigma = estimate), the estimate from "
                  "skimage.restoration.estimate_sigma (wavelet MAD, Donoho 1994; mean over channels) in 0-255 "
                  "units, stored per row as noise_sigma")
    defaults: dict = {}
    levels: dict = {}
    captured = True

    @classmethod
    def standard_specs(cls):
        return [NoiseSpec.make(cls.name)]

    def _apply(self, clean, rng):
        return clean.copy()  # a captured model draws nothing; the worker reads the stored capture instead

    def estimate(self, noisy):
        sigma = round(estimate_sigma(noisy), 4)
        return NoiseSpec.make("gaussian", {"sigma": sigma}, f"est {sigma:.2f}")


NOISE_MODELS = (Gaussian, Speckle, SaltPepper, Mixed, Poisson)  # the synthetic models


@hookimpl
def denoisebench_register_noise_models(registry):
    for cls in (*NOISE_MODELS, Real):
        registry.add(cls)
