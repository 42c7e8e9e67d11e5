"""Baselines: the per-cell metric values of a run as a small, sorted, reviewable text file (JSON lines).

The file is stable byte for byte: the same stored values give the same file, whatever the cell order, worker count
or date of the run (no timings, dates, hostnames or versions in it). Layout, one JSON object per line, keys sorted::

    {"denoisebench_baseline": 1}
    {"header": "config", "value": {...}}          the run's config, with the resolved selection pinned
    {"header": "conventions", "value": {...}}     noise/metric/clip conventions the numbers follow
    {"header": "metrics", "value": {"psnr": {"higher_is_better": true}, ...}}
    {"header": "plan", "value": {...}}            datasets (spec -> label), denoisers, noise, metrics
    {"cell": ..., "metrics": {...}, "status": "ok"} one line per cell, sorted by its key

Metric values are written with Python's shortest round-trip float repr, so reading them back gives the same bits.
Wall times are never exported (they vary by nature). Non-finite values are written as the strings "nan", "inf",
"-inf"; a metric that was not computed is ``null``.

A *side* of a comparison (:func:`load_side`) is either such a file or a run directory read through its store.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from denoisebench.errors import DenoiseBenchError
from denoisebench.interfaces import params_key

FORMAT = "denoisebench_baseline"
VERSION = 1
#: the fields that identify a cell (matched between baseline and candidate)
KEY_FIELDS = ("dataset", "image_id", "noise_key", "clip", "denoiser", "params", "repetition", "seed")
#: never compared: wall time varies by nature
EXCLUDED_METRICS = frozenset({"time", "seconds"})


class CompareError(DenoiseBenchError):
    """A side that cannot be read or two sides that cannot be compared (exit code 3)."""

    exit_code = 3


@dataclass
class CellRecord:
    key: tuple
    status: str
    metrics: dict[str, float | None]
    noise_level: str = ""
    error: str = ""


@dataclass
class Side:
    """One side of a comparison: header (config, conventions, metric directions, plan) and cells by key."""

    source: str
    kind: str  # "run" or "baseline"
    config: dict[str, Any] = field(default_factory=dict)
    conventions: dict[str, Any] = field(default_factory=dict)
    directions: dict[str, bool | None] = field(default_factory=dict)  # metric -> higher_is_better (None: unknown)
    plan: dict[str, Any] = field(default_factory=dict)
    cells: dict[tuple, CellRecord] = field(default_factory=dict)
    #: one line when something was not read from the side itself (e.g. directions from the installed plugins)
    note: str = ""

    @property
    def metric_names(self) -> list[str]:
        names = {m for c in self.cells.values() for m in c.metrics}
        return sorted(names - EXCLUDED_METRICS)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return float(value)  # "nan", "inf", "-inf"
    value = float(value)
    return None if math.isnan(value) else value


def _json_number(value: float | None) -> float | str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# ------------------------------------------------------------------------------------------------ run dirs
def pinned_config(config: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """The run's config with the resolved selection written out (denoisers, metrics), so re-running it later
    covers exactly the same cells even when more plugins are installed by then."""
    out = {k: v for k, v in config.items() if k not in ("jobs", "executor")}
    if plan.get("denoisers"):
        out["denoisers"] = list(plan["denoisers"])
    if plan.get("metrics"):
        out["metrics"] = list(plan["metrics"])
    if not out.get("noise") and plan.get("noise"):  # "every registered noise model": write the specs out
        out["noise"] = [_noise_selection(key) for key in plan["noise"]]
    return out


def _noise_selection(noise_key: str) -> str:
    """``gaussian{"sigma":25.0}`` -> ``gaussian:sigma=25.0`` (the selection syntax of ``--noise``)."""
    model, brace, rest = noise_key.partition("{")
    params = json.loads(brace + rest) if brace else {}
    return model + (":" + ",".join(f"{k}={_dumps(v)}" for k, v in params.items()) if params else "")


def directions(metrics: list[str], stored: dict[str, dict] | None, plugins=None) -> tuple[dict[str, bool | None], str]:
    """higher_is_better of each metric as the run stored it; for a run made before metric metadata was stored,
    as the installed plugins declare it (None for a metric no plugin registers), with a one-line note."""
    stored = stored or {}
    out: dict[str, bool | None] = {m: bool(stored[m]["higher_is_better"]) for m in metrics if m in stored}
    missing = [m for m in metrics if m not in out]
    if not missing:
        return out, ""
    if plugins is None:
        from denoisebench.pluginmanager import make_plugins

        plugins = make_plugins()
    for name in missing:
        out[name] = bool(plugins.metrics.get(name).higher_is_better) if name in plugins.metrics else None
    return out, (f"directions of {', '.join(missing)} taken from the installed plugins (the run did not store "
                 "them)")


def side_from_run(run_dir: str | Path, plugins=None) -> Side:
    from denoisebench.store import CELL_COLUMNS, Store

    with Store(run_dir) as store:
        config = store.get_meta("config") or {}
        plan = store.get_meta("plan") or {}
        conventions = store.get_meta("conventions") or {}
        stored_meta = store.get_meta("metrics")
        frame = store.cells()
    side = Side(str(run_dir), "run", pinned_config(config, plan), conventions, {}, plan)
    metric_cols = sorted(c for c in frame.columns if c not in CELL_COLUMNS and c not in EXCLUDED_METRICS)
    for row in frame.to_dict("records"):
        key = (row["dataset"], row["image_id"], row["noise_key"], bool(row["clip"]), row["denoiser"],
               row["params"], int(row["repetition"]), int(row["seed"]))
        values = {m: _number(row.get(m)) for m in metric_cols} if row["status"] == "ok" else {}
        side.cells[key] = CellRecord(key, row["status"], values, row.get("noise_level") or "", row.get("error") or "")
    side.directions, side.note = directions(sorted(set(metric_cols) | set(plan.get("metrics", []))), stored_meta,
                                            plugins)
    return side


# ------------------------------------------------------------------------------------------------ files
def baseline_lines(side: Side) -> list[str]:
    lines = [_dumps({FORMAT: VERSION})]
    for name, value in (("config", side.config), ("conventions", side.conventions),
                        ("metrics", {m: {"higher_is_better": d} for m, d in sorted(side.directions.items())}),
                        ("plan", side.plan)):
        lines.append(_dumps({"header": name, "value": value}))
    for key in sorted(side.cells, key=_sort_key):
        rec = side.cells[key]
        cell = dict(zip(KEY_FIELDS, key))
        cell["params"] = json.loads(cell["params"])
        cell["noise_level"] = rec.noise_level
        line = {"cell": cell, "status": rec.status,
                "metrics": {m: _json_number(v) for m, v in sorted(rec.metrics.items())}}
        lines.append(_dumps(line))
    return lines


def _sort_key(key: tuple) -> tuple:
    return tuple(str(k) if not isinstance(k, (int, bool)) else f"{int(k):020d}" for k in key)


def export_baseline(run_dir: str | Path, path: str | Path, plugins=None) -> int:
    """Write the baseline of ``run_dir`` to ``path``; returns the number of cells written."""
    side = side_from_run(run_dir, plugins)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(baseline_lines(side)) + "\n", encoding="utf-8")
    return len(side.cells)


def side_from_file(path: str | Path) -> Side:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc}); pass a baseline file "
                           f"written by `denoisebench baseline export` or a run directory") from None
    side = Side(str(path), "baseline")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if n == 1:
                if obj.get(FORMAT) != VERSION:
                    raise ValueError(f"first line is not {{\"{FORMAT}\": {VERSION}}}")
            elif "header" in obj:
                if obj["header"] == "metrics":
                    side.directions = {m: v.get("higher_is_better") for m, v in obj["value"].items()}
                elif obj["header"] in ("config", "conventions", "plan"):
                    setattr(side, obj["header"], obj["value"])
            else:
                c = obj["cell"]
                key = (str(c["dataset"]), str(c["image_id"]), str(c["noise_key"]), bool(c["clip"]),
                       str(c["denoiser"]), params_key(c["params"]), int(c["repetition"]), int(c["seed"]))
                metrics = {m: _number(v) for m, v in obj.get("metrics", {}).items()}
                side.cells[key] = CellRecord(key, str(obj["status"]), metrics, str(c.get("noise_level", "")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CompareError(f"{path}:{n}: not a denoisebench baseline line ({exc}); pass a file written by "
                               f"`denoisebench baseline export`") from None
    if not side.cells and not side.config:
        raise CompareError(f"{path}: empty baseline; pass a file written by `denoisebench baseline export`")
    return side


def load_side(source: str | Path, plugins=None) -> Side:
    """A run directory (read through its store) or a baseline file."""
    path = Path(source)
    if path.is_dir():
        try:
            return side_from_run(path, plugins)
        except CompareError:
            raise
        except DenoiseBenchError as exc:
            raise CompareError(str(exc)) from None
    if not path.exists():
        raise CompareError(f"{source}: no such file or run directory; pass a run directory or a baseline file")
    return side_from_file(path)


def config_from_baseline(path: str | Path) -> dict[str, Any]:
    """The pinned config stored in a baseline file (for ``denoisebench run --from FILE``)."""
    side = side_from_file(path)
    if not side.config:
        raise CompareError(f"{path}: the baseline has no config header; re-export it with `denoisebench baseline "
                           f"export`")
    return side.config
