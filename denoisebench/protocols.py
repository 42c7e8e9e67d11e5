"""Protocol presets: every option that published tables depend on, set, recorded and reported as one name.

A preset is data (the table below), not a code path: it only fills :class:`~denoisebench.config.Config` fields.
Options the user passes explicitly override the preset, and the run records which ones did
(:func:`describe` states it in the conventions and the report header).

``kair`` follows the test scripts of DnCNN / FFDNet / DRUNet / SwinIR (KAIR, ``main_test_*.py``): Gaussian noise
added to the float image and *not* clipped; the output clipped to [0, 1] and rounded to uint8 levels before PSNR
and SSIM; PSNR with peak 255 on uint8 values (= data range 1 on values k/255); no border crop; dataset value =
mean of per-image values; colour PSNR over all RGB channels.
"""

from __future__ import annotations

from typing import Any

from denoisebench.errors import ConfigError

#: protocol -> (Config field -> value, one-line description)
PROTOCOLS: dict[str, tuple[dict[str, Any], str]] = {
    "default": ({"clip": True, "quantize": "none"},
                "noisy images clipped to [0, 1]; float outputs scored (clipped to [0, 1])"),
    "kair": ({"clip": False, "quantize": "uint8"},
             "KAIR test scripts: noisy images not clipped; outputs clipped to [0, 1] and rounded to uint8 levels "
             "before scoring (PSNR peak 255 on uint8 = data range 1); no border crop; mean of per-image values"),
}
QUANTIZE = ("none", "uint8")


def preset(name: str) -> dict[str, Any]:
    if name not in PROTOCOLS:
        raise ConfigError(f"--protocol {name!r}: unknown protocol; choose one of {', '.join(PROTOCOLS)}")
    return dict(PROTOCOLS[name][0])


def apply_protocol(name: str, values: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """``values`` (Config fields) with the protocol's settings for every field not in ``explicit``."""
    return {**values, **{k: v for k, v in preset(name).items() if k not in explicit}, "protocol": name}


def overrides(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``values`` that differ from protocol ``name``'s preset (the user's explicit overrides)."""
    return {k: values[k] for k, v in preset(name).items() if k in values and values[k] != v}


def describe(name: str, values: dict[str, Any]) -> str:
    """One line for the conventions and the report header: the protocol, what it means, and any override."""
    preset(name)
    text = f"{name} ({PROTOCOLS[name][1]})"
    changed = overrides(name, values)
    if changed:
        text += "; overridden: " + ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))
    return text
