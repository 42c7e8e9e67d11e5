"""The frozen run configuration and the parsing of selections (noise specs, denoiser names)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from denoisebench.errors import ConfigError, UnknownNameError
from denoisebench.interfaces import NoiseSpec

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
    max_images: int = 0  # 0: all images of each dataset
    params: tuple[str, ...] = ()  # overrides "denoiser.param=value"
    metric_options: tuple[str, ...] = ()  # "metric.option=value", e.g. "f1.threshold=0.5"
    jobs: int = 1
    executor: str = "local"
    disable_plugins: tuple[str, ...] = ()
    cell_timeout: float = 0.0  # seconds one denoiser call may take; 0: no limit (a stopped cell is re-run on resume)

    #: fields that do not change any stored value (excluded from the identity hash)
    RUNTIME_FIELDS = ("jobs", "executor", "cell_timeout")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"config: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in self.RUNTIME_FIELDS}

    def digest(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def split_list(values: tuple[str, ...] | list[str] | None) -> list[str]:
    """Split comma-separated CLI values, keeping ``key=value`` pieces attached to the spec before them."""
    out: list[str] = []
    for value in values or ():
        for piece in str(value).split(","):
            piece = piece.strip()
            if not piece:
                continue
            if "=" in piece and out and ":" in out[-1] and ":" not in piece:
                out[-1] += "," + piece
            else:
                out.append(piece)
    return out


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_noise(selection: list[str], noise_models) -> list[NoiseSpec]:
    """Turn selection strings into noise specs.

    ``gaussian`` -> all standard levels; ``gaussian:25`` / ``salt_pepper:10%`` -> a named level;
    ``gaussian:sigma=30`` / ``mixed:sigma=15,amount=0.2`` -> explicit parameters (validated).
    Empty selection -> every registered model at its standard levels.
    """
    if not selection:
        return [spec for name in noise_models.names() for spec in noise_models.get(name).standard_specs()]
    specs: list[NoiseSpec] = []
    for item in selection:
        name, _, rest = item.partition(":")
        cls = noise_models.get(name.strip())
        if not rest:
            specs.extend(cls.standard_specs())
        elif "=" not in rest:
            if rest not in cls.levels:
                raise ConfigError(
                    f"noise {item!r}: unknown level {rest!r} for {cls.name}; "
                    f"choose one of {', '.join(cls.levels)} or pass parameters like {cls.name}:"
                    + ",".join(f"{k}={v}" for k, v in cls.defaults.items())
                )
            specs.append(NoiseSpec.make(cls.name, {**cls.defaults, **cls.levels[rest]}, rest))
        else:
            params = {}
            for pair in rest.split(","):
                key, eq, value = pair.partition("=")
                if not eq:
                    raise ConfigError(f"noise {item!r}: {pair!r} is not key=value; pass e.g. gaussian:sigma=30")
                params[key.strip()] = _parse_value(value.strip())
            cls(**params)  # validates: one-line ParameterError
            # 25 and 25.0 are the same sigma: follow the default's type so identical specs get identical keys
            merged = {k: float(v) if isinstance(cls.defaults.get(k), float) and isinstance(v, int)
                      and not isinstance(v, bool) else v for k, v in {**cls.defaults, **params}.items()}
            level = next((lv for lv, p in cls.levels.items() if {**cls.defaults, **p} == merged), "")
            specs.append(NoiseSpec.make(cls.name, merged, level))
    seen, unique = set(), []
    for spec in specs:
        if spec.key not in seen:
            seen.add(spec.key)
            unique.append(spec)
    return unique


def parse_names(selection: list[str], registry) -> list[str]:
    """Validate names against a registry; empty selection -> all names."""
    if not selection:
        return registry.names()
    for name in selection:
        if name not in registry:
            raise UnknownNameError(registry.kind, name, registry.names())
    return list(dict.fromkeys(selection))


def _dotted(item: str, flag: str, usage: str) -> tuple[str, str, Any]:
    """``name.key=value`` -> (name, key, parsed value); anything else is a one-line error naming ``flag``."""
    target, eq, value = item.partition("=")
    name, dot, key = target.partition(".")
    if not eq or not dot:
        raise ConfigError(f"{flag} {item!r}: pass {usage}")
    return name, key, _parse_value(value)


def parse_metric_options(items: tuple[str, ...], metrics, selected: list[str]) -> dict[str, dict[str, Any]]:
    """``f1.threshold=0.5`` -> {"f1": {"threshold": 0.5}}; ``*.threshold=0.5`` sets it on every selected metric
    that takes that option. Each metric is instantiated with its options, so bad values are one-line errors."""
    import inspect

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, key, value = _dotted(item, "--metric-option", "METRIC.OPTION=VALUE, e.g. f1.threshold=0.5")
        names = [n for n in selected if key in inspect.signature(metrics.get(n).__init__).parameters] \
            if name == "*" else [name]
        if name != "*":
            metrics.get(name)  # unknown metric: one line
        for n in names:
            out.setdefault(n, {})[key] = value
    for name, options in out.items():
        try:
            metrics.get(name)(**options)
        except TypeError:
            raise ConfigError(f"--metric-option: metric {name} takes no option {sorted(options)}") from None
    return out


def parse_param_overrides(items: tuple[str, ...], denoisers) -> dict[str, dict[str, Any]]:
    """``median.ksize=5`` -> {"median": {"ksize": 5}}; names and parameters are checked."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, key, value = _dotted(item, "--param", "DENOISER.PARAM=VALUE, e.g. median.ksize=5")
        cls = denoisers.get(name)
        if key not in cls.defaults:
            raise ConfigError(
                f"--param {item!r}: {name} has no parameter {key!r}; valid: {', '.join(cls.defaults) or '(none)'}"
            )
        out.setdefault(name, {})[key] = value
    return out
