"""The results store: one SQLite file per run directory; finished cells are committed as they arrive from the
workers (one transaction per batch a worker returns: one task, or a few cheap ones, at most about 0.1 s of work).

A run killed at any point (even ``kill -9``) leaves every committed cell in place; re-running the same command
skips the cells already done (``ok``, ``skipped``, ``unavailable``) and redoes failed ones (and those of a batch
that was not committed yet).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from denoisebench.errors import StoreError
from denoisebench.results import DONE_STATUSES, CellResult

STORE_NAME = "results.sqlite"
LOCK_NAME = "run.lock"
SCHEMA_VERSION = 1

CELL_COLUMNS = (
    "key", "dataset", "image_id", "noise", "noise_level", "noise_params", "noise_key", "clip", "denoiser",
    "params", "repetition", "seed", "status", "error", "seconds", "metric_errors", "provider", "shape",
    "finished_at",
)

_INSERT_CELL = (f"INSERT OR REPLACE INTO cells ({', '.join(CELL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(CELL_COLUMNS))})")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells ({", ".join(c + (" TEXT PRIMARY KEY" if c == "key" else "") for c in CELL_COLUMNS)});
CREATE TABLE IF NOT EXISTS metrics (key TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
                                    PRIMARY KEY (key, metric));
"""


def _guarded(method):
    """Turn SQLite's errors while reading or writing the store into one line saying what to do."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # sqlite3's, or pandas' DatabaseError wrapping it (read_sql_query)
            if isinstance(exc, sqlite3.DatabaseError) or type(exc).__name__ == "DatabaseError":
                raise self.failure(exc) from None
            raise

    return wrapper


class RunLock:
    """An exclusive lock on a run directory while cells run in it (``flock`` on ``run.lock``, which names the
    holder's PID): a second ``run`` on the same directory refuses with one line instead of computing every cell
    again. Released when the holder ends, however it ends; re-entrant within a process."""

    _held: dict[str, list] = {}  # resolved path -> [fd, count]

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir).resolve() / LOCK_NAME

    def __enter__(self) -> RunLock:
        key = str(self.path)
        if key in self._held:
            self._held[key][1] += 1
            return self
        try:
            import fcntl
        except ImportError:  # no flock (Windows): unlocked, as before
            self._held[key] = [None, 1]
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # an unwritable run directory: Store says so in one line
            self._held[key] = [None, 1]
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(f"{self.path.parent}: another denoisebench run (PID {holder}) is running in this run "
                             "directory; wait for it to finish, or pass another --output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._held[key] = [fd, 1]
        return self

    def __exit__(self, *exc: Any) -> None:
        entry = self._held[str(self.path)]
        entry[1] -= 1
        if entry[1] == 0:
            del self._held[str(self.path)]
            if entry[0] is not None:
                os.close(entry[0])  # closing the descriptor releases the flock


class Store:
    def __init__(self, run_dir: str | Path, *, create: bool = False):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STORE_NAME
        if create:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                probe = self.run_dir / ".write-test"
                probe.write_text("ok")
                probe.unlink()
            except OSError as exc:
                raise StoreError(
                    f"{self.run_dir}: cannot write the run directory ({exc.strerror or exc}); pass a writable --output"
                ) from None
        elif not self.path.is_file():
            raise StoreError(f"{self.run_dir}: no {STORE_NAME} here; pass a run directory written by `denoisebench run`")
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            if "malformed" in str(exc) or "full" in str(exc):
                raise self.failure(exc) from None
            raise StoreError(f"{self.path}: not a readable results store ({exc}); pass another run directory") from None
        if create and self.get_meta("schema_version") is None:
            self.set_meta("schema_version", SCHEMA_VERSION)

    def failure(self, exc: Exception) -> StoreError:
        text = str(exc)
        if "full" in text:
            return StoreError(f"{self.path}: cannot write the results store: {text}; free some space and re-run the "
                              "same command to resume (every cell written so far is kept)")
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return StoreError(f"{self.path}: the results store is corrupt ({text}); it is left as it is: start a "
                              "fresh run directory (--output NEW_DIR), or restore a copy of this one")
        return StoreError(f"{self.path}: cannot use the results store ({type(exc).__name__}: {text})")

    # -------------------------------------------------------------------------------------------- meta
    @_guarded
    def set_meta(self, name: str, value: Any) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(value, sort_keys=True)))

    @_guarded
    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    # -------------------------------------------------------------------------------------------- cells
    @_guarded
    def done_keys(self) -> set[str]:
        marks = ",".join("?" * len(DONE_STATUSES))
        return {r[0] for r in self.db.execute(f"SELECT key FROM cells WHERE status IN ({marks})", DONE_STATUSES)}

    def write(self, result: CellResult) -> None:
        """Commit one finished cell (replacing an earlier failed attempt of the same cell)."""
        self.write_many([result])

    @_guarded
    def write_many(self, results: list[CellResult]) -> None:
        """Commit finished cells in one transaction (replacing earlier failed attempts of the same cells): all of
        them are in the store afterwards, or (the process killed meanwhile) none."""
        if not results:
            return
        rows = []
        metrics = []
        for r in results:
            rows.append((r.key, r.dataset, r.image_id, r.noise, r.noise_level, r.noise_params, r.noise_key,
                         int(r.clip), r.denoiser, r.params, r.repetition, r.seed, r.status, r.error, r.seconds,
                         json.dumps(r.metric_errors, sort_keys=True) if r.metric_errors else "{}", r.provider, r.shape, r.finished_at))
            metrics += [(r.key, m, v) for m, v in sorted(r.metrics.items())]
        with self.db:
            self.db.executemany("DELETE FROM metrics WHERE key = ?", [(r[0],) for r in rows])
            self.db.executemany(_INSERT_CELL, rows)
            self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?)", metrics)

    @_guarded
    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM cells WHERE status = ?", (status,)).fetchone()[0]

    @_guarded
    def cells(self):
        """All cells as a DataFrame (one row per cell), sorted by identity, with metric columns pivoted in."""
        import pandas as pd

        cells = pd.read_sql_query(f"SELECT {', '.join(CELL_COLUMNS)} FROM cells", self.db)
        cells["clip"] = cells["clip"].astype(bool)
        metrics = pd.read_sql_query("SELECT key, metric, value FROM metrics", self.db)
        if len(metrics):
            wide = metrics.pivot(index="key", columns="metric", values="value")
            cells = cells.merge(wide, left_on="key", right_index=True, how="left")
        order = ["dataset", "noise", "noise_key", "image_id", "repetition", "denoiser", "params"]
        return cells.sort_values(order, kind="mergesort").reset_index(drop=True)

    def frame(self):
        """The long form: one row per cell and metric (wall time appears as metric ``time``)."""
        import pandas as pd

        cells = self.cells()
        ids = [c for c in CELL_COLUMNS if c in cells.columns]
        metric_cols = [c for c in cells.columns if c not in ids]
        long = cells.melt(id_vars=ids, value_vars=metric_cols, var_name="metric", value_name="value")
        timing = cells[ids].assign(metric="time", value=cells["seconds"])
        timing = timing[timing["denoiser"] != "noisy"]
        out = pd.concat([long, timing], ignore_index=True)
        return out.sort_values(["dataset", "noise", "noise_key", "image_id", "repetition", "denoiser", "params",
                                "metric"], kind="mergesort").reset_index(drop=True)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
