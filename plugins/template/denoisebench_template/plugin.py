"""One denoiser, registered through the ``denoisebench_register_denoisers`` hook.

The contract (checked by ``denoisebench check template`` and by ``tests/test_conformance.py``):
``denoise(noisy, *, noise=None, rng=None)`` gets a float32 image in [0, 1], H×W or H×W×3, and returns an array
of the same shape and dtype, in [0, 1], without modifying ``noisy``.
"""

from __future__ import annotations

import numpy as np

from denoisebench import Denoiser, NoiseSpec, ParameterError, hookimpl


class NLMeans(Denoiser):
    # Unique, stable, lower-case identifier: what users type in --denoisers and what the tables show.
    name = "template_nlmeans"
    description = "non-local means (skimage.restoration.denoise_nl_means, fast mode), h = strength * sigma"
    # Every parameter with its default; `--param template_nlmeans.strength=0.6` overrides one.
    defaults = {"patch_size": 5, "patch_distance": 6, "strength": 0.8}
    # Values worth comparing: `denoisebench run --sweep` runs every combination (one table row each);
    # the conformance kit instantiates every combination.
    param_grid = {"patch_size": [3, 5, 7], "strength": [0.6, 0.8, 1.0]}
    handles_color = True       # False: the harness passes colour images one channel at a time
    needs_noise_level = True   # True: `noise` (a NoiseSpec) is passed to denoise()
    requires = ("skimage", "pywt")  # importable modules needed at run time (cells are 'unavailable' without them)
    deterministic = True       # same input -> same output (checked)

    def validate(self, params):
        """Reject bad values with a one-line ParameterError naming the value and what to pass."""
        p = params["patch_size"]
        if isinstance(p, bool) or not isinstance(p, int) or p < 1:
            raise ParameterError(f"denoiser {self.name!r}: patch_size={p!r} is invalid; pass an integer >= 1")
        d = params["patch_distance"]
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ParameterError(f"denoiser {self.name!r}: patch_distance={d!r} is invalid; pass an integer >= 1")
        s = params["strength"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not s > 0:
            raise ParameterError(f"denoiser {self.name!r}: strength={s!r} is invalid; pass a number > 0")

    def noise_sigma(self, noisy: np.ndarray, noise: NoiseSpec | None) -> float:
        """Noise std in [0, 1] units: the Gaussian/mixed spec's sigma, else estimated from the image."""
        if noise is not None and noise.model in ("gaussian", "mixed") and "sigma" in noise.kwargs:
            return float(noise.kwargs["sigma"]) / 255.0
        from skimage.restoration import estimate_sigma

        return float(estimate_sigma(noisy, channel_axis=-1 if noisy.ndim == 3 else None, average_sigmas=True))

    def denoise(self, noisy, *, noise=None, rng=None):
        from skimage.restoration import denoise_nl_means  # import heavy things lazily, not at plugin import

        x = np.asarray(noisy)
        sigma = max(self.noise_sigma(x, noise), 1e-4)
        out = denoise_nl_means(
            x.astype(np.float64), h=self.params["strength"] * sigma, sigma=sigma, fast_mode=True,
            patch_size=self.params["patch_size"], patch_distance=self.params["patch_distance"],
            channel_axis=-1 if x.ndim == 3 else None,
        )
        return np.clip(out, 0.0, 1.0).astype(x.dtype)


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(NLMeans)
