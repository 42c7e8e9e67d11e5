"""The denoisers ``dncnn_s``, ``dncnn_b``, ``cdncnn_b`` and ``ffdnet``. torch and the weights load on first use.

Every failure to get a network (no torch, no h5py for the first conversion, a file with the wrong sha256, a
truncated or non-HDF5 file, layers that do not form the expected network, a failed download) is an
:class:`UnavailableError` with one line, so the harness records the cell as ``unavailable`` with the reason.

Noise level (non-blind models; ``sigma`` in 0-255 units):

- ``dncnn_s``: the ``sigma`` parameter if given, else the sigma of a gaussian or mixed noise spec; the network
  trained for exactly that sigma is used. DnCNN-S has networks for sigma 15, 25 and 50 only: any other sigma,
  and noise without a Gaussian sigma (speckle, salt_pepper, poisson), is ``unavailable`` (never the nearest
  network silently).
- ``ffdnet``: the noise-level map is
  - ``sigma`` parameter given: uniform ``sigma/255``;
  - gaussian(sigma): uniform ``sigma/255``; mixed(sigma, amount): uniform ``sigma/255`` (the Gaussian part;
    impulses are outside FFDNet's noise model, as for BM3D);
  - speckle(var) (y = x + x n, n ~ N(0, var)): the true signal-dependent standard deviation with the clean
    intensity replaced by a 7x7 local mean of the noisy image: ``sqrt(var) * mean7(y)``;
  - poisson(peak) (y = Poisson(peak x)/peak): likewise ``sqrt(mean7(y) / peak)``;
  - salt_pepper and any other model: ``unavailable`` (impulses have no noise standard deviation to give).
  For colour images the map is the mean over channels (FFDNet's colour map has one channel). The map is not
  clipped to FFDNet's training range (sigma 0-75).
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

import numpy as np

from denoisebench.errors import ParameterError, UnavailableError
from denoisebench.interfaces import Denoiser, NoiseSpec

DNCNN_S_SIGMAS = (15, 25, 50)
GAUSSIAN_SIGMA = ("gaussian", "mixed")
COMMON = {"weights": "official", "device": "auto", "tile": 1024}


def spec_sigma(noise: NoiseSpec | None) -> float | None:
    if noise is not None and noise.model in GAUSSIAN_SIGMA and "sigma" in noise.kwargs:
        return float(noise.kwargs["sigma"])
    return None


def _local_mean(image: np.ndarray, size: int = 7) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    g = np.clip(image, 0.0, 1.0).astype(np.float32)
    if g.ndim == 3:
        g = g.mean(axis=2)
    return uniform_filter(g, size=size, mode="reflect")


class _Reference(Denoiser):
    """Common machinery: parameters, device, one cached network per weight file."""

    defaults: ClassVar[dict[str, Any]] = dict(COMMON)
    requires = ("torch", "safetensors")
    deterministic = True
    #: official network key(s) -> architecture kind(s) for user files
    user_kinds: ClassVar[tuple[str, ...]] = ()

    def validate(self, params):
        if params["device"] not in ("auto", "cpu", "cuda"):
            raise ParameterError(f"denoiser {self.name!r}: device={params['device']!r} is invalid; pass auto, cpu or cuda")
        if isinstance(params["tile"], bool) or not isinstance(params["tile"], int) or params["tile"] < 64:
            raise ParameterError(f"denoiser {self.name!r}: tile={params['tile']!r} is invalid; pass an integer >= 64")
        if not isinstance(params["weights"], str) or not params["weights"]:
            raise ParameterError(f"denoiser {self.name!r}: weights={params['weights']!r} is invalid; pass 'official' "
                                 f"or the path of a MatConvNet .mat file")
        if "sigma" in params:
            s = params["sigma"]
            if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 < s <= 255):
                raise ParameterError(f"denoiser {self.name!r}: sigma={s!r} is invalid; pass a noise level in (0, 255] "
                                     f"(0-255 units) or sigma=None to take it from the noise spec")
        self._nets: dict[str, Any] = {}
        self._device = None

    # -- loading

    def _device_for(self):
        import torch

        want = self.params["device"]
        if want == "cuda" and not torch.cuda.is_available():
            raise UnavailableError(f"{self.name}: device=cuda but torch sees no CUDA device; pass device=cpu or auto")
        if self._device is None:
            self._device = torch.device("cuda" if want in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
        return self._device

    def network(self, key: str):
        """(model, arch) for the official network ``key`` or, with ``weights=<path>``, the user's file."""
        slot = key if self.params["weights"] == "official" else "user"
        if slot not in self._nets:
            try:
                self._nets[slot] = self._load(key)
            except UnavailableError as exc:
                self._nets[slot] = exc
        got = self._nets[slot]
        if isinstance(got, Exception):
            raise got
        return got

    def _load(self, key: str):
        if importlib.util.find_spec("torch") is None:
            raise UnavailableError(f"{self.name} needs torch; pip install torch==2.13.0 (the CPU wheel)")
        from denoisebench_reference import weights
        from denoisebench_reference.networks import build

        if self.params["weights"] == "official":
            arch, state = weights.network(key)
        else:
            arch, state = weights.user_network(self.params["weights"], self.user_kinds)
        try:
            model = build(arch, state)
        except Exception as exc:  # noqa: BLE001 - a state dict that does not fit is one line
            raise UnavailableError(f"{self.name}: the converted network does not load ({type(exc).__name__}); "
                                   f"delete {weights.cache_dir() / 'converted'} and retry") from None
        return model.to(self._device_for()), arch

    def _run(self, key: str, image: np.ndarray, sigma_map: np.ndarray | None = None) -> np.ndarray:
        """H x W x C float32 -> H x W x C float32 in [0, 1] through the network ``key``."""
        from denoisebench_reference.inference import run

        model, arch = self.network(key)
        if image.shape[2] != arch["channels"]:
            raise UnavailableError(f"{self.name}: the network in weights={self.params['weights']} takes "
                                   f"{arch['channels']}-channel images, this image has {image.shape[2]}")
        out = run(model, arch, image, sigma_map, self._device_for(), tile=self.params["tile"])
        return np.clip(out, 0.0, 1.0)

    @staticmethod
    def _as_float(noisy) -> tuple[np.ndarray, np.dtype]:
        x = np.asarray(noisy)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        return np.array(x, dtype=np.float32, copy=True), dtype

    def close(self):
        self._nets = {}


