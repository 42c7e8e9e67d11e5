"""Planning a run: the grid of cells (and the tasks that carry them to workers) from a Config and the registries.

Every name, noise spec and parameter is resolved here, with one-line errors, before anything runs.
"""

from __future__ import annotations

import gc
import itertools
from dataclasses import dataclass, field, fields
from typing import Any

from denoisebench.config import NOISY, Config
from denoisebench.datasets import dataset_from_spec, dataset_label
from denoisebench.errors import DenoiseBenchError
from denoisebench.interfaces import NoiseSpec, params_key
from denoisebench.protocols import QUANTIZE, preset
from denoisebench.results import Cell, Task
from denoisebench.selection import (
    parse_metric_options,
    parse_names,
    parse_noise,
    parse_param_values,
    parse_sweep,
    split_list,
)


def _plain_fields(cls, given: tuple[str, ...]) -> bool:
    """Whether a frozen dataclass can be built the way pickle rebuilds it (a new instance, its __dict__ filled):
    no __post_init__, no slots, and the planner gives exactly its fields."""
    return (not hasattr(cls, "__post_init__") and "__slots__" not in vars(cls)
            and tuple(f.name for f in fields(cls)) == given)


_CELL_FIELDS = ("dataset", "image_id", "noise", "denoiser", "params", "repetition", "clip", "base_seed", "quantize")
_TASK_FIELDS = ("dataset_spec", "image_id", "noise", "repetition", "clip", "base_seed", "cells", "metrics",
                "metric_options", "timeout", "quantize")
#: a plan of 10^6 cells builds 10^6 Cells and 5×10^5 Tasks: filling a new instance's __dict__ from a template
#: costs a third of a frozen dataclass's __init__
_FAST = _plain_fields(Cell, _CELL_FIELDS) and _plain_fields(Task, _TASK_FIELDS)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class Plan:
    config: Config
    denoisers: list[str]
    noise: list[NoiseSpec]
    metrics: list[str]
    datasets: dict[str, str]  # spec -> label
    tasks: list[Task] = field(default_factory=list)
    #: labels of the paired datasets (real noisy captures; their cells include the captured setting ``real``)
    paired: list[str] = field(default_factory=list)
    #: label -> image id -> {group: value} for datasets that declare groups (breakdown tables)
    groups: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    #: label -> file -> sha256 of the files behind each paired dataset (recorded with the run)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    #: label -> the noise keys its cells use (a paired dataset: ``real``; synthetic settings as selected)
    settings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return sum(len(t.cells) for t in self.tasks)

    def shape_text(self) -> str:
        """``11 denoisers × 14 noise settings × 12 images``; per dataset when their settings differ (a paired
        dataset's ``real``): ``11 denoisers; polyu: 100 images × 1 noise setting, set12: 12 images × 14 ...``."""
        images = {label: len({t.image_id for t in self.tasks if t.cells[0].dataset == label})
                  for label in dict.fromkeys(self.datasets.values())}
        counts = {label: len(self.settings.get(label, [])) for label in images}
        head = _count(len(self.denoisers), "denoiser")
        if len(set(counts.values())) <= 1:
            return f"{head} × {_count(len(self.noise), 'noise setting')} × {_count(sum(images.values()), 'image')}"
        return head + "; " + ", ".join(f"{label}: {_count(images[label], 'image')} × "
                                       f"{_count(counts[label], 'noise setting')}" for label in images)


def param_sets(base: dict[str, Any], axes: dict[str, list[Any]], order: list[str]) -> list[dict[str, Any]]:
    """One parameter dict per point of the Cartesian product of ``axes`` (parameter -> values) over ``base``.

    Deterministic: parameters vary in ``order`` (the denoiser's ``defaults`` order; the last one fastest), values
    in the order given. No axes: ``[base]``. Points that coincide (a value repeating the default) appear once.
    """
    keys = [k for k in order if k in axes] + [k for k in axes if k not in order]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for point in itertools.product(*(axes[k] for k in keys)):
        p = {**base, **dict(zip(keys, point))}
        if params_key(p) not in seen:
            seen.add(params_key(p))
            out.append(p)
    return out


def dataset_settings(dataset, label: str, noise: list[NoiseSpec], captured: set[str], selected: bool,
                     paired_names: list[str]) -> list[NoiseSpec]:
    """The noise settings of one dataset: a paired dataset gets the captured settings (``real``) and, when
    ``--noise`` names synthetic ones, those applied to its references; any other dataset the synthetic ones.
    A dataset left with none is a one-line error."""
    synthetic = [s for s in noise if s.key not in captured]
    if getattr(dataset, "paired", False):
        specs = [s for s in noise if s.key in captured] + (synthetic if selected else [])
    else:
        specs = synthetic
    if not specs:
        real = ", ".join(s.label for s in noise if s.key in captured)
        raise DenoiseBenchError(
            f"dataset {label}: no noise setting applies: {real} is captured noise, only for paired datasets "
            f"(with noisy captures, e.g. {', '.join(paired_names) or 'polyu'}); add a synthetic --noise such as "
            "gaussian, or drop this dataset")
    return specs


