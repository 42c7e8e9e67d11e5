"""The local executor: tasks in this process (``-j 1``) or in a pool of spawned worker processes (``-j N``)."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from denoisebench.engine.worker import crashed, get_state, run_task
from denoisebench.errors import ConfigError
from denoisebench.results import CellResult, Task

#: how often a task is retried after its worker process died, before its cells become error rows
MAX_CRASHES = 2


def _init_worker(disable: tuple[str, ...], threads: int) -> None:
    # share the cores between workers: torch (imported later, by a plugin) reads this when it loads
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    get_state(disable)


class LocalExecutor:
    """``jobs == 1``: run in this process. ``jobs > 1``: a pool of spawned worker processes.

    A worker that dies (segfault, OOM kill) breaks the pool: the tasks in flight are retried in a fresh pool, and a
    task that was in flight for :data:`MAX_CRASHES` crashes becomes error rows, so one bad cell cannot stop a run.
    """

    def __init__(self, jobs: int = 1, disable: tuple[str, ...] = (), plugins=None):
        if jobs < 1:
            raise ConfigError(f"--jobs {jobs}: pass a number of worker processes >= 1")
        self.jobs = jobs
        self.disable = tuple(disable)
        self.plugins = plugins  # used in-process (jobs == 1); worker processes load the entry points

    def run(self, tasks: Iterable[Task]) -> Iterator[list[CellResult]]:
        if self.jobs == 1:
            for task in tasks:
                yield run_task(task, self.disable, self.plugins)
            return
        yield from self._run_pool(list(tasks))

    def _pool(self) -> ProcessPoolExecutor:
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        return ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(self.disable, threads))

    def _run_pool(self, tasks: list[Task]) -> Iterator[list[CellResult]]:
        queue = list(reversed(tasks))
        crashes: dict[int, int] = {}
        pool = self._pool()
        inflight: dict = {}
        try:
            while queue or inflight:
                while queue and len(inflight) < 2 * self.jobs:
                    index = len(queue) - 1
                    task = queue.pop()
                    inflight[pool.submit(run_task, task, self.disable)] = (index, task)
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    index, task = inflight.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        broken = True
                        crashes[id(task)] = crashes.get(id(task), 0) + 1
                        if crashes[id(task)] >= MAX_CRASHES:
                            yield crashed(task, "worker process died while running this task (twice)")
                        else:
                            queue.append(task)
                    except Exception as exc:  # pickling or other infrastructure failure
                        yield crashed(task, f"task failed in the executor: {type(exc).__name__}: {exc}")
                if broken:
                    for _, task in inflight.values():
                        crashes[id(task)] = crashes.get(id(task), 0) + 1
                        if crashes[id(task)] >= MAX_CRASHES:
                            yield crashed(task, "worker process died while running this task (twice)")
                        else:
                            queue.append(task)
                    inflight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pass