class _GrayDnCNN(_Reference):
    handles_color = False

    def _key(self, noise: NoiseSpec | None) -> str:
        raise NotImplementedError

    def denoise(self, noisy, *, noise=None, rng=None):
        x, dtype = self._as_float(noisy)
        key = self._key(noise)
        planes = x[..., None] if x.ndim == 2 else x
        out = np.stack([self._run(key, planes[..., c:c + 1])[..., 0] for c in range(planes.shape[2])], axis=-1)
        return out.reshape(x.shape).astype(dtype, copy=False)


class DnCNNS(_GrayDnCNN):
    name = "dncnn_s"
    description = ("DnCNN-S (Zhang et al. 2017), official MatConvNet weights: gray, one network per Gaussian "
                   "sigma 15/25/50 (non-blind)")
    defaults = {"sigma": None, **COMMON}
    param_grid = {"sigma": [None, 15.0, 25.0, 50.0]}
    needs_noise_level = True
    user_kinds = ("dncnn_s",)
    conformance_expected_failures = {
        "noise_types": "DnCNN-S has networks for Gaussian sigma 15, 25, 50 only: speckle, salt-and-pepper and "
                       "Poisson cells are 'unavailable' (by design, not the nearest network)"}

    @classmethod
    def default_params(cls, noise=None):
        return {**cls.defaults, "sigma": spec_sigma(noise)}

    def _key(self, noise):
        if self.params["weights"] != "official":
            return "user"
        sigma = self.params["sigma"] if self.params["sigma"] is not None else spec_sigma(noise)
        have = ", ".join(map(str, DNCNN_S_SIGMAS))
        if sigma is None:
            what = "no noise spec" if noise is None else f"noise {noise.label} has no Gaussian sigma"
            raise UnavailableError(f"DnCNN-S has networks for sigma {have}; {what}: pass dncnn_s.sigma=15, 25 or 50, "
                                   f"or use dncnn_b (blind)")
        for s in DNCNN_S_SIGMAS:
            if abs(float(sigma) - s) < 1e-9:
                return f"dncnn_s{s}"
        raise UnavailableError(f"DnCNN-S has networks for sigma {have}; this cell has sigma {sigma:g} "
                               f"(use dncnn_b, the blind model, or ffdnet)")


class DnCNNB(_GrayDnCNN):
    name = "dncnn_b"
    description = "DnCNN-B (Zhang et al. 2017), official MatConvNet weights: gray, blind (trained on sigma 0-55)"
    user_kinds = ("dncnn_b",)

    def _key(self, noise):
        return "dncnn_b"


#: an orthonormal basis of the chroma plane (the directions orthogonal to R = G = B)
_CHROMA = (np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.array([[np.sqrt(2.0)], [np.sqrt(6.0)]])).astype(np.float32)
GRAY_MODES = ("decorrelate", "replicate")


def mad_sigma(image: np.ndarray) -> float:
    """Noise standard deviation (0-1 units) of a gray image: median absolute Haar diagonal detail / 0.6745
    (Donoho's wavelet MAD estimator, finest scale)."""
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    x = np.asarray(image[:h, :w], np.float64)
    d = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    return float(np.median(np.abs(d)) / 0.6745) if d.size else 0.0


