"""The runner: runs a plan's pending cells through an executor and writes the finished cells to the store as
they come back (one transaction per batch the executor yields).

The runner is the only writer of the store; executors only run tasks and yield their results. The models the
workers loaded (and warmed up) are recorded in the run's provenance, with the seconds that took
(:func:`denoisebench.engine.provenance.record_model_loads`): those seconds are in no cell's time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from denoisebench.engine.grid import Plan
from denoisebench.engine.provenance import record_model_loads
from denoisebench.results import CellResult
from denoisebench.store import RunLock, Store


def execute(plan: Plan, store: Store, executor, plugins,
            on_result: Callable[[CellResult], None] | None = None) -> dict[str, int]:
    """Run the cells not yet done; write each finished cell; return counts by status for this invocation.

    Holds the run directory's :class:`~denoisebench.store.RunLock` meanwhile: a second run on it refuses."""
    with RunLock(store.run_dir):
        return _execute(plan, store, executor, plugins, on_result)


def _execute(plan, store, executor, plugins, on_result) -> dict[str, int]:
    done = store.done_keys()
    pending = []
    for task in plan.tasks:
        cells = tuple(c for c in task.cells if c.key not in done) if done else task.cells
        if len(cells) == len(task.cells):
            pending.append(task)
        elif cells:
            pending.append(dataclasses.replace(task, cells=cells))
    counts: dict[str, int] = {}
    problems = []
    observed = bool(plugins.pm.hook.denoisebench_cell_finished.get_hookimpls())
    try:
        for results in executor.run(pending):
            store.write_many(results)
            for result in results:
                counts[result.status] = counts.get(result.status, 0) + 1
                if observed:
                    problems += plugins.notify("denoisebench_cell_finished", result=result)
                if on_result:
                    on_result(result)
    finally:
        take = getattr(executor, "take_loads", None)
        if take is not None:
            record_model_loads(store, take())
    if plugins.pm.hook.denoisebench_run_finished.get_hookimpls():  # the long frame only when someone observes
        problems += plugins.notify("denoisebench_run_finished", results=store.frame(), config=plan.config)
    if problems:
        store.set_meta("observer_errors", problems)
    return counts


def pending_count(plan: Plan, store: Store) -> int:
    done = store.done_keys()
    if not done:  # a new run: no cell key is needed yet (the pool computes them while the first tasks run)
        return sum(len(t.cells) for t in plan.tasks)
    return sum(1 for t in plan.tasks for c in t.cells if c.key not in done)
