"""Executors run tasks and yield their results; the caller (the runner) is the only writer of the store.

The seam: an executor has ``run(tasks) -> Iterator[list[CellResult]]`` (results of one or more tasks at a time, in
completion order) and ``close()``. ``local`` (:mod:`denoisebench.engine.local`) is the default; ``dask``
(:mod:`denoisebench.engine.dask_executor`) is imported only when asked for.
"""

from __future__ import annotations

from denoisebench.errors import ConfigError


def make_executor(name: str, *, jobs: int = 1, disable: tuple[str, ...] = (), plugins=None, **options):
    """``plugins``: the caller's loaded plugins: plugins that failed to load there are not loaded again by the
    workers (a plugin that hangs at import costs its time once); plugin objects that exist only in the caller's
    memory (tests) make the local executor fork its workers so that they inherit them."""
    if plugins is not None:
        failed = [k for k, s in plugins.status.items() if s.status == "error" and k == s.name]
        disable = (*disable, *(k for k in failed if k not in disable))
    if name == "local":
        from denoisebench.engine.local import LocalExecutor

        return LocalExecutor(jobs, disable, plugins)
    if name == "dask":
        try:
            from denoisebench.engine.dask_executor import DaskExecutor
        except ImportError as exc:
            raise ConfigError(
                f"--executor dask needs dask.distributed ({exc}); install it with: pip install 'denoisebench[dask]'"
            ) from None
        return DaskExecutor(jobs=jobs, disable=disable, **options)
    raise ConfigError(f"--executor {name!r}: choose 'local' or 'dask'")