def gray_as_colour(gray: np.ndarray, seed: int = 0) -> np.ndarray:
    """H x W -> H x W x 3 for a colour network trained on independent noise per channel.

    Copying a noisy gray image y = x + n to R, G and B gives the same noise in all three channels: no noise in
    the chroma directions, sqrt(3) times the noise along R = G = B, an input CDnCNN-B never saw in training
    (it removes almost none of that noise). Adding independent synthetic noise of std sqrt(3) * sigma (sigma:
    :func:`mad_sigma`) in the two chroma directions makes the per-channel noise i.i.d. with std sqrt(3) * sigma,
    as in training; the added noise lies wholly in the chroma plane, so the channel mean of the input is still
    y, and the channel mean of the output is the gray estimate. Deterministic (fixed ``seed``)."""
    g = np.asarray(gray, np.float32)
    ab = np.random.default_rng(seed).standard_normal(g.shape + (2,), dtype=np.float32)
    ab *= np.float32(np.sqrt(3.0) * mad_sigma(g))
    return g[..., None] + ab @ _CHROMA


class CDnCNNB(_Reference):
    name = "cdncnn_b"
    description = ("CDnCNN-B (Zhang et al. 2017), official MatConvNet weights: colour (RGB), blind (sigma 0-55); "
                   "gray input: given as R = G = B plus synthetic chroma noise (gray=decorrelate, see README), "
                   "output averaged; for gray images dncnn_b is the model trained for them")
    handles_color = True
    user_kinds = ("cdncnn_b",)
    defaults = {**COMMON, "gray": "decorrelate"}

    def validate(self, params):
        super().validate(params)
        if params["gray"] not in GRAY_MODES:
            raise ParameterError(f"denoiser {self.name!r}: gray={params['gray']!r} is invalid; pass decorrelate "
                                 f"(default) or replicate")

    def denoise(self, noisy, *, noise=None, rng=None):
        x, dtype = self._as_float(noisy)
        if x.ndim == 2:
            rgb = gray_as_colour(x) if self.params["gray"] == "decorrelate" else np.repeat(x[..., None], 3, axis=2)
            out = self._run("cdncnn_b", rgb).mean(axis=2)
        else:
            out = self._run("cdncnn_b", x)
        return out.astype(dtype, copy=False)


class FFDNet(_Reference):
    name = "ffdnet"
    description = ("FFDNet (Zhang et al. 2018), official MatConvNet weights: gray and colour networks, non-blind "
                   "(noise-level map from the noise spec)")
    defaults = {"sigma": None, **COMMON}
    param_grid = {"sigma": [None, 15.0, 25.0, 50.0]}
    handles_color = True
    needs_noise_level = True
    user_kinds = ("ffdnet_gray", "ffdnet_color")
    conformance_expected_failures = {
        "noise_types": "salt-and-pepper noise has no noise level to give FFDNet's map: those cells are "
                       "'unavailable' (by design)"}

    @classmethod
    def default_params(cls, noise=None):
        return {**cls.defaults, "sigma": spec_sigma(noise)}

    def noise_map(self, noisy: np.ndarray, noise: NoiseSpec | None) -> np.ndarray:
        """The H x W noise standard deviation map (in [0, 1] units) FFDNet is given, following the module's rules."""
        shape = noisy.shape[:2]
        if self.params["sigma"] is not None:
            return np.full(shape, self.params["sigma"] / 255.0, np.float32)
        if noise is None:
            raise UnavailableError("ffdnet is non-blind: pass a noise spec or ffdnet.sigma=<noise level, 0-255>")
        sigma = spec_sigma(noise)
        if sigma is not None:
            return np.full(shape, sigma / 255.0, np.float32)
        kw = noise.kwargs
        if noise.model == "speckle" and "var" in kw:
            return (np.sqrt(float(kw["var"])) * _local_mean(noisy)).astype(np.float32)
        if noise.model == "poisson" and "peak" in kw:
            return np.sqrt(_local_mean(noisy) / float(kw["peak"])).astype(np.float32)
        raise UnavailableError(f"ffdnet: noise {noise.label} has no noise standard deviation for FFDNet's noise-level "
                               f"map (it models Gaussian noise); pass ffdnet.sigma=<level> to run it with a uniform map")

    def denoise(self, noisy, *, noise=None, rng=None):
        x, dtype = self._as_float(noisy)
        sigma_map = self.noise_map(x, noise)
        if x.ndim == 2:
            out = self._run("ffdnet_gray", x[..., None], sigma_map)[..., 0]
        else:
            out = self._run("ffdnet_color", x, sigma_map)
        return out.astype(dtype, copy=False)
