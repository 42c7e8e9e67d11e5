"""Hook specifications: the plugin author's reference.

A plugin is a module (or object) with functions decorated by ``denoisebench.hookimpl`` whose names match the
specifications below, exposed through the ``denoisebench`` entry-point group::

    # pyproject.toml of your distribution
    [project.entry-points.denoisebench]
    mydenoiser = "my_package.plugin"

    # my_package/plugin.py
    from denoisebench import hookimpl  # or: pluggy.HookimplMarker("denoisebench")

    @hookimpl
    def denoisebench_register_denoisers(registry):
        registry.add(MyDenoiser)

An implementation may take any subset of a hook's arguments, by name. A function whose name starts with
``denoisebench_`` but matches no specification is reported as an error ("unknown hook ...; did you mean
...?"), not ignored.

**Registration hooks** (``denoisebench_register_*``) receive a :class:`denoisebench.registry.Registry` and call
``registry.add(cls)`` with a class (not an instance). They run wherever a plugin manager is built: in the
command-line process, and again in every worker process (local pool or Dask), so keep them cheap, free of side
effects and of heavy imports. Plugins are called in load order: the ``denoisebench`` distribution's own
plugins first, then the others sorted by distribution name, so the first to register a name keeps it. A
duplicate name is not an exception: ``registry.add`` skips that one entry and records one line naming both
providers (shown by ``denoisebench plugins``); the rest of the hook still registers. A hook that *raises* marks
its plugin ``error`` with the reason, removes everything the plugin registered (in every kind), and the other
plugins still load.

**Observer hooks** (``denoisebench_cell_finished``, ``denoisebench_run_finished``) are called in the process
that writes the results store, never in a worker. An exception there is recorded (store meta
``observer_errors``) and never stops a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # annotations only: importing the hook specifications stays light
    import argparse

    import pandas as pd

    from denoisebench.config import Config
    from denoisebench.interfaces import Dataset, Denoiser, Metric, NoiseModel
    from denoisebench.registry import Registry
    from denoisebench.results import CellResult

PROJECT = "denoisebench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ------------------------------------------------------------------------------------------ registration


@hookspec
def denoisebench_register_denoisers(registry: Registry[type[Denoiser]]) -> None:
    """Register denoisers: call ``registry.add(cls)`` once per :class:`~denoisebench.interfaces.Denoiser`
    subclass.

    :param registry: The denoiser registry. ``registry.add(cls)`` (or ``registry.add(cls, name)``) takes the
        class, not an instance, so listing stays cheap; the name (``cls.name`` by default) must be a lower-case
        identifier. The registry remembers the plugin, distribution and version that provided each entry.

    Called once per plugin manager, after every plugin is imported: in the command-line process and in each
    worker process. A name another plugin registered first is skipped with one line naming both providers;
    the plugin's other entries still register. A name that is not an identifier, or a class that does not
    subclass ``Denoiser``, raises :class:`~denoisebench.errors.PluginError`; any exception raised here marks the
    plugin ``error`` and removes everything it registered.

    .. versionadded:: 0.1
    """


@hookspec
def denoisebench_register_noise_models(registry: Registry[type[NoiseModel]]) -> None:
    """Register noise models: call ``registry.add(cls)`` once per
    :class:`~denoisebench.interfaces.NoiseModel` subclass.

    :param registry: The noise-model registry (same rules as for denoisers). A noise model is a pure function
        of (image, parameters, rng); its ``levels`` are what ``--noise NAME`` and ``--all`` use. A *captured*
        model (``captured = True``, like the built-in ``real``) draws nothing: it applies to paired datasets
        only, and its ``estimate(noisy) -> NoiseSpec`` is what non-blind denoisers are told for its cells.

    Called once per plugin manager, after the denoiser registrations, in the command-line process and in each
    worker process. Duplicates and exceptions are handled as for :func:`denoisebench_register_denoisers`.

    .. versionadded:: 0.1
    """


@hookspec
def denoisebench_register_metrics(registry: Registry[type[Metric]]) -> None:
    """Register metrics: call ``registry.add(cls)`` once per :class:`~denoisebench.interfaces.Metric` subclass.

    :param registry: The metric registry (same rules as for denoisers). Do heavy setup (weights) in the
        metric's ``setup()``, not here; ``setup()`` raising
        :class:`~denoisebench.errors.UnavailableError` makes the cells record status ``unavailable``.

    Called once per plugin manager, after the noise-model registrations, in the command-line process and in
    each worker process. Duplicates and exceptions are handled as for
    :func:`denoisebench_register_denoisers`.

    .. versionadded:: 0.1
    """


@hookspec
def denoisebench_register_datasets(registry: Registry[type[Dataset]]) -> None:
    """Register datasets: call ``registry.add(cls)`` once per :class:`~denoisebench.interfaces.Dataset`
    subclass.

    :param registry: The dataset registry (same rules as for denoisers). Workers rebuild a dataset from its
        name and options, so keep options JSON-able and the class importable at module level.

    Optional, and every dataset without it keeps working: a **paired** (real-noise) dataset sets
    ``paired = True`` and implements ``noisy(image_id)`` — the real noisy capture, same shape as
    ``load(image_id)``, its reference. Its cells get the captured noise setting ``real`` (the stored capture is
    every denoiser's input; a synthetic ``--noise`` is drawn on the reference); ``Dataset.pair(image_id)``
    refuses a size or channel mismatch with one line naming both files (``pair_files``). Any dataset may
    implement ``groups(image_id) -> dict[str, str]`` (e.g. camera, ISO): the report adds a breakdown table per
    label. ``label_option`` names the option whose folder name joins the stored label (``pairs:<folder>``).

    Called once per plugin manager, after the metric registrations, in the command-line process and in each
    worker process. Duplicates and exceptions are handled as for :func:`denoisebench_register_denoisers`.

    .. versionadded:: 0.1
    """


# ------------------------------------------------------------------------------------------ observers


@hookspec
def denoisebench_cell_finished(result: CellResult) -> None:
    """Observe one finished cell.

    :param result: The cell's record, whatever its status (``ok | error | skipped | timeout | unavailable``):
        key, dataset, image id, noise spec, denoiser and parameters, timings, metric values, error text.
        Treat it as read-only.

    Called in the process that writes the results store, right after the cell is written, once per cell
    run in this invocation (cells already in the store from an earlier, resumed run are not repeated). An
    exception is recorded in the store's ``observer_errors`` meta, naming the plugin, and the run goes on.

    .. versionadded:: 0.1
    """


@hookspec
def denoisebench_run_finished(results: pd.DataFrame, config: Config) -> None:
    """Observe a finished run, e.g. to export or upload its results.

    :param results: The run's long-form frame, one row per cell and metric, as
        :meth:`denoisebench.store.Store.frame` returns it (every cell in the store, including those of an
        earlier, resumed invocation).
    :param config: The run's frozen :class:`~denoisebench.config.Config`.

    Called once, in the process that writes the results store, after every pending cell has been written
    (also when nothing was left to run). The frame is built only if some plugin implements this hook. An
    exception is recorded like one from :func:`denoisebench_cell_finished` and does not fail the run.

    .. versionadded:: 0.1
    """


# ------------------------------------------------------------------------------------------ command line


@hookspec
def denoisebench_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``denoisebench`` command line.

    :param subparsers: The ``argparse`` sub-parser action of the ``denoisebench`` parser. Call
        ``p = subparsers.add_parser(name, help=...)``, add arguments, and ``p.set_defaults(func=handler)``
        where ``handler(args) -> int`` returns the exit code (``args.plugins`` holds the loaded plugins).

    Called in the command-line process, every time the parser is built (on each ``denoisebench`` command),
    after the built-in sub-commands are added. Keep it cheap: import heavy modules inside ``handler``. In the
    handler, raise :class:`~denoisebench.errors.DenoiseBenchError` for bad input: the CLI prints it as one line
    and exits 2. An exception raised by this hook itself is printed as a one-line warning naming the plugin,
    and the other commands still work.

    .. versionadded:: 0.1
    """
