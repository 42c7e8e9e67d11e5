"""The worker process's side of :mod:`denoisebench.engine.pool`: a loop that runs tasks sent over a connection.

A worker is started either as a fresh interpreter (``python -c ...``: the default, it loads the plugins from
their entry points) or forked from a process whose plugin objects it inherits (explicitly passed in-process
plugins, as tests do). Before anything else it

- pins the intra-op thread count of numerical libraries (:data:`THREADS_ENV`), the same in every mode, so a
  value never depends on ``-j``, the executor or the machine's load;
- ignores SIGINT (the user's Ctrl-C stops the run through the main process, which then stops its workers; a
  ``KeyboardInterrupt`` raised by plugin code is that plugin's error) and keeps SIGTERM's default (exit);
- watches its parent: it exits as soon as the parent dies (``PR_SET_PDEATHSIG`` on Linux, and a thread that
  polls the parent's PID everywhere), so a ``kill -9`` of the main process leaves no worker behind.

Messages: the parent sends ``("tasks", chunk, [(task, skip_metrics), ...])`` (one task, or several cheap ones) or
``("stop",)``; the worker answers ``("ready", pid)`` once its plugins are loaded, then per chunk ``("done",
results, loads, seconds)``: every row of the chunk's tasks, the models it loaded meanwhile
(:attr:`denoisebench.engine.worker.WorkerState.loads`) and the seconds the chunk took. Before each plugin call
the worker writes which call it is making into its :class:`CallSlot`, a small block of memory shared with the
parent (no message: a cheap cell costs no extra round trip), which the parent reads only when the worker dies
or may have run past the cell timeout.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import sys
import tempfile
import threading
import time

#: worker processes use this many intra-op threads (torch, OpenMP, BLAS): 1 unless the variable says otherwise
THREADS_ENV = "DENOISEBENCH_THREADS"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def worker_threads() -> int:
    """The intra-op thread count of every worker process (recorded in the run's provenance)."""
    try:
        return max(1, int(os.environ.get(THREADS_ENV, "1")))
    except ValueError:
        return 1


def thread_environment(threads: int) -> dict[str, str]:
    return {name: str(threads) for name in THREAD_VARIABLES}


def pin_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads from now on: the variables (read when torch or a BLAS loads) and, for a
    library already loaded, its own setting."""
    os.environ.update(thread_environment(threads))
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _die_with_parent(parent: int, deathsig: bool) -> None:
    if deathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: the kernel kills us when the parent exits
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before we got here
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="denoisebench-parent-watch", daemon=True).start()


class CallSlot:
    """Which plugin call a worker is making, in memory shared by the worker (the only writer) and its parent.

    The worker writes (chunk, position of the task in the chunk, kind, name, cell index, provider, start time)
    before each plugin call, and kind ``""`` between tasks; the parent reads it when the worker died or may be
    past the cell timeout, to charge that call. A sequence number that is odd while a write is in progress
    keeps the parent from reading half a record. ``since`` is ``time.monotonic()``, the same clock in both
    processes."""

    SIZE = 1024
    _HEAD = struct.Struct("<qqiiidHH")  # seq, chunk, position, kind, index, since, len(name), len(provider)
    KINDS = ("", "prepare", "denoise", "metric")
    _TEXT = (SIZE - _HEAD.size) // 2

    def __init__(self, fd: int | None = None):
        if fd is None:
            fd = os.memfd_create("denoisebench-call") if hasattr(os, "memfd_create") else _temp_fd()
            os.ftruncate(fd, self.SIZE)
        self.fd = fd
        self.mem = mmap.mmap(fd, self.SIZE)
        self._seq = 0

    def write(self, chunk: int, position: int, kind: str, name: str = "", index: int = -1,
              provider: str = "") -> None:
        name_b = name.encode(errors="replace")[: self._TEXT]
        prov_b = provider.encode(errors="replace")[: self._TEXT]
        self._seq += 1
        struct.pack_into("<q", self.mem, 0, self._seq)  # odd: being written
        self._HEAD.pack_into(self.mem, 0, self._seq, chunk, position, self.KINDS.index(kind), index,
                             time.monotonic(), len(name_b), len(prov_b))
        start = self._HEAD.size
        self.mem[start:start + len(name_b)] = name_b
        self.mem[start + self._TEXT:start + self._TEXT + len(prov_b)] = prov_b
        self._seq += 1
        struct.pack_into("<q", self.mem, 0, self._seq)

    def read(self) -> tuple[int, int, str, str, int, str, float]:
        """(chunk, position, kind, name, index, provider, since); chunk -1 when nothing was written yet."""
        for _ in range(100):
            seq, chunk, position, kind, index, since, n_name, n_prov = self._HEAD.unpack_from(self.mem, 0)
            start = self._HEAD.size
            name = bytes(self.mem[start:start + n_name]).decode(errors="replace")
            provider = bytes(self.mem[start + self._TEXT:start + self._TEXT + n_prov]).decode(errors="replace")
            if seq % 2 == 0 and struct.unpack_from("<q", self.mem, 0)[0] == seq:
                break
            time.sleep(0.0001)  # a write in progress (or, the writer dead mid-write, the last record as it is)
        if seq == 0:
            return -1, 0, "", "", -1, "", 0.0
        return chunk, position, self.KINDS[kind], name, index, provider, since

    def close(self) -> None:
        self.mem.close()
        os.close(self.fd)


def _temp_fd() -> int:
    fd, path = tempfile.mkstemp(prefix="denoisebench-call-")
    os.unlink(path)
    return fd


def serve(conn, disable: tuple[str, ...], plugins=None, *, parent: int, deathsig: bool, threads: int,
          slot: CallSlot) -> None:
    """The worker's loop: load the plugins, then run chunks of tasks until told to stop or the connection closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent, deathsig)
    pin_threads(threads)
    from denoisebench.engine.worker import crashed, get_state, run_task

    state = get_state(disable, plugins)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "tasks":
            return
        _, chunk, jobs = message
        t0 = time.perf_counter()
        rows = []
        for position, (task, skip) in enumerate(jobs):
            slot.write(chunk, position, "")

            def report(kind: str, name: str, index: int, provider: str, chunk: int = chunk,
                       position: int = position) -> None:
                slot.write(chunk, position, kind, name, index, provider)

            try:
                rows += run_task(task, disable, plugins, report=report, skip_metrics=skip)
            except BaseException as exc:  # a defect of the harness, not of a plugin: recorded as such
                rows += crashed(task, f"task failed in the worker process: {type(exc).__name__}: {exc}")
        slot.write(chunk, len(jobs), "")
        loads, state.loads = state.loads, []
        conn.send(("done", rows, loads, time.perf_counter() - t0))


def main(fd: int, disable: str, parent: int, deathsig: str, threads: int, path: list[str],
         slot_fd: int = -1) -> None:
    """Entry point of a worker started as a fresh interpreter (see :func:`denoisebench.engine.pool.spawn`)."""
    from multiprocessing.connection import Connection

    for entry in reversed(path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    conn = Connection(fd)
    try:
        serve(conn, tuple(d for d in disable.split(",") if d), parent=parent, deathsig=deathsig == "1",
              threads=threads, slot=CallSlot(slot_fd))
    finally:
        conn.close()
