"""The ``bm3d`` denoiser: BM3D (gray) and CBM3D (colour, opponent colour space) from Tampere University's
``bm3d`` package (Mäkinen, Azzari & Foi 2020; Dabov et al. 2007). Free for non-commercial use only.

Noise level (BM3D is non-blind; ``sigma_psd`` is the noise standard deviation in [0, 1] units):

- ``sigma`` parameter given (0-255 units): used as is.
- gaussian(sigma) and mixed(sigma, amount): ``sigma`` of the spec (for mixed, only the Gaussian part is
  modelled; the impulses are not what BM3D is built for).
- any other noise (speckle, salt_pepper, poisson, plugins' models) or no spec: ``sigma`` is estimated from the
  noisy image with ``skimage.restoration.estimate_sigma`` (wavelet median absolute deviation, Donoho 1994;
  averaged over channels). ``default_params`` then returns ``sigma=None``, so result rows record "estimated".

The output is clipped to [0, 1] and returned in the input's dtype; the input is never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from denoisebench import hookimpl
from denoisebench.errors import ParameterError
from denoisebench.images import check_image
from denoisebench.interfaces import Denoiser, NoiseSpec

PROFILES = ("np", "refilter", "vn", "vn_old", "high", "deb")
GAUSSIAN_SIGMA = ("gaussian", "mixed")


def estimate_sigma(noisy: np.ndarray) -> float:
    """Noise standard deviation of ``noisy`` in [0, 1] units (wavelet MAD; mean over colour channels)."""
    from skimage.restoration import estimate_sigma as skimage_estimate

    channel_axis = -1 if noisy.ndim == 3 else None
    return float(skimage_estimate(noisy, channel_axis=channel_axis, average_sigmas=True))


class BM3D(Denoiser):
    name = "bm3d"
    description = ("BM3D / CBM3D collaborative filtering (PyPI bm3d, Tampere Univ.; NON-COMMERCIAL licence); "
                   "sigma from the Gaussian/mixed spec, else estimated (skimage estimate_sigma)")
    defaults = {"sigma": None, "profile": "np"}
    param_grid = {"sigma": [None, 15.0, 25.0, 50.0], "profile": ["np", "refilter"]}
    handles_color = True
    needs_noise_level = True
    requires = ("bm3d",)
    # Measured with the conformance kit: two calls on the same input differ by up to ~6e-7 (the compiled
    # bm4d library is multi-threaded), so bit-for-bit reproducibility is not promised.
    deterministic = False

    def validate(self, params: dict[str, Any]) -> None:
        s = params["sigma"]
        if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 < s <= 255):
            raise ParameterError(f"denoiser 'bm3d': sigma={s!r} is invalid; pass a noise level in (0, 255] "
                                 f"(0-255 units) or sigma=None to take it from the noise spec / estimate it")
        if params["profile"] not in PROFILES:
            raise ParameterError(f"denoiser 'bm3d': profile={params['profile']!r} is invalid; pass one of "
                                 f"{', '.join(PROFILES)}")

    @classmethod
    def default_params(cls, noise: NoiseSpec | None = None) -> dict[str, Any]:
        params = dict(cls.defaults)
        if noise is not None and noise.model in GAUSSIAN_SIGMA and "sigma" in noise.kwargs:
            params["sigma"] = float(noise.kwargs["sigma"])
        return params

    def sigma_psd(self, noisy: np.ndarray, noise: NoiseSpec | None) -> float:
        """The noise standard deviation (in [0, 1] units) BM3D is told, following the module's rules."""
        if self.params["sigma"] is not None:
            return float(self.params["sigma"]) / 255.0
        if noise is not None and noise.model in GAUSSIAN_SIGMA and "sigma" in noise.kwargs:
            return float(noise.kwargs["sigma"]) / 255.0
        return max(estimate_sigma(noisy), 1e-4)

    def denoise(self, noisy: np.ndarray, *, noise: NoiseSpec | None = None,
                rng: np.random.Generator | None = None) -> np.ndarray:
        import bm3d

        x = np.asarray(noisy)
        check_image(x, source="noisy input")
        z = x.astype(np.float64)  # a copy: bm3d never sees (or writes) the caller's array
        sigma = self.sigma_psd(z, noise)
        if z.ndim == 3:
            out = bm3d.bm3d_rgb(z, sigma, profile=self.params["profile"])
        else:
            out = bm3d.bm3d(z, sigma, profile=self.params["profile"])
        out = np.clip(np.asarray(out).reshape(x.shape), 0.0, 1.0)
        return out.astype(x.dtype if x.dtype in (np.float32, np.float64) else np.float32)


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(BM3D)
