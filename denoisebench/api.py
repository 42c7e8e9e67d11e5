"""The Python API: what a researcher uses from a notebook or a script, with the same options as the CLI.

::

    import denoisebench as db

    run = db.run(denoisers=["median", "wiener"], noise=["gaussian:25"], max_images=2, output="reports/nb")
    run.frame()            # long pandas frame: one row per cell and metric
    run.cells()            # one row per cell, metric columns
    run.report()           # the report object (tables, header); run.write_report() writes report.md
    db.open_run("reports/nb")                    # the same object for an existing run directory
    db.metric("ssim")(clean, noisy)               # a ready metric (callable: compute)
    db.denoiser("median", size=5).denoise(noisy)  # a ready denoiser
    db.noise("gaussian:25").apply(clean, rng)     # a ready noise model
    db.dataset("set12").load("01")                # a ready dataset

Unknown names, options and parameters raise the same one-line :class:`~denoisebench.errors.DenoiseBenchError`
the CLI prints (with "did you mean" for a close misspelling). Importing this module is light: everything heavy
(pandas, the plugins, the engine) is imported when first used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from denoisebench.config import Config
from denoisebench.errors import ConfigError, DenoiseBenchError, ParameterError

_PLUGINS: dict[tuple[str, ...], Any] = {}


def plugins(disable: Iterable[str] = ()):
    """The loaded plugin manager (registries and per-plugin status), loaded once per ``disable`` set."""
    from denoisebench.pluginmanager import make_plugins

    key = tuple(sorted(disable))
    if key not in _PLUGINS:
        _PLUGINS[key] = make_plugins(disable=set(key))
    return _PLUGINS[key]


def _strings(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _dotted(options: Mapping[str, Mapping[str, Any]] | Iterable[str] | None) -> tuple[str, ...]:
    """``{"median": {"size": 5}}`` -> ``("median.size=5",)`` (values as JSON, the selection grammar's own)."""
    if options is None:
        return ()
    if not isinstance(options, Mapping):
        return tuple(options)
    out = []
    for name, values in options.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{name!r}: pass a dict of options per name, e.g. {{'{name}': {{'size': 5}}}}")
        out += [f"{name}.{key}={json.dumps(value)}" for key, value in values.items()]
    return tuple(out)


def make_config(*, dataset: str | Iterable[str] = "embedded", denoisers: str | Iterable[str] | None = None,
                noise: str | Iterable[str] | None = None, metrics: str | Iterable[str] | None = None,
                seed: int = 0, repetitions: int = 1, protocol: str = "default", clip: bool | None = None,
                quantize: str | None = None, max_images: int = 0,
                params: Mapping[str, Mapping[str, Any]] | Iterable[str] | None = None,
                metric_options: Mapping[str, Mapping[str, Any]] | Iterable[str] | None = None,
                threshold: str | float | None = None, jobs: int = 1, executor: str = "local",
                disable_plugins: Iterable[str] = (), cell_timeout: float = 0.0, quick: bool = False,
                **extra: Any) -> Config:
    """The frozen :class:`~denoisebench.config.Config` for these options (the CLI's ``run`` flags, by name).

    Lists may be given as lists or comma-separated strings; ``params`` / ``metric_options`` as
    ``{"median": {"size": 5}}`` or as the CLI's ``"median.size=5"`` strings. ``clip`` / ``quantize`` override
    the ``protocol`` preset (the override is recorded). ``extra``: further Config fields by name.
    """
    from dataclasses import asdict, fields

    from denoisebench.protocols import apply_protocol
    from denoisebench.selection import split_list

    known = {f.name for f in fields(Config)}
    unknown = sorted(set(extra) - known)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(known) + ["dataset", "quick", "threshold"], n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"run: unknown option {unknown[0]!r}; {hint}(valid: dataset, {', '.join(sorted(known))})")
    options = _dotted(metric_options) + ((f"*.threshold={threshold}",) if threshold is not None else ())
    config = Config(datasets=_strings(dataset) or ("embedded",), denoisers=tuple(split_list(_strings(denoisers))),
                    noise=tuple(split_list(_strings(noise))), metrics=tuple(split_list(_strings(metrics))),
                    seed=int(seed), repetitions=int(repetitions), max_images=int(max_images), params=_dotted(params),
                    metric_options=options, jobs=int(jobs), executor=executor,
                    disable_plugins=tuple(disable_plugins), cell_timeout=float(cell_timeout), **extra)
    explicit = {k: v for k, v in (("clip", clip), ("quantize", quantize)) if v is not None}
    config = Config(**apply_protocol(protocol, {**asdict(config), **explicit}, set(explicit)))
    if quick:
        from denoisebench.profiles import apply_profile

        given = {k for k, v in (("datasets", dataset != "embedded"), ("noise", noise), ("seed", seed),
                                ("max_images", max_images), ("repetitions", repetitions != 1)) if v}
        config = Config(**apply_profile("quick", asdict(config), given))
    return config


