"""The runner: builds the grid of cells from a Config, runs the pending ones through an executor, stores results."""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from denoisebench.config import (
    NOISY,
    Config,
    parse_metric_options,
    parse_names,
    parse_noise,
    parse_param_overrides,
    split_list,
)
from denoisebench.errors import DenoiseBenchError, StoreError
from denoisebench.interfaces import NoiseSpec
from denoisebench.results import Cell, CellResult, Task
from denoisebench.store import Store


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


def dataset_label(spec: str) -> str:
    """The dataset name stored in cells: the registered name, or ``folder:<folder name>`` for a folder."""
    name, sep, rest = spec.partition(":")
    if name == "folder" and sep:
        return f"folder:{Path(rest.split(',')[0]).expanduser().resolve().name}"
    if not sep and ("/" in spec or Path(spec).expanduser().is_dir()):
        return f"folder:{Path(spec).expanduser().resolve().name}"
    return name


def make_plan(config: Config, plugins) -> Plan:
    """Resolve names and parameters (one-line errors for bad ones) and list every task of the run."""
    from denoisebench.datasets import dataset_from_spec

    denoisers = parse_names(split_list(config.denoisers), plugins.denoisers)
    noise = parse_noise(split_list(config.noise), plugins.noise_models)
    metrics = parse_names(split_list(config.metrics), plugins.metrics)
    overrides = parse_param_overrides(config.params, plugins.denoisers)
    metric_options = parse_metric_options(config.metric_options, plugins.metrics, metrics)
    metric_opts = tuple((m, tuple(sorted(o.items()))) for m, o in sorted(metric_options.items()))
    if config.repetitions < 1:
        raise DenoiseBenchError(f"--repetitions {config.repetitions}: pass a number >= 1")
    if not config.cell_timeout >= 0:
        raise DenoiseBenchError(f"--cell-timeout {config.cell_timeout}: pass seconds >= 0 (0: no limit)")
    if config.cell_timeout and config.executor != "local":
        raise DenoiseBenchError(f"--cell-timeout with --executor {config.executor}: the limit is enforced by the "
                                "local executor only; drop --cell-timeout or pass --executor local")

    params: dict[tuple[str, str], dict[str, Any]] = {}
    for name in denoisers:
        cls = plugins.denoisers.get(name)
        for spec in noise:
            p = {**cls.default_params(spec), **overrides.get(name, {})}
            try:
                cls(**p)  # validate early: a bad value is a one-line error before anything runs
            except DenoiseBenchError:
                raise
            except Exception:
                pass  # a broken constructor becomes an error row when the cell runs
            params[(name, spec.key)] = p

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
                                    config.seed)

                    cells = [cell(NOISY, {})] + [cell(d, params[(d, spec.key)]) for d in denoisers]
                    plan.tasks.append(Task(ds_spec, image_id, spec, rep, config.clip, config.seed, tuple(cells),
                                           tuple(metrics), metric_opts, float(config.cell_timeout)))
    return plan


def provenance(plugins, config: Config) -> dict[str, Any]:
    import importlib.metadata as md

    import denoisebench

    def version(dist: str) -> str:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return "not installed"

    return {
        "denoisebench": denoisebench.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": {d: version(d) for d in ("numpy", "scipy", "scikit-image", "opencv-python-headless",
                                             "pandas", "statsmodels", "pluggy", "torch")},
        "plugins": {s.name: {"distribution": s.distribution, "version": s.version, "status": s.status,
                             "reason": s.reason} for s in plugins.status.values()},
        "seed": config.seed,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _convention(plugins, metric: str, plan: Plan) -> str:
    """The metric's convention as configured: an instance with options may state a different rule."""
    options = dict(plan.tasks[0].metric_options).get(metric) if plan.tasks else None
    if not options:
        return plugins.metrics.get(metric).convention
    text = plugins.metrics.get(metric)(**dict(options)).convention
    return text + "; options: " + ", ".join(f"{k}={v}" for k, v in options)


def conventions(plugins, plan: Plan) -> dict[str, Any]:
    """The conventions the run's numbers follow, stored with the run and stated in its report."""
    return {
        "noise": {s.model: plugins.noise_models.get(s.model).convention for s in plan.noise},
        "metrics": {m: _convention(plugins, m, plan) for m in plan.metrics},
        "clip": "noisy images clipped to [0, 1]" if plan.config.clip else "noisy images not clipped (KAIR protocol)",
        "outputs": "denoiser outputs clipped to [0, 1] before scoring",
        "seeding": "noise seeded per (seed, dataset, image, noise spec, repetition): every denoiser sees the same "
                   "noisy image",
        "aggregation": "dataset value = mean of per-image values",
        "unit": "image",
    }


def default_run_dir(config: Config, root: str | Path = "reports") -> Path:
    """Same options -> same directory, so re-running the same command resumes it."""
    name = "-".join(dataset_label(d).replace(":", "_").replace("/", "_") for d in config.datasets)[:40]
    return Path(root) / f"run-{name}-{config.digest()}"


def open_store(run_dir: Path, config: Config, plugins, plan: Plan) -> Store:
    store = Store(run_dir, create=True)
    stored = store.get_meta("config")
    if stored is not None:
        old = Config.from_dict(stored)
        if old.identity() != config.identity():
            diff = sorted(k for k in config.identity() if config.identity()[k] != old.identity()[k])
            store.close()
            raise StoreError(
                f"{run_dir}: holds a run with different options ({', '.join(diff)}); pass a new --output, or use "
                f"`denoisebench run --from {run_dir}` to resume it"
            )
    else:
        store.set_meta("config", config.to_dict())
        store.set_meta("conventions", conventions(plugins, plan))
        store.set_meta("plan", {"denoisers": plan.denoisers, "noise": [s.key for s in plan.noise],
                                "noise_labels": {s.key: s.label for s in plan.noise},
                                "metrics": plan.metrics, "datasets": plan.datasets})
    runs = store.get_meta("provenance", [])
    runs.append(provenance(plugins, config))
    store.set_meta("provenance", runs)
    return store


def execute(plan: Plan, store: Store, executor, plugins,
            on_result: Callable[[CellResult], None] | None = None) -> dict[str, int]:
    """Run the cells not yet done; write each finished cell; return counts by status for this invocation."""
    done = store.done_keys()
    pending = []
    for task in plan.tasks:
        cells = tuple(c for c in task.cells if c.key not in done)
        if cells:
            pending.append(dataclasses.replace(task, cells=cells))
    counts: dict[str, int] = {}
    problems = []
    for results in executor.run(pending):
        for result in results:
            store.write(result)
            counts[result.status] = counts.get(result.status, 0) + 1
            problems += plugins.notify("denoisebench_cell_finished", result=result)
            if on_result:
                on_result(result)
    if plugins.pm.hook.denoisebench_run_finished.get_hookimpls():  # the long frame only when someone observes
        problems += plugins.notify("denoisebench_run_finished", results=store.frame(), config=plan.config)
    if problems:
        store.set_meta("observer_errors", problems)
    return counts


def pending_count(plan: Plan, store: Store) -> int:
    done = store.done_keys()
    return sum(1 for t in plan.tasks for c in t.cells if c.key not in done)
