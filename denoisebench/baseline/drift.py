"""Comparing a candidate run with a baseline: cells matched by key, every metric within a per-metric tolerance.

A value passes when ``|candidate - baseline| <= abs + rel * |baseline|`` (both non-finite and equal also passes;
both missing passes). Default tolerances (:data:`DEFAULT_TOLERANCES`) are far below any real change (a filter
parameter step moves PSNR by 0.01 dB or more) and far above the float noise of the same code on another CPU (SIMD
paths of OpenCV and oneDNN may differ in the last bits):

=========  =========  ==========  ====================================================================
metric     abs        rel         why
=========  =========  ==========  ====================================================================
psnr       1e-4 dB    0           dB are log-scaled already; 1e-4 dB ~ 0.002 % of MSE
ssim       1e-6       0           in [−1, 1]
mse, mae   1e-9       1e-5        small numbers: the relative part matters
pearson    1e-6       0           in [−1, 1]
lpips      1e-4       0           float32 network: the last bits depend on the CPU's kernels
(other)    1e-6       1e-6        a plugin metric without a declared tolerance
=========  =========  ==========  ====================================================================

Wall time (``time``) is never compared. A metric's own direction (``higher_is_better`` from its plugin, stored in
the baseline file) says whether a move is *better* or *worse*.

Incompatible sides raise :class:`~denoisebench.baseline.file.CompareError` (exit code 3) naming what differs: the
clip rule, a metric's or noise model's convention, the base seed, or the images behind a dataset label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from denoisebench.baseline.file import EXCLUDED_METRICS, KEY_FIELDS, CellRecord, CompareError, Side
from denoisebench.errors import ConfigError

#: metric -> (absolute, relative) tolerance
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "psnr": (1e-4, 0.0), "ssim": (1e-6, 0.0), "mse": (1e-9, 1e-5), "mae": (1e-9, 1e-5),
    "pearson": (1e-6, 0.0), "lpips": (1e-4, 0.0),
}
FALLBACK_TOLERANCE = (1e-6, 1e-6)


@dataclass
class Tolerances:
    table: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))

    def get(self, metric: str) -> tuple[float, float]:
        return self.table.get(metric, FALLBACK_TOLERANCE)

    def set(self, metric: str, *, abs_tol: float | None = None, rel_tol: float | None = None) -> None:
        a, r = self.get(metric)
        self.table[metric] = (a if abs_tol is None else abs_tol, r if rel_tol is None else rel_tol)

    def within(self, metric: str, base: float | None, cand: float | None) -> bool:
        if base is None or cand is None:
            return base is None and cand is None
        if not (math.isfinite(base) and math.isfinite(cand)):
            return base == cand
        a, r = self.get(metric)
        return abs(cand - base) <= a + r * abs(base)


def parse_tolerance_items(items: list[str], option: str) -> dict[str, float]:
    """``["psnr=1e-4", "ssim=1e-5"]`` -> {"psnr": 1e-4, "ssim": 1e-5}; one-line errors for bad items."""
    out: dict[str, float] = {}
    for item in items:
        name, eq, value = item.partition("=")
        try:
            number = float(value)
            if not eq or not name.strip() or number < 0 or not math.isfinite(number):
                raise ValueError
        except ValueError:
            raise ConfigError(f"{option} {item!r}: pass METRIC=NUMBER with a number >= 0, e.g. {option} psnr=1e-4") from None
        out[name.strip()] = number
    return out


def load_compare_config(path: str | Path) -> dict[str, Any]:
    """Compare settings from a TOML file: a ``[compare]`` table, or ``[tool.denoisebench.compare]`` in
    pyproject.toml, with ``tol = {psnr = 1e-4}``, ``rtol = {mse = 1e-5}``, ``metrics = [...]``,
    ``denoisers = [...]``, ``allow_new = true``."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot read TOML ({exc}); pass a file with a [compare] table") from None
    table = data.get("compare") or data.get("tool", {}).get("denoisebench", {}).get("compare")
    if not isinstance(table, dict):
        raise ConfigError(f"--config {path}: no [compare] or [tool.denoisebench.compare] table; add one, e.g. "
                          f"[compare] tol = {{psnr = 1e-4}}")
    known = {"tol", "rtol", "metrics", "denoisers", "allow_new"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"--config {path}: unknown key {unknown[0]!r} in [compare]; valid: {', '.join(sorted(known))}")
    return table


# ------------------------------------------------------------------------------------------------ result
@dataclass
class Move:
    key: tuple
    metric: str
    base: float | None
    cand: float | None
    direction: str  # "better", "worse", "changed" (unknown direction), "missing value", "new value"
    params_to: str = ""  # when the cell's parameters changed: the candidate's params


