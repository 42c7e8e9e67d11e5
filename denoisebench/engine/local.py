"""The local executor: tasks run in a pool of warm worker processes on this machine (``-j N``: N workers; the
default ``-j 1`` is one worker, never the main process). Isolation lives in :mod:`denoisebench.engine.pool`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from denoisebench.engine.pool import WorkerPool
from denoisebench.errors import ConfigError
from denoisebench.results import CellResult, Task


def inherits_plugins(plugins) -> bool:
    """True when ``plugins`` holds plugin objects a fresh interpreter cannot load again from entry points
    (``make_plugins(extra_plugins=...)``, as tests do): its workers are then forked from this process."""
    return plugins is not None and not getattr(plugins, "from_entry_points", False)


class LocalExecutor:
    """Run tasks in ``jobs`` worker processes (started as tasks need them, never more than there are tasks).

    A worker that crashes, exits or runs past the task's cell timeout costs only the denoiser or metric call it
    was making (see :mod:`denoisebench.engine.pool`). Workers are fresh interpreters that load the plugins from
    their entry points (``disable``: plugins not to load); ``plugins`` built with in-process plugin objects (tests)
    makes them forked from this process instead, so that they inherit those objects.
    """

    def __init__(self, jobs: int = 1, disable: tuple[str, ...] = (), plugins=None):
        if jobs < 1:
            raise ConfigError(f"--jobs {jobs}: pass a number of worker processes >= 1")
        self.jobs = jobs
        self.disable = tuple(disable)
        self.plugins = plugins

    def run(self, tasks: Iterable[Task]) -> Iterator[list[CellResult]]:
        tasks = list(tasks)
        if not tasks:
            return
        pool = WorkerPool(min(self.jobs, len(tasks)), self.disable,
                          self.plugins if inherits_plugins(self.plugins) else None)
        try:
            yield from pool.run(tasks)
        finally:
            pool.close()

    def close(self) -> None:
        pass