def run(*, output: str | Path | None = None, on_result: Callable[[Any], None] | None = None,
        write_report: bool = True, figures: bool = False, **options: Any) -> Run:
    """Run a benchmark (or resume it: the same options map to the same run directory) and return its :class:`Run`.

    ``options`` are those of :func:`make_config` (the CLI's ``run`` flags by name). ``output``: the run directory
    (default ``reports/run-<dataset>-<hash>``). ``on_result(cell_result)`` is called for every finished cell.
    ``write_report``: write ``report.md``, ``report.html`` and the CSV/LaTeX tables (``figures=True`` draws the
    figures too).
    """
    from denoisebench.engine.executors import make_executor
    from denoisebench.engine.grid import make_plan
    from denoisebench.engine.provenance import default_run_dir, open_store
    from denoisebench.engine.runner import execute

    config = make_config(**options)
    loaded = plugins(config.disable_plugins)
    plan = make_plan(config, loaded)
    run_dir = Path(output) if output is not None else default_run_dir(config)
    executor = make_executor(config.executor, jobs=config.jobs, disable=config.disable_plugins, plugins=loaded)
    store = open_store(run_dir, config, loaded, plan)
    try:
        counts = execute(plan, store, executor, loaded, on_result)
    finally:
        store.close()
        executor.close()
    result = Run(run_dir)
    result.counts = counts
    if write_report:
        result.write_report(figures=figures)
    return result


def open_run(path: str | Path) -> Run:
    """The :class:`Run` of an existing run directory (one line if it is not one)."""
    from denoisebench.store import Store

    with Store(path):  # StoreError: "no results.sqlite here; pass a run directory ..."
        pass
    return Run(Path(path))


class Run:
    """A run directory, read through its store: every method reads the store afresh."""

    def __init__(self, path: Path):
        self.path = Path(path)
        #: statuses counted by :func:`run` for the cells it ran this time (empty for :func:`open_run`)
        self.counts: dict[str, int] = {}

    def _store(self):
        from denoisebench.store import Store

        return Store(self.path)

    @property
    def config(self) -> Config:
        with self._store() as store:
            return Config.from_dict(store.get_meta("config") or {})

    def meta(self, name: str, default: Any = None) -> Any:
        """A stored meta entry: ``config``, ``plan``, ``conventions``, ``metrics``, ``provenance``..."""
        with self._store() as store:
            return store.get_meta(name, default)

    def cells(self):
        """One row per cell (status, seed, parameters, timings), one column per metric."""
        with self._store() as store:
            return store.cells()

    def frame(self):
        """The long form: one row per cell and metric (wall time as metric ``time``)."""
        with self._store() as store:
            return store.frame()

    def status(self) -> dict[str, int]:
        """Number of stored cells per status."""
        cells = self.cells()
        return {str(k): int(v) for k, v in cells["status"].value_counts().sort_index().items()} if len(cells) else {}

    def report(self, *, chosen: str | None = None, reference: str | None = None, include_timing: bool = True,
               holm_family: str = "setting"):
        """The report (:class:`denoisebench.reporting.model.Report`: ``.header``, ``.tables``, ``.table(key)``),
        built from the store; options as ``denoisebench report --chosen/--reference/--holm-family``."""
        from denoisebench.reporting.tables import build_report

        with self._store() as store:
            return build_report(store, include_timing=include_timing, chosen=chosen, reference=reference,
                                holm_family=holm_family)

    def write_report(self, *, figures: bool = True, **options: Any) -> list[Path]:
        """Write report.md, report.html, tables/*.csv and *.tex (and figures) into the run directory; returns the
        paths."""
        from denoisebench.reporting.files import write_report

        return write_report(self.report(**options), self.path, figures=figures)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def metric(name: str, **options: Any):
    """A ready metric instance (options validated, weights loaded); call it or its ``compute(reference, estimate)``."""
    cls = plugins().metrics.get(name)
    try:
        instance = cls(**options)
    except TypeError as exc:
        raise ParameterError(f"metric {name!r}: {exc}; see `denoisebench list` for its options") from None
    instance.setup()
    return instance


def denoiser(name: str, **params: Any):
    """A ready denoiser instance with ``params`` over its defaults (unknown or invalid ones: one line)."""
    return plugins().denoisers.get(name)(**params)


def dataset(spec: str = "embedded"):
    """A ready dataset (``"embedded"``, ``"set12:root=/data"``, ``"folder:PATH"``): ``.ids()``, ``.load(id)``."""
    from denoisebench.datasets import dataset_from_spec

    return dataset_from_spec(plugins(), spec)


def noise(spec: str, *, clip: bool = True):
    """A ready noise model for one spec (``"gaussian:25"``, ``"mixed:sigma=15,amount=0.2"``); its ``.spec`` is the
    parsed :class:`~denoisebench.interfaces.NoiseSpec`."""
    from denoisebench.selection import parse_noise

    specs = parse_noise([spec], plugins().noise_models)
    if len(specs) != 1:
        levels = ", ".join(s.level or s.key for s in specs)
        raise DenoiseBenchError(f"noise {spec!r}: names {len(specs)} settings ({levels}); pass one, e.g. "
                                f"{specs[0].model}:{specs[0].level or 'PARAM=VALUE'}")
    model = plugins().noise_models.get(specs[0].model)(clip=clip, **specs[0].kwargs)
    model.spec = specs[0]
    return model