@dataclass
class Comparison:
    baseline: str
    candidate: str
    n_matched: int = 0
    n_values: int = 0
    metrics: list[str] = field(default_factory=list)
    moved: list[Move] = field(default_factory=list)
    missing: list[tuple] = field(default_factory=list)  # in the baseline, not in the candidate
    new: list[tuple] = field(default_factory=list)  # in the candidate, not in the baseline
    params_changed: list[tuple[tuple, tuple]] = field(default_factory=list)  # (baseline key, candidate key)
    status_changed: list[tuple[tuple, str, str, str]] = field(default_factory=list)  # key, before, after, error
    tolerances: dict[str, tuple[float, float]] = field(default_factory=dict)
    directions: dict[str, bool | None] = field(default_factory=dict)
    allow_new: bool = False

    @property
    def drift(self) -> bool:
        return bool(self.moved or self.missing or self.params_changed or self.status_changed
                    or (self.new and not self.allow_new))

    @property
    def exit_code(self) -> int:
        return 1 if self.drift else 0


def key_dict(key: tuple) -> dict[str, Any]:
    return dict(zip(KEY_FIELDS, key))


# ------------------------------------------------------------------------------------------------ checks
def check_compatible(base: Side, cand: Side) -> None:
    """Raise CompareError naming the first convention that differs between the two sides."""
    bc, cc = base.conventions, cand.conventions
    if bc.get("clip") != cc.get("clip"):
        raise CompareError(f"cannot compare: different clip rule — baseline {bc.get('clip')!r}, candidate "
                           f"{cc.get('clip')!r}; re-run the candidate with the baseline's clipping")
    if bc.get("outputs") and cc.get("outputs") and bc["outputs"] != cc["outputs"]:
        raise CompareError(f"cannot compare: outputs scored differently — baseline {bc['outputs']!r}, candidate "
                           f"{cc['outputs']!r}; re-run the candidate with the baseline's --protocol")
    bseed, cseed = base.config.get("seed"), cand.config.get("seed")
    if bseed is not None and cseed is not None and bseed != cseed:
        raise CompareError(f"cannot compare: different base seed — baseline {bseed}, candidate {cseed}; re-run "
                           f"the candidate with --seed {bseed}")
    for kind in ("metrics", "noise"):
        bmap, cmap = bc.get(kind, {}) or {}, cc.get(kind, {}) or {}
        for name in sorted(set(bmap) & set(cmap)):
            if bmap[name] != cmap[name]:
                what = "metric" if kind == "metrics" else "noise model"
                raise CompareError(f"cannot compare: {what} {name!r} follows a different convention — baseline "
                                   f"{bmap[name]!r}, candidate {cmap[name]!r}")
    for name in sorted(set(base.directions) & set(cand.directions)):
        b, c = base.directions[name], cand.directions[name]
        if b is not None and c is not None and b != c:
            raise CompareError(f"cannot compare: metric {name!r} changed direction (higher_is_better {b} in the "
                               f"baseline, {c} in the candidate)")
    bds, cds = _labels(base), _labels(cand)
    for label in sorted(set(bds) & set(cds)):
        if bds[label] != cds[label]:
            raise CompareError(f"cannot compare: dataset {label!r} is {bds[label]!r} in the baseline but "
                               f"{cds[label]!r} in the candidate (different images); re-run with --dataset "
                               f"{bds[label]}")


def _labels(side: Side) -> dict[str, str]:
    return {label: spec for spec, label in (side.plan.get("datasets") or {}).items()}


def _direction(higher: bool | None, base: float | None, cand: float | None) -> str:
    if base is None:
        return "new value"
    if cand is None:
        return "missing value"
    if higher is None or math.isnan(base) or math.isnan(cand) or base == cand:
        return "changed"
    return "better" if (cand > base) == bool(higher) else "worse"


