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

Registration hooks receive a :class:`denoisebench.registry.Registry` and call ``registry.add(cls)`` with a
class (not an instance). A duplicate name is rejected and reported naming both providers; a hook that raises
is reported by plugin name and the other plugins still load. Observer hooks are called in the process that
writes the results store; an exception there is recorded as a plugin error and never stops a run.
"""

from __future__ import annotations

import pluggy

PROJECT = "denoisebench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def denoisebench_register_denoisers(registry):
    """Register :class:`denoisebench.interfaces.Denoiser` subclasses with ``registry.add(cls)``."""


@hookspec
def denoisebench_register_noise_models(registry):
    """Register :class:`denoisebench.interfaces.NoiseModel` subclasses with ``registry.add(cls)``."""


@hookspec
def denoisebench_register_metrics(registry):
    """Register :class:`denoisebench.interfaces.Metric` subclasses with ``registry.add(cls)``."""


@hookspec
def denoisebench_register_datasets(registry):
    """Register :class:`denoisebench.interfaces.Dataset` subclasses with ``registry.add(cls)``."""


@hookspec
def denoisebench_cell_finished(result):
    """Observe one finished cell: ``result`` is a :class:`denoisebench.results.CellResult` (any status)."""


@hookspec
def denoisebench_run_finished(results, config):
    """Observe a finished run: ``results`` is the run's long-form ``pandas.DataFrame`` (one row per cell and
    metric, as :meth:`denoisebench.store.Store.frame` returns it) and ``config`` the frozen
    :class:`denoisebench.config.Config`."""


@hookspec
def denoisebench_add_commands(subparsers):
    """Add sub-commands to the ``denoisebench`` command line.

    ``subparsers`` is the ``argparse`` sub-parser action; call ``subparsers.add_parser(name, help=...)``, add
    arguments, and ``parser.set_defaults(func=handler)`` where ``handler(args) -> int`` returns the exit code.
    Raise :class:`denoisebench.errors.DenoiseBenchError` for bad input: the CLI prints it as one line.
    """
