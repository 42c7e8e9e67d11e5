"""Metric metadata stored with a run: what every table, ranking, best-marking and drift check needs to know about
a metric (direction, label, unit, format, range, order, convention), so that nothing downstream keeps a list of
metric names and a plugin's metric is treated exactly like a built-in.

The run's meta ``metrics`` maps each metric name to :meth:`denoisebench.interfaces.Metric.meta` (plus the
pseudo-metric ``time``, the denoiser's wall time). A run made before this was stored falls back to the installed
plugins (:func:`resolve` says so in one line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: the denoiser's wall time per image, recorded by the runner for every cell
TIME: dict[str, Any] = {"name": "time", "higher_is_better": False, "label": "time/image", "unit": "s",
                        "format": "{:.4f}", "convention": "wall time of the denoiser call for one image",
                        "range": [0.0, None], "order": 90, "summary": True}
#: the noise level estimated from a real noisy capture (what non-blind denoisers are told), stored in every row
#: of a captured-noise (``real``) task; bookkeeping, not a quality metric (summary tables skip it)
NOISE_SIGMA: dict[str, Any] = {"name": "noise_sigma", "higher_is_better": False, "label": "σ est.", "unit": "",
                               "format": "{:.2f}", "convention": "noise standard deviation (0-255 units) estimated "
                               "from the noisy capture by the captured noise model's estimator",
                               "range": [0.0, None], "order": 95, "summary": False}
#: what a metric without metadata (unknown to the installed plugins) is assumed to be
UNKNOWN: dict[str, Any] = {"higher_is_better": True, "unit": "", "format": "{:.4f}", "convention": "",
                           "range": [None, None], "order": 80, "summary": True}


def describe(registry, names: Iterable[str], conventions: Mapping[str, str] | None = None) -> dict[str, dict]:
    """Metadata of the metrics ``names`` from ``registry`` (a metrics Registry), with the convention text as
    configured (``conventions``: name -> text, e.g. with options), plus ``time``."""
    out: dict[str, dict] = {}
    for name in names:
        meta = dict(registry.get(name).meta())
        if conventions and name in conventions:
            meta["convention"] = conventions[name]
        out[name] = meta
    out["time"] = dict(TIME)
    return out


def resolve(stored: Mapping[str, dict] | None, names: Iterable[str], registry=None) -> tuple[dict[str, dict], str]:
    """The metadata of ``names`` for reading a run: the stored ``metrics`` meta; else (a run made before it was
    stored) the installed plugins' ``registry``; a name neither knows gets :data:`UNKNOWN`. Returns (metadata,
    note), the note one line saying where the metadata came from when it is not the run's own ('' otherwise)."""
    names = list(dict.fromkeys(names))
    out = {k: dict(v) for k, v in (stored or {}).items()}
    note = ""
    missing = [n for n in names if n not in out and n != "time"]
    if missing and registry is not None:
        known = [n for n in missing if n in registry]
        out.update({n: dict(registry.get(n).meta()) for n in known})
        if known:
            note = (f"metric metadata (direction, label, format) of {', '.join(known)} taken from the installed "
                    "plugins: this run did not store it")
    unknown = [n for n in missing if n not in out]
    for n in unknown:
        out[n] = {**UNKNOWN, "name": n, "label": n}
    if unknown:
        note = (note + "; " if note else "") + (f"no metadata for {', '.join(unknown)}: assumed higher is better "
                                                "(no installed plugin provides it)")
    out.setdefault("time", dict(TIME))
    return out, note


def ordered(meta: Mapping[str, dict], names: Iterable[str]) -> list[str]:
    """``names`` in table order: by each metric's declared ``order``, then by name."""
    return sorted(dict.fromkeys(names), key=lambda n: (int(meta.get(n, UNKNOWN).get("order", 80)), n))


def higher_is_better(meta: Mapping[str, dict], name: str) -> bool:
    return bool(meta.get(name, UNKNOWN).get("higher_is_better", True))


def label(meta: Mapping[str, dict], name: str, unit: bool = True) -> str:
    m = meta.get(name, {})
    text = m.get("label") or name
    return f"{text} ({m['unit']})" if unit and m.get("unit") else text


def value_format(meta: Mapping[str, dict], name: str) -> str:
    return meta.get(name, UNKNOWN).get("format") or "{:.4f}"


def value_range(meta: Mapping[str, dict], name: str) -> tuple[float | None, float | None]:
    low, high = (list(meta.get(name, UNKNOWN).get("range") or [None, None]) + [None, None])[:2]
    return low, high


def summary_metrics(meta: Mapping[str, dict], names: Iterable[str]) -> list[str]:
    """The metrics among ``names`` that summary tables show (not bookkeeping counts, not ``time``), in order."""
    return [n for n in ordered(meta, names) if n != "time" and meta.get(n, UNKNOWN).get("summary", True)]
