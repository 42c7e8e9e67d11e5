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

Messages: the parent sends ``("task", task, skip_metrics)`` or ``("stop",)``; the worker answers
``("ready", pid)`` once its plugins are loaded, then per task ``("call", kind, name, index, provider)`` before each
plugin call and ``("done", results)`` at the end (``("failed", text)`` if the task function itself raised).
"""

from __future__ import annotations

import os
import signal
import sys
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


def serve(conn, disable: tuple[str, ...], plugins=None, *, parent: int, deathsig: bool, threads: int) -> None:
    """The worker's loop: load the plugins, then run tasks until told to stop or the connection closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent, deathsig)
    pin_threads(threads)
    from denoisebench.engine.worker import get_state, run_task

    get_state(disable, plugins)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "task":
            return
        _, task, skip = message

        def report(kind: str, name: str, index: int, provider: str) -> None:
            conn.send(("call", kind, name, index, provider))

        try:
            results = run_task(task, disable, plugins, report=report, skip_metrics=skip)
        except BaseException as exc:  # a defect of the harness, not of a plugin: the parent records it
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
            continue
        conn.send(("done", results))


def main(fd: int, disable: str, parent: int, deathsig: str, threads: int, path: list[str]) -> None:
    """Entry point of a worker started as a fresh interpreter (see :func:`denoisebench.engine.pool.spawn`)."""
    from multiprocessing.connection import Connection

    for entry in reversed(path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    conn = Connection(fd)
    try:
        serve(conn, tuple(d for d in disable.split(",") if d), parent=parent, deathsig=deathsig == "1",
              threads=threads)
    finally:
        conn.close()