def compare_sides(base: Side, cand: Side, tolerances: Tolerances | None = None, *,
                  metrics: list[str] | None = None, denoisers: list[str] | None = None,
                  allow_new: bool = False) -> Comparison:
    """Match cells by key and compare every metric of the baseline (or ``metrics``) within tolerance.

    ``denoisers`` restricts both sides to those denoisers (plus the noisy input row).
    """
    check_compatible(base, cand)
    tolerances = tolerances or Tolerances()
    names = list(metrics) if metrics else [m for m in base.metric_names if m not in EXCLUDED_METRICS]
    unknown = sorted(set(names) - set(base.metric_names) - set(cand.metric_names))
    if metrics and unknown:
        raise ConfigError(f"--metric {unknown[0]!r}: neither side has it; choose from "
                          f"{', '.join(sorted(set(base.metric_names) | set(cand.metric_names)))}")
    directions = {m: base.directions.get(m, cand.directions.get(m)) for m in names}
    result = Comparison(base.source, cand.source, metrics=names, directions=directions, allow_new=allow_new,
                        tolerances={m: tolerances.get(m) for m in names})

    def keep(cells: dict[tuple, CellRecord]) -> dict[tuple, CellRecord]:
        if not denoisers:
            return cells
        wanted = set(denoisers) | {"noisy"}
        return {k: v for k, v in cells.items() if k[4] in wanted}

    bcells, ccells = keep(base.cells), keep(cand.cells)
    bsets, csets = {k[0] for k in bcells}, {k[0] for k in ccells}
    if bsets and csets and not bsets & csets:
        raise CompareError(f"cannot compare: no dataset in common — baseline {', '.join(sorted(bsets))}, candidate "
                           f"{', '.join(sorted(csets))}; run the candidate on the baseline's dataset "
                           f"(denoisebench run --from {base.source} --output DIR)")
    missing = sorted((k for k in bcells if k not in ccells), key=str)
    new = sorted((k for k in ccells if k not in bcells), key=str)
    # a cell whose only difference is its parameters: pair it up and compare its values too
    pairs = _pair_by_everything_but_params(missing, new)
    result.missing = [k for k in missing if k not in pairs]
    paired_new = set(pairs.values())
    result.new = [k for k in new if k not in paired_new]
    matched = [(k, k) for k in sorted((k for k in bcells if k in ccells), key=str)] + sorted(pairs.items(), key=str)
    for bkey, ckey in matched:
        b, c = bcells[bkey], ccells[ckey]
        if bkey != ckey:
            result.params_changed.append((bkey, ckey))
        result.n_matched += 1
        if b.status != c.status:
            result.status_changed.append((bkey, b.status, c.status, c.error))
            continue
        if b.status != "ok":
            continue
        for m in names:
            bv, cv = b.metrics.get(m), c.metrics.get(m)
            result.n_values += 1
            if not tolerances.within(m, bv, cv):
                result.moved.append(Move(bkey, m, bv, cv, _direction(directions.get(m), bv, cv),
                                         ckey[5] if ckey != bkey else ""))
    return result


def _pair_by_everything_but_params(missing: list[tuple], new: list[tuple]) -> dict[tuple, tuple]:
    def strip(k: tuple) -> tuple:
        return k[:5] + k[6:]

    by_rest: dict[tuple, list[tuple]] = {}
    for k in new:
        by_rest.setdefault(strip(k), []).append(k)
    counts: dict[tuple, int] = {}
    for k in missing:
        counts[strip(k)] = counts.get(strip(k), 0) + 1
    pairs = {}
    for k in missing:
        options = by_rest.get(strip(k), [])
        if len(options) == 1 and counts[strip(k)] == 1:
            pairs[k] = options[0]
    return pairs


def summary_rows(result: Comparison) -> list[dict[str, Any]]:
    """Per denoiser and metric: how many values moved, how many better/worse, the mean and largest change."""
    groups: dict[tuple[str, str], list[Move]] = {}
    for mv in result.moved:
        groups.setdefault((mv.key[4], mv.metric), []).append(mv)
    rows = []
    for (den, metric), moves in sorted(groups.items()):
        deltas = [m.cand - m.base for m in moves if m.base is not None and m.cand is not None
                  and math.isfinite(m.cand - m.base)]
        rows.append({"denoiser": den, "metric": metric, "moved": len(moves),
                     "better": sum(m.direction == "better" for m in moves),
                     "worse": sum(m.direction == "worse" for m in moves),
                     "mean_delta": sum(deltas) / len(deltas) if deltas else float("nan"),
                     "max_abs_delta": max((abs(d) for d in deltas), default=float("nan"))})
    return rows


def cell_label(key: tuple, *, params: bool = True) -> str:
    """``median size=3 · embedded/camera · gaussian sigma=25.0`` (``· rep N`` after the first repetition)."""
    d = key_dict(key)
    model, _, noise = d["noise_key"].partition("{")
    noise = _plain(noise.rstrip("}"))
    p = _plain(d["params"].strip("{}")) if params else ""
    rep = f" · rep {d['repetition']}" if d["repetition"] else ""
    return f"{d['denoiser']}{' ' + p if p else ''} · {d['dataset']}/{d['image_id']} · {model} {noise}{rep}"


def _plain(params_json: str) -> str:
    return params_json.replace('"', "").replace(":", "=")


def params_change_groups(result: Comparison) -> list[tuple[str, str, str, int]]:
    """(denoiser, baseline params, candidate params, number of cells) for each distinct parameter change."""
    counts: dict[tuple[str, str, str], int] = {}
    for b, c in result.params_changed:
        k = (b[4], _plain(b[5].strip("{}")), _plain(c[5].strip("{}")))
        counts[k] = counts.get(k, 0) + 1
    return [(*k, n) for k, n in sorted(counts.items())]
