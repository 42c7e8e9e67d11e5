"""A pool of warm worker processes that charges a crash, an exit or a timeout to the one plugin call that caused it.

Every denoiser and metric call runs in a worker process (:mod:`denoisebench.engine.child`), in every mode: ``-j 1``
is one worker. A worker reports each plugin call before making it, so when it dies (exit, signal, OOM kill) or
runs past the cell timeout (the pool kills it: a timeout cannot be caught), the pool knows the culprit:

- a denoiser call (constructing or calling it): that cell becomes an ``error`` (``timeout``) row naming the
  denoiser, the exit code or signal and the plugin that provided it; the task's other cells are sent again;
- a metric call: the task is sent again without that metric, whose values become errors saying why;
- preparing the image (dataset load, noise model): every cell of the task becomes an error row;
- anything else (the worker died starting up, or between calls): the task is sent again, once.

A dead or killed worker is replaced; workers are started as tasks need them (never more than there are tasks)
and stay warm until the run ends. Worker processes are fresh interpreters (``spawn``) that load the plugins from
their entry points, or, when the caller passes plugin objects that exist only in its memory (tests), forked
from the caller so that they inherit those objects (``fork``; POSIX only).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait

from denoisebench.engine.child import serve, thread_environment, worker_threads
from denoisebench.engine.worker import crashed, task_seed
from denoisebench.results import CellResult, Task

#: a task whose worker died outside any plugin call this many times becomes error rows
MAX_ATTEMPTS = 2
#: seconds a worker may take to start and load its plugins
START_TIMEOUT = 300.0
#: this many workers in a row dying before they are ready fail the run's remaining tasks
MAX_FAILED_STARTS = 3


def how_it_ended(code: int | None) -> str:
    """``exited with code 7`` / ``was killed by signal 11 (SIGSEGV)``, from a process's return code."""
    if code is None:
        return "stopped responding"
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "unknown signal"
    hint = "; out of memory, or killed from outside" if -code == signal.SIGKILL else ""
    return f"was killed by signal {-code} ({name}{hint})"


class Worker:
    """One worker process and the parent's end of its connection."""

    def __init__(self, disable: tuple[str, ...], plugins, threads: int):
        self.conn, self.proc = (_fork if plugins is not None else _spawn)(disable, plugins, threads)
        self.ready = False
        self.job: Job | None = None
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exit_code(self, wait_s: float = 2.0) -> int | None:
        deadline = time.monotonic() + wait_s
        while True:
            code = self.proc.poll() if isinstance(self.proc, subprocess.Popen) else self.proc.exitcode
            if code is not None or time.monotonic() > deadline:
                return code
            time.sleep(0.01)

    def kill(self) -> None:
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.exit_code(5.0)

    def close(self) -> None:
        """Ask the worker to stop, and kill it if it does not within a second."""
        try:
            self.conn.send(("stop",))
        except OSError:
            pass
        if self.exit_code(1.0) is None:
            self.kill()
        self.conn.close()
        if not isinstance(self.proc, subprocess.Popen):
            self.proc.join(0)


def _spawn(disable, plugins, threads):
    ours, theirs = socket.socketpair()
    fd = theirs.fileno()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # above the package
    deathsig = "1" if threading.current_thread() is threading.main_thread() else "0"
    code = (f"import sys; sys.path.insert(0, {root!r}); from denoisebench.engine.child import main; "
            f"main({fd}, {','.join(disable)!r}, {os.getpid()}, {deathsig!r}, {threads}, {sys.path!r})")
    env = {**os.environ, **thread_environment(threads)}
    proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL)
    theirs.close()
    return Connection(ours.detach()), proc


def _fork(disable, plugins, threads):
    ours, theirs = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(
        target=_forked, args=(theirs, ours, disable, plugins, os.getpid(), threads), daemon=True,
        name="denoisebench-worker")
    proc.start()
    theirs.close()
    return ours, proc


def _forked(conn, other_end, disable, plugins, parent, threads) -> None:
    import faulthandler

    other_end.close()
    faulthandler.disable()  # the parent's (pytest's) crash dumps: a crash is reported by the pool instead
    deathsig = threading.current_thread() is threading.main_thread()
    serve(conn, disable, plugins, parent=parent, deathsig=deathsig, threads=threads)


@dataclass
class Job:
    task: Task
    skip: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    call: tuple[str, str, int, str] | None = None  # (kind, name, cell index, provider) of the call in progress
    since: float = 0.0


