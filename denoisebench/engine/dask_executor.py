"""The Dask executor: run the same tasks on a ``dask.distributed`` cluster (laptop, SLURM/PBS, Kubernetes).

``DaskExecutor(scheduler="tcp://HOST:PORT")`` connects to an existing scheduler; ``DaskExecutor(workers=N)``
starts a LocalCluster on 127.0.0.1 (N processes, one thread each). What is shipped:

- a dask task is a batch of ``batch`` runner tasks (one image × noise spec × repetition with all its denoiser
  cells each); the worker loads the image itself from the dataset spec (:func:`denoisebench.engine.worker.run_task`),
  so no pixels travel from the client, and plugins, models and metrics are created once per worker process;
- results stream back in completion order (``as_completed``) through a bounded window of futures, and the
  client (the runner) is the only writer of the store, exactly as with the local executor.

Faults: each dask worker runs its tasks in a warm worker process of its own (:mod:`denoisebench.engine.pool`), so
a denoiser or metric that crashes, exits or runs past the cell timeout costs only its own cell (or metric), named
with its plugin, as with the local executor. A dask worker that dies anyway (killed from outside) makes the
scheduler re-run its tasks elsewhere; a task that killed ``allowed_failures + 1`` workers (``KilledWorker``)
becomes error rows, as does a task whose function raised.
Error rows are never cached as done, so re-running the command retries them; the store replaces by cell key,
so nothing is duplicated.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator

import dask
from distributed import Client, LocalCluster, as_completed

from denoisebench.engine.pool import WorkerPool
from denoisebench.engine.worker import crashed
from denoisebench.errors import ConfigError
from denoisebench.results import CellResult, Task

#: dask's nannies export MALLOC_TRIM_THRESHOLD_=65536 to their workers; setting it turns off glibc's dynamic mmap
#: threshold, so every numpy temporary of an image (a 256x256 float64 is 512 KiB) is a fresh mmap with page faults:
#: measured 4x slower tasks (434k vs 5k minor faults for 16 tasks). None removes it from the workers' environment.
NO_MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"

#: one runner task at a time per worker process: plugin state and model instances are not shared across threads
_PROCESS_LOCK = threading.Lock()


#: per dask worker process: the warm worker pool (one process) its tasks run in, by disabled plugins
_POOLS: dict[tuple[str, ...], WorkerPool] = {}


def run_batch(tasks: list[Task], disable: tuple[str, ...]) -> tuple[list[list[CellResult]], list[dict]]:
    """The function a dask worker runs: a few runner tasks, in a warm worker process of its own
    (:class:`denoisebench.engine.pool.WorkerPool`), so a plugin that crashes, exits or hangs costs only its call,
    exactly as with the local executor, and the dask worker itself survives. Returns the rows and the models the
    worker process loaded meanwhile (``model_loads`` records, with the dask worker's address)."""
    out = []
    with _PROCESS_LOCK:
        pool = _POOLS.get(disable)
        if pool is None:
            pool = _POOLS[disable] = WorkerPool(1, disable)
        try:
            out.extend(pool.run(tasks))
        except Exception as exc:
            _POOLS.pop(disable, None)
            out = [crashed(task, f"task failed on the worker: {type(exc).__name__}: {exc}") for task in tasks]
        loads = pool.take_loads()
    if loads:
        try:
            from distributed import get_worker

            address = get_worker().address
        except (ImportError, ValueError):  # not on a dask worker (called directly)
            address = ""
        loads = [{**load, "dask_worker": address} for load in loads]
    return out, loads


class DaskExecutor:
    """Run tasks on a dask cluster; see the module docstring.

    ``jobs`` is ignored (the cluster's workers are the parallelism); ``local_directory`` is the workers' scratch
    space of a LocalCluster (default: dask's ``temporary-directory``).
    """

    def __init__(self, jobs: int = 1, disable: tuple[str, ...] = (), scheduler: str | None = None,
                 workers: int | None = None, *, batch: int = 1, allowed_failures: int = 2,
                 local_directory: str | None = None, window: int | None = None, connect_timeout: str = "30s",
                 silence_logs: int = logging.ERROR):
        if scheduler and workers:
            raise ConfigError("--scheduler and --workers: pass one (--workers N starts a local cluster, "
                              "--scheduler tcp://HOST:PORT uses an existing one)")
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers {workers}: pass a number of dask worker processes >= 1")
        if batch < 1:
            raise ConfigError(f"batch {batch}: pass a number of tasks per dask task >= 1")
        self.disable = tuple(disable)
        self.scheduler = scheduler
        self.workers = workers if workers is not None else (None if scheduler else max(1, jobs))
        self.batch = batch
        self.allowed_failures = allowed_failures
        self.local_directory = local_directory
        self.window = window
        self.connect_timeout = connect_timeout
        self.silence_logs = silence_logs
        self.cluster: LocalCluster | None = None
        self.client: Client | None = None
        self._loads: list[dict] = []

    # ------------------------------------------------------------------------------------------ cluster
    def start(self) -> Client:
        if self.client is not None:
            return self.client
        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"--scheduler {self.scheduler}: cannot connect ({exc}); pass the address a "
                                  f"running dask scheduler prints, e.g. tcp://10.0.0.5:8786") from None
            return self.client
        settings = {"distributed.scheduler.allowed-failures": self.allowed_failures, NO_MALLOC_TRIM: None}
        if self.local_directory:
            settings["temporary-directory"] = str(self.local_directory)
        with dask.config.set(settings):
            # the nannies run in this process and export their workers' variables into os.environ: undo that
            touched = list(dask.config.get("distributed.nanny.pre-spawn-environ")) + ["PYTHONHASHSEED"]
            saved = {k: os.environ.get(k) for k in touched}
            try:
                self.cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    scheduler_port=0, dashboard_address=":0", local_directory=self.local_directory,
                    silence_logs=self.silence_logs,
                )
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            self.client = Client(self.cluster)
        return self.client

    def _window(self, client: Client) -> int:
        if self.window:
            return self.window
        threads = sum(client.nthreads().values()) or 1
        return max(8, 4 * threads)

    # ------------------------------------------------------------------------------------------ running
    def run(self, tasks: Iterable[Task]) -> Iterator[list[CellResult]]:
        tasks = list(tasks)
        if not tasks:
            return
        client = self.start()
        batches = [tasks[i:i + self.batch] for i in range(0, len(tasks), self.batch)]
        batches.reverse()  # pop() from the end keeps the plan's order
        pending = as_completed(loop=client.loop)
        owner: dict = {}
        window, checked = self._window(client), time.monotonic()

        split: list[Task] = []  # keeps the split tasks alive (their ids mark them)
        alone: set[int] = set()  # ids of one-cell tasks split off a batch that killed its workers

        def may_submit() -> bool:
            """A one-cell task split off a batch that killed its workers runs with nothing else on the cluster:
            dask counts a worker's death against every task assigned to it, so a healthy cell queued beside the
            culprit would become KilledWorker too (and other tasks would be charged for the culprit's deaths)."""
            if not batches or len(owner) >= window:
                return False
            if any(id(b[0]) in alone for b in owner.values()):
                return False
            return not (id(batches[-1][0]) in alone and owner)

        def submit() -> None:
            batch = batches.pop()
            fut = client.submit(run_batch, batch, self.disable, pure=False)
            owner[fut.key] = batch
            pending.add(fut)

        def killed(batch: list[Task], exc: Exception) -> list[list[CellResult]]:
            """KilledWorker: retry each cell on its own, so only the cell that kills its worker is an error."""
            rows = []
            for task in batch:
                if id(task) in alone or len(task.cells) == 1:
                    cell = task.cells[0]
                    rows.append(crashed(task, f"worker processes kept dying while running denoiser {cell.denoiser} "
                                              f"(dask KilledWorker: {exc}); the task's other cells were run alone"))
                    continue
                for cell in task.cells:
                    one = dataclasses.replace(task, cells=(cell,))
                    alone.add(id(one))
                    split.append(one)
                    batches.append([one])
            return rows

        try:
            while may_submit():
                submit()
            for fut in pending:
                batch = owner.pop(fut.key)
                try:
                    results, loads = fut.result()
                    self._loads += loads
                except Exception as exc:  # KilledWorker, a lost connection, unpicklable results ...
                    if type(exc).__name__ == "KilledWorker":
                        results = killed(batch, exc)
                    else:
                        why = f"task failed in the dask executor: {type(exc).__name__}: {exc}"
                        results = [crashed(task, why) for task in batch]
                fut.release()
                yield from results
                if time.monotonic() - checked > 5 and not self.window:  # adaptive clusters grow and shrink
                    window, checked = self._window(client), time.monotonic()
                while may_submit():
                    submit()
        finally:
            for fut in list(pending.futures):
                fut.cancel()

    def take_loads(self) -> list[dict]:
        """The models the workers loaded (and warmed up) since the last call: see
        :func:`denoisebench.engine.provenance.record_model_loads`."""
        loads, self._loads = self._loads, []
        return loads

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
