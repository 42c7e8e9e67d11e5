"""Named run presets (``denoisebench run --quick``).

``quick`` is the CI profile: 4 embedded images centre-cropped to 128×128, one mid level per built-in noise type,
every registered denoiser and metric, seed 0. Measured: 120 cells (5 classical denoisers + the noisy row × 4 images
× 5 noise settings) in about 12 s on 2 shared cores, most of it importing torch for LPIPS.
Explicit options given with ``--quick`` (``--denoisers``, ``--param``, ``--seed``, ...) override the preset.
"""

from __future__ import annotations

from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "datasets": ("embedded:crop=128",),
        "max_images": 4,
        "noise": ("gaussian:25", "speckle:0.04", "salt_pepper:10%", "mixed:15+10%", "poisson:16"),
        "seed": 0,
        "repetitions": 1,
    },
}


def apply_profile(name: str, values: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """``values`` (Config fields) with the profile's settings for every field not in ``explicit``."""
    preset = PROFILES[name]
    return {**values, **{k: v for k, v in preset.items() if k not in explicit}}
