"""The local executor: tasks run in a pool of warm worker processes on this machine (``-j N``: N workers; the
default ``-j 1`` is one worker, never the main process). Isolation lives in :mod:`denoisebench.engine.pool`."""

from __future__ import annotations

import atexit
import os
import sys
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
        self._loads: list[dict] = []

    def prestart(self, n: int = 1) -> None:
        """Start up to ``n`` spawned workers now (never more than ``jobs``), so that they import the plugins while
        the caller plans the run and opens its store; ``run`` uses them (pass at most the number of tasks)."""
        if not inherits_plugins(self.plugins):
            _warm_pool(self.jobs, self.disable).prestart(min(n, self.jobs))

    def take_loads(self) -> list[dict]:
        """The models the workers loaded (and warmed up) since the last call: see :func:`record_model_loads`."""
        loads, self._loads = self._loads, []
        return loads

    def run(self, tasks: Iterable[Task]) -> Iterator[list[CellResult]]:
        tasks = list(tasks)
        if not tasks:
            return
        size = min(self.jobs, len(tasks))
        if inherits_plugins(self.plugins):  # forked workers are cheap, and must see this process as it is now
            pool = WorkerPool(size, self.disable, self.plugins)
            try:
                yield from pool.run(tasks)
            finally:
                self._loads += pool.take_loads()
                pool.close()
            return
        pool = _warm_pool(size, self.disable)
        try:
            yield from pool.run(tasks)
        finally:
            self._loads += pool.take_loads()

    def close(self) -> None:
        """Stop the warm workers (they are kept for the next run in this process until then)."""
        close_warm_pool()


#: the spawned pool of the last run in this process, kept warm for the next one (a Python session or a test suite
#: running many small runs pays the workers' start-up once), with what it was started for
_WARM: dict[str, tuple[tuple, WorkerPool]] = {}


def _warm_pool(size: int, disable: tuple[str, ...]) -> WorkerPool:
    from denoisebench.engine.child import THREADS_ENV
    from denoisebench.pluginmanager import DISABLE_ENV

    key = (disable, tuple(sys.path), os.environ.get(DISABLE_ENV), os.environ.get(THREADS_ENV))
    held = _WARM.get("pool")
    if held is not None and held[0] == key and all(w.exit_code(0) is None for w in held[1].workers):
        pool = held[1]
        pool.size = size
        while len(pool.workers) > size:  # never more workers than this run may use
            pool.workers.pop().close()
        return pool
    close_warm_pool()
    pool = WorkerPool(size, disable)
    _WARM["pool"] = (key, pool)
    return pool


def warm_worker_pids() -> list[int]:
    """The PIDs of the warm pool's workers (started early by ``run``, or kept from the last run in this
    process); empty when there is none."""
    held = _WARM.get("pool")
    return [w.pid for w in held[1].workers] if held is not None else []


def close_warm_pool() -> None:
    held = _WARM.pop("pool", None)
    if held is not None:
        held[1].close()


atexit.register(close_warm_pool)
