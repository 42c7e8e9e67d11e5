"""Build a :class:`~denoisebench.interfaces.Dataset` from a command-line spec string.

Grammar (``NAME[:OPTIONS]``)::

    embedded                      a registered dataset with default options
    set12:root=/data,verify=false options as comma-separated key=value pairs
    folder:/path/to/images        a bare first value goes to the dataset's ``positional_option``
    folder:/path/to/images,gray=true
    /path/to/images   ./imgs      an existing folder (not a registered name) = ``folder`` with that path

Values ``true/false/yes/no/on/off`` become booleans, ``none/null`` None, integers and floats numbers; anything
else stays a string. When everything after ``NAME:`` is an existing path it is taken whole as the positional
value (so paths may contain commas). Unknown names, options and bad values are one-line errors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from denoisebench.errors import ConfigError, DatasetError, UnknownNameError
from denoisebench.interfaces import Dataset

FOLDER = "folder"
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_value(text: str) -> Any:
    """Turn an option value from a spec string into bool / None / int / float / str."""
    t = text.strip()
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


def dataset_from_spec(plugins, spec: str, **options: Any) -> Dataset:
    """Instantiate the dataset that ``spec`` names; keyword ``options`` override those in the spec.

    ``plugins`` is a :class:`denoisebench.pluginmanager.Plugins` (or anything with a ``.datasets`` registry).
    Option errors are raised by the dataset class as one-line :class:`ParameterError`.
    """
    registry = plugins.datasets
    name, parsed = parse_dataset_spec(spec, registry)
    return registry.get(name)(**{**parsed, **options})


def format_dataset_spec(name: str, options: dict[str, Any] | None = None) -> str:
    """The spec string for (name, options), skipping None values: ``set12:root=/x,verify=false``."""
    items = [f"{k}={_fmt(v)}" for k, v in (options or {}).items() if v is not None]
    return f"{name}:{','.join(items)}" if items else name


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
