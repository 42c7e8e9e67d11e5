"""The selection grammar: names, noise specs, dataset specs, ``--param`` and ``--metric-option`` values.

One parser for every string a user types to choose what runs; every value goes through :func:`parse_value`.
Functions that resolve names take the registries they check against (no plugin is loaded here).

Dataset spec grammar (``NAME[:OPTIONS]``)::

    embedded                      a registered dataset with default options
    set12:root=/data,verify=false options as comma-separated key=value pairs
    folder:/path/to/images        a bare first value goes to the dataset's ``positional_option``
    folder:/path/to/images,gray=true
    /path/to/images   ./imgs      an existing folder (not a registered name) = ``folder`` with that path

When everything after ``NAME:`` is an existing path it is taken whole as the positional value (so paths may
contain commas). Unknown names, options and bad values are one-line errors.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path
from typing import Any

from denoisebench.errors import ConfigError, DatasetError, UnknownNameError, did_you_mean
from denoisebench.interfaces import NoiseSpec

FOLDER = "folder"
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_value(text: str) -> Any:
    """The one value grammar of every selection (``--param``, ``--metric-option``, noise and dataset specs).

    ``true/false/yes/no/on/off`` (any case) -> bool, ``none/null`` -> None, integers and floats -> numbers, text
    starting with ``[``, ``{`` or ``"`` -> JSON (lists, objects, quoted strings); anything else stays a string.
    """
    t = text.strip()
    if t[:1] in ("[", "{", '"'):
        try:
            return json.loads(t)
        except ValueError:
            return t
    low = t.lower()
    if low in _BOOLS:
        return _BOOLS[low]
    if low in ("none", "null"):
        return None
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", t):
        return float(t)
    return t


def parse_dataset_spec(spec: str, registry=None) -> tuple[str, dict[str, Any]]:
    """Split ``spec`` into (dataset name, options). ``registry`` (optional) resolves positional values and
    bare folder paths; without it only ``name:key=value,...`` is understood."""
    spec = (spec or "").strip()
    if not spec:
        raise ConfigError("empty dataset spec; pass a dataset name such as 'embedded' or a folder path")
    known = registry is not None and spec in registry
    if registry is not None and not known and FOLDER in registry and _looks_like_dir(spec):
        return FOLDER, {"path": spec}
    name, sep, rest = spec.partition(":")
    name = name.strip()
    if registry is not None and name not in registry:
        if "/" in spec or "\\" in spec or spec.startswith((".", "~")):
            raise DatasetError(f"dataset {spec!r}: no such folder; pass an existing folder of images or one of: "
                               f"{', '.join(sorted(registry))}")
        raise UnknownNameError("dataset", name, list(registry))
    positional = getattr(registry.get(name), "positional_option", None) if registry is not None else None
    if not rest.strip():
        if sep:
            raise ConfigError(f"dataset spec {spec!r}: nothing after ':'; pass {name}:key=value")
        return name, {}
    if positional and _looks_like_dir(rest):
        return name, {positional: rest}
    options: dict[str, Any] = {}
    for i, item in enumerate(rest.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            if key in options:
                raise ConfigError(f"dataset spec {spec!r}: option {key!r} given twice")
            options[key] = parse_value(value)
        elif i == 0 and positional:
            options[positional] = item.strip()
        else:
            raise ConfigError(f"dataset spec {spec!r}: {item!r} is not key=value; pass e.g. {name}:key=value")
    return name, options


def _looks_like_dir(text: str) -> bool:
    try:
        return Path(text).expanduser().is_dir()
    except (OSError, ValueError):
        return False



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


def parse_noise(selection: list[str], noise_models) -> list[NoiseSpec]:
    """Turn selection strings into noise specs.

    ``gaussian`` -> all standard levels; ``gaussian:25`` / ``salt_pepper:10%`` -> a named level; a bare number
    that is not a level name sets the model's ``main_param`` (``gaussian:30`` = ``gaussian:sigma=30``);
    ``gaussian:sigma=30`` / ``mixed:sigma=15,amount=0.2`` -> explicit parameters (validated).
    Empty selection -> every registered model at its standard levels.
    """
    if not selection:
        return [spec for name in noise_models.names() for spec in noise_models.get(name).standard_specs()]
    specs: list[NoiseSpec] = []
    for item in selection:
        name, colon, rest = item.partition(":")
        cls = noise_models.get(name.strip())
        main = getattr(cls, "main_param", "")
        if colon and not rest.strip():
            raise ConfigError(f"noise {item!r}: nothing after ':'; pass {cls.name} for its standard levels, or a "
                              f"level or parameters after the colon ({cls.name}:{next(iter(cls.levels), '')})")
        if rest and "=" not in rest and rest not in cls.levels and main and \
                isinstance(parse_value(rest), (int, float)) and not isinstance(parse_value(rest), bool):
            rest = f"{main}={rest}"  # gaussian:30 = gaussian:sigma=30 (a bare number sets the main parameter)
        if not rest:
            specs.extend(cls.standard_specs())
        elif "=" not in rest:
            if rest not in cls.levels:
                raise ConfigError(
                    f"noise {item!r}: unknown level {rest!r} for {cls.name}; "
                    f"choose one of {', '.join(cls.levels)}"
                    + (f", a number (its {main})" if main else "")
                    + f" or pass parameters like {cls.name}:" + ",".join(f"{k}={v}" for k, v in cls.defaults.items())
                )
            specs.append(NoiseSpec.make(cls.name, {**cls.defaults, **cls.levels[rest]}, rest))
        else:
            params = {}
            for pair in rest.split(","):
                key, eq, value = pair.partition("=")
                if not eq:
                    raise ConfigError(f"noise {item!r}: {pair!r} is not key=value; pass e.g. gaussian:sigma=30")
                if key.strip() in params:
                    raise ConfigError(f"noise {item!r}: {key.strip()} is given twice; pass each parameter once")
                params[key.strip()] = parse_value(value.strip())
                _finite(item, key.strip(), params[key.strip()], cls, value.strip())
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


def _finite(item: str, key: str, value: Any, cls, text: str) -> None:
    """Refuse a noise parameter that reads as an infinite or NaN number (``Infinity``, ``1e400``, ``nan``)."""
    if isinstance(value, bool):
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        return
    if not math.isfinite(number):
        example = cls.defaults.get(key, 25)
        raise ConfigError(f"noise {item!r}: {key}={text} is not a finite number; pass a finite value, e.g. "
                          f"{cls.name}:{key}={example}")


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
    return name, key, parse_value(value)


def parse_metric_options(items: tuple[str, ...], metrics, selected: list[str]) -> dict[str, dict[str, Any]]:
    """``f1.threshold=0.5`` -> {"f1": {"threshold": 0.5}}; ``*.threshold=0.5`` sets it on every selected metric
    that takes that option. Each metric is instantiated with its options, so bad values are one-line errors."""
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


def split_values(text: str) -> list[str]:
    """Split a ``--param`` value list at top-level commas: ``3,5,7`` -> three values, while commas inside JSON
    brackets or quotes do not split (``[3,5]`` is one list value, ``[3,5],[7,9]`` two)."""
    pieces, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if quote:
            quote = ch != '"' or text[i - 1] == "\\"
        elif ch == '"':
            quote = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


def parse_param_values(items: tuple[str, ...] | list[str], denoisers) -> dict[str, dict[str, list[Any]]]:
    """``median.size=3,5,7`` -> {"median": {"size": [3, 5, 7]}}: the values each parameter takes (one value is a
    one-element list; a list of several is swept, one cell per value). Each value follows :func:`parse_value`
    (a JSON list ``[3,5]`` stays one value). A later item for the same parameter replaces an earlier one.
    Unknown denoisers and parameters, empty and repeated values are one-line errors."""
    out: dict[str, dict[str, list[Any]]] = {}
    usage = "DENOISER.PARAM=VALUE[,VALUE...], e.g. median.size=5 or median.size=3,5,7"
    for item in items:
        target, eq, text = item.partition("=")
        name, dot, key = target.partition(".")
        if not eq or not dot:
            raise ConfigError(f"--param {item!r}: pass {usage}")
        name, key = name.strip(), key.strip()
        cls = denoisers.get(name)
        if key not in cls.defaults:
            close = did_you_mean(key, cls.defaults)
            raise ConfigError(
                f"--param {item!r}: {name} has no parameter {key!r}; " + (f"did you mean {close}? " if close else "")
                + f"valid: {', '.join(cls.defaults) or '(none)'}"
            )
        pieces = split_values(text)
        if any(not piece.strip() for piece in pieces):
            raise ConfigError(f"--param {item!r}: an empty value in the list; pass {usage}")
        values: list[Any] = []
        for piece in pieces:
            value = parse_value(piece)
            if any(_same(value, v) for v in values):
                raise ConfigError(f"--param {item!r}: value {piece.strip()!r} given twice; list each value once")
            values.append(value)
        out.setdefault(name, {})[key] = values
    return out


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def parse_param_overrides(items: tuple[str, ...], denoisers) -> dict[str, dict[str, Any]]:
    """``median.size=5`` -> {"median": {"size": 5}}: single values only (names and parameters are checked). A
    list of values (``median.size=3,5``) is a sweep, planned by :func:`parse_param_values`; here it is a
    one-line error."""
    out: dict[str, dict[str, Any]] = {}
    for name, params in parse_param_values(items, denoisers).items():
        for key, values in params.items():
            if len(values) > 1:
                raise ConfigError(f"--param {name}.{key}: {len(values)} values given where one is expected")
            out.setdefault(name, {})[key] = values[0]
    return out


def parse_sweep(selection: tuple[str, ...] | list[str] | str | bool, selected: list[str], denoisers) -> list[str]:
    """The denoisers whose ``param_grid`` a run sweeps: ``*`` (bare ``--sweep``; ``True`` from Python) = every
    selected one, else the names given (each must be selected; a string may list several, comma-separated).
    Unknown names are one-line errors."""
    if selection is True:
        selection = ("*",)
    names = split_list((selection,) if isinstance(selection, str) else selection or ())
    if not names:
        return []
    if "*" in names:
        return list(selected)
    for name in names:
        denoisers.get(name)  # unknown: one line with "did you mean"
        if name not in selected:
            raise ConfigError(f"--sweep {name}: {name} is not among the selected denoisers "
                              f"({', '.join(selected)}); add it to --denoisers")
    return [n for n in selected if n in names]


def format_dataset_spec(name: str, options: dict[str, Any] | None = None) -> str:
    """The spec string for (name, options), skipping None values: ``set12:root=/x,verify=false``."""
    items = [f"{k}={_fmt(v)}" for k, v in (options or {}).items() if v is not None]
    return f"{name}:{','.join(items)}" if items else name


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
