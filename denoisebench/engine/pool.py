"""A pool of warm worker processes that charges a crash, an exit or a timeout to the one plugin call that caused it.

Every denoiser and metric call runs in a worker process (:mod:`denoisebench.engine.child`), in every mode: ``-j 1``
is one worker. A worker reports each plugin call before making it, so when it dies (exit, signal, OOM kill) or
runs past the cell timeout (the pool kills it: a timeout cannot be caught), the pool knows the culprit:

- a denoiser call (constructing or calling it): that cell becomes an ``error`` (``timeout``) row naming the
  denoiser, the exit code or signal and the plugin that provided it; the task's other cells are sent again;
- a metric call: the task is sent again without that metric, whose values become errors saying why;
- preparing the image (dataset load, noise model): every cell of the task becomes an error row;
- anything else (the worker died starting up, or between calls): the task is sent again, once.

The worker does not message the pool before each call: it writes the call into a :class:`CallSlot` (memory
shared with the pool), which the pool reads only when the worker died or may be past the timeout. Cheap tasks
travel in chunks (as many as take about :data:`CHUNK_SECONDS`, measured as the run goes), one message each way
per chunk; a chunk's finished tasks are sent back with it, so when a worker dies in a chunk its other tasks are
run again (their values do not depend on where they run).

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
from itertools import islice
from multiprocessing.connection import Connection, wait

from denoisebench.engine.child import CallSlot, serve, thread_environment, worker_threads
from denoisebench.engine.worker import crashed, task_seed
from denoisebench.results import CellResult, Task

#: a task whose worker died outside any plugin call this many times becomes error rows
MAX_ATTEMPTS = 2
#: seconds a worker may take to start and load its plugins
START_TIMEOUT = 300.0
#: this many workers in a row dying before they are ready fail the run's remaining tasks
MAX_FAILED_STARTS = 3
#: a chunk of cheap tasks sent to a worker in one message takes about this many seconds (never more tasks than
#: spread the remaining ones over every worker)
CHUNK_SECONDS = 0.1
#: at most this many tasks per chunk
MAX_CHUNK = 64


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
    """One worker process, the parent's end of its connection and its call slot."""

    def __init__(self, disable: tuple[str, ...], plugins, threads: int):
        self.slot = CallSlot()
        self.conn, self.proc = (_fork if plugins is not None else _spawn)(disable, plugins, threads, self.slot)
        self.ready = False
        self.jobs: list[Job] | None = None  # the chunk it is running
        self.chunk = 0  # its number (the slot says which chunk it describes)
        self.sent = 0.0
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self) -> tuple[int, tuple[str, str, int, str] | None, float]:
        """(position in the chunk, (kind, name, index, provider) of the plugin call in progress or None, its
        start): what the slot says about the current chunk."""
        chunk, position, kind, name, index, provider, since = self.slot.read()
        if chunk != self.chunk:  # nothing written for this chunk yet
            return 0, None, self.sent
        return position, ((kind, name, index, provider) if kind else None), since

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
        self.ask_to_stop()
        self.finish(time.monotonic() + 1.0)

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except OSError:
            pass

    def finish(self, deadline: float) -> None:
        """Wait until ``deadline`` for the worker to exit after :meth:`ask_to_stop`, kill it if it has not."""
        if self.exit_code(max(0.0, deadline - time.monotonic())) is None:
            self.kill()
        self.release()

    def release(self) -> None:
        self.conn.close()
        if not isinstance(self.proc, subprocess.Popen):
            self.proc.join(0)
        if self.slot is not None:
            self.slot.close()
            self.slot = None


def _spawn(disable, plugins, threads, slot):
    ours, theirs = socket.socketpair()
    fd = theirs.fileno()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # above the package
    deathsig = "1" if threading.current_thread() is threading.main_thread() else "0"
    code = (f"import sys; sys.path.insert(0, {root!r}); from denoisebench.engine.child import main; "
            f"main({fd}, {','.join(disable)!r}, {os.getpid()}, {deathsig!r}, {threads}, {sys.path!r}, {slot.fd})")
    env = {**os.environ, **thread_environment(threads)}
    proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(fd, slot.fd), env=env,
                            stdin=subprocess.DEVNULL)
    theirs.close()
    return Connection(ours.detach()), proc


def _fork(disable, plugins, threads, slot):
    ours, theirs = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(
        target=_forked, args=(theirs, ours, disable, plugins, os.getpid(), threads, slot), daemon=True,
        name="denoisebench-worker")
    proc.start()
    theirs.close()
    return ours, proc