class WorkerPool:
    """Run tasks in up to ``size`` warm worker processes; see the module docstring."""

    def __init__(self, size: int, disable: tuple[str, ...] = (), plugins=None, threads: int | None = None):
        self.size = size
        self.disable = tuple(disable)
        self.plugins = plugins
        self.threads = threads or worker_threads()
        self.workers: list[Worker] = []
        self.failed_starts = 0

    def run(self, tasks: Iterable[Task]) -> Iterator[list[CellResult]]:
        """Yield each task's rows (a culprit's row on its own, as soon as it is known), in completion order.
        The workers stay warm for the next call; they are stopped by :meth:`close`, or when this is interrupted."""
        queue = deque(Job(t) for t in tasks)
        try:
            while queue or any(w.job for w in self.workers):
                self._dispatch(queue)
                busy = [w for w in self.workers if w.job]
                ready = wait([w.conn for w in busy], timeout=self._next_deadline(busy))
                for w in busy:
                    if w.conn in ready:
                        yield from self._receive(w, queue)
                    elif self._overdue(w):
                        yield from self._timed_out(w, queue)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM, the consumer stopped): stop the workers now
            self.close()
            raise

    def close(self) -> None:
        workers, self.workers = self.workers, []
        for w in workers:
            w.close()

    # ----------------------------------------------------------------------------------------------- internals
    def _dispatch(self, queue: deque) -> None:
        for w in [w for w in self.workers if not w.job and w.exit_code(0) is not None]:
            self._discard(w)  # died while idle (killed from outside): replace it quietly
        while queue:
            idle = next((w for w in self.workers if not w.job), None)
            if idle is None:
                if len(self.workers) >= self.size:
                    return
                idle = Worker(self.disable, self.plugins, self.threads)
                self.workers.append(idle)
            job = queue.popleft()
            job.call, job.since = None, time.monotonic()
            idle.job = job
            try:
                idle.conn.send(("task", job.task, job.skip))
            except OSError:
                pass  # the worker is gone: its connection reports end-of-file next

    def _limit(self, w: Worker) -> float:
        if w.job is None:
            return 0.0
        if not w.ready:
            return START_TIMEOUT
        return w.job.task.timeout if w.job.call else 0.0

    def _overdue(self, w: Worker) -> bool:
        limit = self._limit(w)
        return bool(limit) and time.monotonic() - (w.job.since if w.ready else w.started) > limit

    def _next_deadline(self, busy: list[Worker]) -> float | None:
        left = [(w.job.since if w.ready else w.started) + self._limit(w) - time.monotonic()
                for w in busy if self._limit(w)]
        return max(0.0, min(left)) + 0.01 if left else None

    def _receive(self, w: Worker, queue: deque) -> Iterator[list[CellResult]]:
        try:
            message = w.conn.recv()
        except (EOFError, OSError):
            yield from self._died(w, queue, how_it_ended(w.exit_code()))
            return
        kind = message[0]
        if kind == "ready":
            w.ready, self.failed_starts = True, 0
            w.job.since = time.monotonic()
        elif kind == "call":
            w.job.call, w.job.since = tuple(message[1:]), time.monotonic()
        elif kind == "done":
            w.job = None
            yield message[1]
        elif kind == "failed":
            job, w.job = w.job, None
            yield crashed(job.task, f"task failed in the worker process: {message[1]}")

    def _timed_out(self, w: Worker, queue: deque) -> Iterator[list[CellResult]]:
        job = w.job
        w.kill()
        if not w.ready:
            yield from self._died(w, queue, f"did not start within {START_TIMEOUT:g} s")
            return
        limit = job.task.timeout
        kind, name, index, provider = job.call
        what = (f"ran longer than --cell-timeout {limit:g} s and was stopped (its worker process was killed and "
                "replaced); pass a larger --cell-timeout (or 0 for no limit)")
        if kind == "denoise":
            yield self._charge_cell(w, queue, job, index, "timeout", f"the denoiser {what}", provider,
                                    time.monotonic() - job.since)
        else:
            yield from self._charge(w, queue, job, what)

    def _died(self, w: Worker, queue: deque, how: str) -> Iterator[list[CellResult]]:
        job = w.job
        if job.call is None:  # not inside a plugin call: starting up, or between calls
            self._discard(w)
            self.failed_starts = 0 if w.ready else self.failed_starts + 1
            if self.failed_starts >= MAX_FAILED_STARTS:  # no worker can start here: fail fast, not task by task
                why = (f"{MAX_FAILED_STARTS} worker processes in a row {how} while starting (importing the plugins); "
                       "run `denoisebench plugins` to see which plugin fails, and --disable-plugin it")
                yield crashed(job.task, why)
                while queue:
                    yield crashed(queue.popleft().task, why)
                return
            job.attempts += 1
            if job.attempts >= MAX_ATTEMPTS:
                yield crashed(job.task, f"the worker process {how} before running this task "
                                        f"({MAX_ATTEMPTS} times); run `denoisebench plugins` to see if a plugin "
                                        "fails to load")
            else:
                queue.appendleft(job)
            return
        kind, name, index, provider = job.call
        if kind == "denoise":
            why = (f"the worker process {how} while running denoiser {name} (plugin {provider}); the other cells "
                   "of this task were run again in a new worker")
            yield self._charge_cell(w, queue, job, index, "error", why, provider, None)
        else:
            yield from self._charge(w, queue, job, f"the worker process {how} while running it")

    def _charge_cell(self, w: Worker, queue: deque, job: Job, index: int, status: str, why: str, provider: str,
                     seconds: float | None) -> list[CellResult]:
        """The culprit cell's row; the task's other cells go back to the front of the queue."""
        self._discard(w)
        cell = job.task.cells[index]
        rest = job.task.cells[:index] + job.task.cells[index + 1:]
        if rest:
            queue.appendleft(Job(replace(job.task, cells=rest), dict(job.skip)))
        return [CellResult.for_cell(cell, task_seed(job.task), status, error=why, provider=provider,
                                    seconds=seconds)]

    def _charge(self, w: Worker, queue: deque, job: Job, what: str) -> Iterator[list[CellResult]]:
        """A metric (its values become errors, the task runs again without it) or the preparation of the image
        (every cell of the task becomes an error row) was the culprit."""
        self._discard(w)
        kind, name, _, provider = job.call
        if kind == "metric":
            why = f"metric {name} (plugin {provider}): {what}; the task's cells were run again without it"
            queue.appendleft(Job(job.task, {**job.skip, name: why}))
            return
        yield crashed(job.task, f"could not prepare {job.task.cells[0].dataset}/{job.task.image_id} with "
                                f"{job.task.noise.label}: noise model {name} (plugin {provider}) or the dataset "
                                f"loader: {what}")

    def _discard(self, w: Worker) -> None:
        w.job = None
        if w in self.workers:
            self.workers.remove(w)
        w.kill()
        w.conn.close()
