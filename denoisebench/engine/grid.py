"""Planning a run: the grid of cells (and the tasks that carry them to workers) from a Config and the registries.

Every name, noise spec and parameter is resolved here, with one-line errors, before anything runs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
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


@dataclass
class Plan:
    config: Config
    denoisers: list[str]
    noise: list[NoiseSpec]
    metrics: list[str]
    datasets: dict[str, str]  # spec -> label
    tasks: list[Task] = field(default_factory=list)

    @property
    def n_cells(self) -> int:
        return sum(len(t.cells) for t in self.tasks)


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

    plan = Plan(config, denoisers, noise, metrics, {})
    for ds_spec in config.datasets:
        dataset = dataset_from_spec(plugins, ds_spec)
        label = dataset_label(ds_spec)
        plan.datasets[ds_spec] = label
        ids = dataset.ids()
        if config.max_images:
            ids = ids[: config.max_images]
        for image_id in ids:
            for spec in noise:
                for rep in range(config.repetitions):
                    def cell(name, p, image_id=image_id, spec=spec, rep=rep, label=label):
                        return Cell(label, image_id, spec, name, tuple(sorted(p.items())), rep, config.clip,
                                    config.seed, config.quantize)

                    cells = [cell(NOISY, {})] + [cell(d, p) for d in denoisers for p in params[(d, spec.key)]]
                    plan.tasks.append(Task(ds_spec, image_id, spec, rep, config.clip, config.seed, tuple(cells),
                                           tuple(metrics), metric_opts, float(config.cell_timeout), config.quantize))
    return plan