def _forked(conn, other_end, disable, plugins, parent, threads, slot) -> None:
    import faulthandler

    other_end.close()
    faulthandler.disable()  # the parent's (pytest's) crash dumps: a crash is reported by the pool instead
    deathsig = threading.current_thread() is threading.main_thread()
    serve(conn, disable, plugins, parent=parent, deathsig=deathsig, threads=threads, slot=slot)


@dataclass
class Job:
    task: Task
    skip: dict[str, str] = field(default_factory=dict)
    attempts: int = 0


class WorkerPool:
    """Run tasks in up to ``size`` warm worker processes; see the module docstring."""

    def __init__(self, size: int, disable: tuple[str, ...] = (), plugins=None, threads: int | None = None):
        self.size = size
        self.disable = tuple(disable)
        self.plugins = plugins
        self.threads = threads or worker_threads()
        self.workers: list[Worker] = []
        self.failed_starts = 0
        #: seconds one task takes in a worker (running mean), which sizes the chunks; None until one is back
        self.task_seconds: float | None = None
        #: the models the workers loaded (``WorkerState.loads`` records with the worker's PID), until taken
        self.loads: list[dict] = []

    def run(self, tasks: Iterable[Task]) -> Iterator[list[CellResult]]:
        """Yield rows as they come back (the rows of a chunk of tasks together; a culprit's row on its own, as
        soon as it is known), in completion order. The workers stay warm for the next call; they are stopped by
        :meth:`close`, or when this is interrupted."""
        queue = deque(Job(t) for t in tasks)
        try:
            while queue or any(w.jobs for w in self.workers):
                self._dispatch(queue)
                busy = [w for w in self.workers if w.jobs]
                ready = wait([w.conn for w in busy], timeout=self._next_deadline(busy))
                for w in busy:
                    if w.conn in ready:
                        yield from self._receive(w, queue)
                    elif self._overdue(w):
                        yield from self._timed_out(w, queue)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM, the consumer stopped): stop the workers now
            self.close()
            raise

    def prestart(self, n: int = 1) -> None:
        """Start up to ``n`` workers now (they load their plugins while the caller prepares the run)."""
        while len(self.workers) < min(n, self.size):
            self.workers.append(Worker(self.disable, self.plugins, self.threads))

    def take_loads(self) -> list[dict]:
        loads, self.loads = self.loads, []
        return loads

    def close(self) -> None:
        """Stop every worker: all are asked at once, then given a second (together) before being killed."""
        workers, self.workers = self.workers, []
        for w in workers:
            w.ask_to_stop()
        deadline = time.monotonic() + 1.0
        for w in workers:
            w.finish(deadline)

    # ----------------------------------------------------------------------------------------------- internals
    def _chunk_size(self, queued: int) -> int:
        if not self.task_seconds or queued <= 1:
            return 1
        by_time = int(CHUNK_SECONDS / self.task_seconds)
        return max(1, min(by_time, MAX_CHUNK, queued // (2 * self.size)))

    def _dispatch(self, queue: deque) -> None:
        for w in [w for w in self.workers if not w.jobs and w.exit_code(0) is not None]:
            self._discard(w)  # died while idle (killed from outside): replace it quietly
        while queue:
            idle = next((w for w in self.workers if not w.jobs), None)
            if idle is None:
                if len(self.workers) >= self.size:
                    return
                idle = Worker(self.disable, self.plugins, self.threads)
                self.workers.append(idle)
            n = self._chunk_size(len(queue))
            jobs = [queue.popleft() for _ in range(min(n, len(queue)))]
            idle.jobs, idle.chunk, idle.sent = jobs, idle.chunk + 1, time.monotonic()
            try:
                idle.conn.send(("tasks", idle.chunk, [(j.task, j.skip) for j in jobs]))
            except OSError:
                pass  # the worker is gone: its connection reports end-of-file next
            for job in islice(queue, n):  # the next chunk's cell keys, while this one runs (not while it waits)
                job.task.prepare()

    def _limit(self, w: Worker) -> float:
        """The seconds the worker's current call may take (START_TIMEOUT while it starts; 0: no limit)."""
        if not w.jobs:
            return 0.0
        return w.jobs[0].task.timeout if w.ready else START_TIMEOUT

    def _deadline(self, w: Worker) -> float | None:
        limit = self._limit(w)
        if not limit:
            return None
        if not w.ready:
            return w.started + limit
        _, call, since = w.call()
        # between calls: no call can end before now + limit, so look again then
        return since + limit if call else time.monotonic() + limit

    def _overdue(self, w: Worker) -> bool:
        if not w.ready:
            return bool(self._limit(w)) and time.monotonic() - w.started > self._limit(w)
        limit = self._limit(w)
        if not limit:
            return False
        _, call, since = w.call()
        return call is not None and time.monotonic() - since > limit

    def _next_deadline(self, busy: list[Worker]) -> float | None:
        left = [d - time.monotonic() for d in map(self._deadline, busy) if d is not None]
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
        elif kind == "done":
            _, rows, loads, seconds = message
            jobs, w.jobs = w.jobs, None
            per_task = seconds / len(jobs)
            self.task_seconds = per_task if self.task_seconds is None else 0.7 * self.task_seconds + 0.3 * per_task
            self.loads += [{**load, "worker": w.pid} for load in loads]
            self._dispatch(queue)  # the worker's next chunk goes out before the caller stores these rows
            yield rows

    def _culprit(self, w: Worker, queue: deque) -> tuple[Job | None, tuple | None, float]:
        """The job the worker was running when it died or was stopped (the others of its chunk go back to the
        front of the queue, in order), the plugin call it was in (or None) and when that call started."""
        position, call, since = w.call()
        jobs = w.jobs
        culprit = jobs[position] if position < len(jobs) else None
        queue.extendleft(reversed([j for j in jobs if j is not culprit]))
        return culprit, call, since

    def _timed_out(self, w: Worker, queue: deque) -> Iterator[list[CellResult]]:
        if not w.ready:
            w.kill()
            yield from self._died(w, queue, f"did not start within {START_TIMEOUT:g} s")
            return
        limit = w.jobs[0].task.timeout
        w.kill()
        job, call, since = self._culprit(w, queue)
        self._discard(w)
        kind, name, index, provider = call
        what = (f"ran longer than --cell-timeout {limit:g} s and was stopped (its worker process was killed and "
                "replaced); pass a larger --cell-timeout (or 0 for no limit)")
        if kind == "denoise":
            yield self._charge_cell(queue, job, index, "timeout", f"the denoiser {what}", provider,
                                    time.monotonic() - since)
        else:
            yield from self._charge(queue, job, call, what)

    def _died(self, w: Worker, queue: deque, how: str) -> Iterator[list[CellResult]]:
        job, call, _ = self._culprit(w, queue)
        ready = w.ready
        self._discard(w)
        if call is None:  # not inside a plugin call: starting up, or between calls
            self.failed_starts = 0 if ready else self.failed_starts + 1
            if self.failed_starts >= MAX_FAILED_STARTS:  # no worker can start here: fail fast, not task by task
                why = (f"{MAX_FAILED_STARTS} worker processes in a row {how} while starting (importing the plugins); "
                       "run `denoisebench plugins` to see which plugin fails, and --disable-plugin it")
                if job is not None:
                    yield crashed(job.task, why)
                while queue:
                    yield crashed(queue.popleft().task, why)
                return
            if job is None:  # after its chunk's last task: the chunk runs again
                return
            job.attempts += 1
            if job.attempts >= MAX_ATTEMPTS:
                yield crashed(job.task, f"the worker process {how} before running this task "
                                        f"({MAX_ATTEMPTS} times); run `denoisebench plugins` to see if a plugin "
                                        "fails to load")
            else:
                queue.appendleft(job)
            return
        kind, name, index, provider = call
        if kind == "denoise":
            why = (f"the worker process {how} while running denoiser {name} (plugin {provider}); the other cells "
                   "of this task were run again in a new worker")
            yield self._charge_cell(queue, job, index, "error", why, provider, None)
        else:
            yield from self._charge(queue, job, call, f"the worker process {how} while running it")

    def _charge_cell(self, queue: deque, job: Job, index: int, status: str, why: str, provider: str,
                     seconds: float | None) -> list[CellResult]:
        """The culprit cell's row; the task's other cells go back to the front of the queue."""
        cell = job.task.cells[index]
        rest = job.task.cells[:index] + job.task.cells[index + 1:]
        if rest:
            queue.appendleft(Job(replace(job.task, cells=rest), dict(job.skip)))
        return [CellResult.for_cell(cell, task_seed(job.task), status, error=why, provider=provider,
                                    seconds=seconds)]

    def _charge(self, queue: deque, job: Job, call: tuple, what: str) -> Iterator[list[CellResult]]:
        """A metric (its values become errors, the task runs again without it) or the preparation of the image
        (every cell of the task becomes an error row) was the culprit."""
        kind, name, _, provider = call
        if kind == "metric":
            why = f"metric {name} (plugin {provider}): {what}; the task's cells were run again without it"
            queue.appendleft(Job(job.task, {**job.skip, name: why}))
            return
        yield crashed(job.task, f"could not prepare {job.task.cells[0].dataset}/{job.task.image_id} with "
                                f"{job.task.noise.label}: noise model {name} (plugin {provider}) or the dataset "
                                f"loader: {what}")

    def _discard(self, w: Worker) -> None:
        w.jobs = None
        if w in self.workers:
            self.workers.remove(w)
        w.kill()
        w.release()