def _dataset_facts(dataset, label: str, ids: list[str], plan: Plan) -> None:
    """Groups of the image ids, and (paired datasets) the files behind them with their sha256."""
    groups = {}
    for image_id in ids:
        try:
            g = dataset.groups(image_id)
        except Exception:
            g = {}
        if g:
            groups[image_id] = {str(k): str(v) for k, v in g.items()}
    if groups:
        plan.groups[label] = groups
    if getattr(dataset, "paired", False):
        plan.paired.append(label)
        files: dict[str, str] = {}
        for image_id in ids:
            try:
                prov = dataset.provenance(image_id)
            except Exception:
                continue  # a broken pair: its cells say why
            for prefix in ("", "noisy_"):
                if prov.get(f"{prefix}path"):
                    files[str(prov[f"{prefix}path"])] = str(prov.get(f"{prefix}sha256", ""))
        plan.files[label] = files


def make_plan(config: Config, plugins) -> Plan:
    """Resolve names and parameters (one-line errors for bad ones) and list every task of the run."""
    denoisers = parse_names(split_list(config.denoisers), plugins.denoisers)
    noise = parse_noise(split_list(config.noise), plugins.noise_models)
    metrics = parse_names(split_list(config.metrics), plugins.metrics)
    values = parse_param_values(config.params, plugins.denoisers)
    swept = parse_sweep(config.sweep, denoisers, plugins.denoisers)
    metric_options = parse_metric_options(config.metric_options, plugins.metrics, metrics)
    metric_opts = tuple((m, tuple(sorted(o.items()))) for m, o in sorted(metric_options.items()))
    if config.quantize not in QUANTIZE:
        raise DenoiseBenchError(f"quantize {config.quantize!r}: pass one of {', '.join(QUANTIZE)}")
    preset(config.protocol)  # unknown protocol: one line
    if config.repetitions < 1:
        raise DenoiseBenchError(f"--repetitions {config.repetitions}: pass a number >= 1")
    if not config.cell_timeout >= 0:
        raise DenoiseBenchError(f"--cell-timeout {config.cell_timeout}: pass seconds >= 0 (0: no limit)")

    params: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name in denoisers:
        cls = plugins.denoisers.get(name)
        axes = {**(cls.param_grid if name in swept else {}), **values.get(name, {})}
        for spec in noise:
            sets = param_sets(cls.default_params(spec), axes, list(cls.defaults))
            for p in sets:
                try:
                    cls(**p)  # validate early: a bad value is a one-line error before anything runs
                except DenoiseBenchError:
                    raise
                except Exception:
                    pass  # a broken constructor becomes an error row when the cell runs
            params[(name, spec.key)] = sets

    captured = {s.key for s in noise if getattr(plugins.noise_models.get(s.model), "captured", False)}
    paired_names = [n for n in plugins.datasets.names() if getattr(plugins.datasets.get(n), "paired", False)]
    plan = Plan(config, denoisers, noise, metrics, {})
    used: set[str] = set()
    for ds_spec in config.datasets:
        dataset = dataset_from_spec(plugins, ds_spec)
        label = dataset_label(ds_spec, dataset)
        plan.datasets[ds_spec] = label
        specs = dataset_settings(dataset, label, noise, captured, bool(config.noise), paired_names)
        plan.settings[label] = [s.key for s in specs]
        used |= set(plan.settings[label])
        ids = dataset.ids()
        if config.max_images:
            ids = ids[: config.max_images]
        _dataset_facts(dataset, label, ids, plan)
        # per setting, once: the (denoiser, params) pairs of a task (the noisy row first)
        combos = {spec.key: [(NOISY, ())] + [(d, tuple(sorted(p.items()))) for d in denoisers
                                             for p in params[(d, spec.key)]] for spec in specs}
        gc_was_on = gc.isenabled()
        gc.disable()  # millions of new, long-lived objects: the collector's passes over them cost 2/3 of the time
        try:
            _add_tasks(plan, config, ds_spec, label, ids, specs, combos, tuple(metrics), metric_opts)
        finally:
            if gc_was_on:
                gc.enable()
    plan.noise = [s for s in noise if s.key in used]
    return plan


def _add_tasks(plan: Plan, config: Config, ds_spec: str, label: str, ids: list[str], specs: list[NoiseSpec],
               combos: dict[str, list[tuple[str, tuple]]], metrics: tuple[str, ...], metric_opts: tuple) -> None:
    """One task per image × setting × repetition, each with its cells (noisy row first), in that order. Each
    Cell and Task is equal to ``Cell(**fields)`` / ``Task(**fields)``; with ``_FAST`` it is made as unpickling
    makes it in the worker (a new instance whose __dict__ is filled)."""
    append, new = plan.tasks.append, object.__new__
    common = {"clip": config.clip, "base_seed": config.seed, "quantize": config.quantize}
    task_common = {**common, "dataset_spec": ds_spec, "metrics": metrics, "metric_options": metric_opts,
                   "timeout": float(config.cell_timeout)}
    for image_id in ids:
        for spec in specs:
            where = {"image_id": image_id, "noise": spec}
            templates = [{"dataset": label, **where, "denoiser": name, "params": p, **common}
                         for name, p in combos[spec.key]]
            task_template = {**task_common, **where}
            for rep in range(config.repetitions):
                if not _FAST:
                    cells = tuple([Cell(**t, repetition=rep) for t in templates])
                    append(Task(**task_template, repetition=rep, cells=cells))
                    continue
                cells = []
                for t in templates:
                    cell = new(Cell)
                    d = cell.__dict__
                    d.update(t)
                    d["repetition"] = rep
                    cells.append(cell)
                task = new(Task)
                d = task.__dict__
                d.update(task_template)
                d["repetition"] = rep
                d["cells"] = tuple(cells)
                append(task)
