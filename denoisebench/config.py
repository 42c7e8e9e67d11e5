"""The frozen run configuration (what defines a run's results). Parsing selections lives in
:mod:`denoisebench.selection`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from denoisebench.errors import ConfigError

#: the pseudo-denoiser whose "output" is the noisy input: the "before" of every comparison
NOISY = "noisy"


@dataclass(frozen=True)
class Config:
    """Everything that defines a run's results. ``jobs``, ``executor`` and the output path do not change results."""

    datasets: tuple[str, ...] = ("embedded",)
    denoisers: tuple[str, ...] = ()  # empty: every registered denoiser
    noise: tuple[str, ...] = ()  # empty: every registered noise model at its standard levels
    metrics: tuple[str, ...] = ()  # empty: every registered metric
    seed: int = 0
    repetitions: int = 1
    clip: bool = True
    #: outputs scored as they are ("none") or rounded to 8-bit levels first ("uint8"); see denoisebench.protocols
    quantize: str = "none"
    #: the named preset the options came from (denoisebench.protocols); recorded and reported
    protocol: str = "default"
    max_images: int = 0  # 0: all images of each dataset
    params: tuple[str, ...] = ()  # overrides "denoiser.param=value" ("denoiser.param=v1,v2": one cell per value)
    #: denoisers whose param_grid is swept (Cartesian product); "*": every selected denoiser
    sweep: tuple[str, ...] = ()
    metric_options: tuple[str, ...] = ()  # "metric.option=value", e.g. "f1.threshold=0.5"
    jobs: int = 1
    executor: str = "local"
    disable_plugins: tuple[str, ...] = ()
    cell_timeout: float = 0.0  # seconds one denoiser call may take; 0: no limit (a stopped cell is re-run on resume)

    #: fields that do not change any stored value (excluded from the identity hash)
    RUNTIME_FIELDS = ("jobs", "executor", "cell_timeout")
    #: fields added after the first release, with the value every earlier run had
    LATER_FIELDS = {"quantize": "none", "protocol": "default", "sweep": []}  # as to_dict() writes them

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"config: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")
        for name, value in data.items():
            _check_type(name, value, getattr(cls, name))
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def identity(self) -> dict[str, Any]:
        """The fields that define the results; fields at their default before they existed are left out, so a
        run made before a field was added keeps its identity (and its run directory)."""
        out = {k: v for k, v in self.to_dict().items() if k not in self.RUNTIME_FIELDS}
        for name, default in self.LATER_FIELDS.items():
            if out.get(name) == default:
                del out[name]
        return out

    def digest(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def _check_type(name: str, value: Any, default: Any) -> None:
    """A stored or hand-written config value of the wrong type is one line (``seed: "7"``, ``datasets: "set12"``),
    never a run of something else (a string's letters taken as dataset names)."""
    if isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        want = "a list of strings"
    elif isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, want = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise ConfigError(f"config: {name} is {type(value).__name__} {value!r}; it must be {want}")
