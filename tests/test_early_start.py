"""``run`` starts its local workers before the main process loads its plugins (issue 19): the run takes those
workers over, other commands start none, and when the run needs other workers (a plugin that failed to load in
the main process must not be loaded by them) the early ones are stopped unused."""

from __future__ import annotations

import os

import pytest

from denoisebench.cli import main
from denoisebench.cli.run import start_workers_early
from denoisebench.engine.local import close_warm_pool, warm_worker_pids
from denoisebench.store import Store
from tests.fakedist import install, write_distribution

SELECTION = ["--denoisers", "mean", "--metrics", "psnr", "--noise", "gaussian:25", "--max-images", "2", "--quiet",
             "--no-figures"]


@pytest.fixture(autouse=True)
def no_warm_pool():
    close_warm_pool()
    yield
    close_warm_pool()


def worker_pids_of(run_dir) -> set[int]:
    with Store(run_dir) as store:
        return {r["worker"] for r in store.get_meta("provenance")[-1]["model_loads"]}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_run_takes_over_the_workers_started_early(tmp_path):
    argv = ["run", *SELECTION, "-j", "2", "--output", str(tmp_path / "run")]
    start_workers_early(argv)
    early = warm_worker_pids()
    assert len(early) == min(2, os.cpu_count() or 1)
    assert main(argv) == 0
    used = worker_pids_of(tmp_path / "run")
    assert used and used <= set(early)  # no other worker ran a cell


@pytest.mark.parametrize("argv", [["report", "somewhere"], ["run", "--dry-run"], ["run", "--executor", "dask"],
                                  ["run", "-j", "0"], ["run", "--jobs", "two"], ["run", "--help"], ["run", "-h"],
                                  ["--debug"], []])
def test_nothing_is_started_for_other_commands_or_bad_arguments(argv, capsys):
    start_workers_early(argv)
    assert warm_worker_pids() == []
    assert capsys.readouterr() == ("", "")  # the real parser reports bad arguments, once


def test_early_workers_are_stopped_when_a_plugin_failed_to_load_here(tmp_path, monkeypatch):
    root = write_distribution(tmp_path / "site", "broken-at-import", "1.0", {"broken": "broken_at_import"},
                              {"broken_at_import": "raise RuntimeError('this plugin cannot be imported')\n"})
    install(monkeypatch, root, ["broken_at_import"])
    argv = ["run", *SELECTION, "--output", str(tmp_path / "run")]
    start_workers_early(argv)
    early = warm_worker_pids()
    assert len(early) == 1
    assert main(argv) == 0
    used = worker_pids_of(tmp_path / "run")
    assert used and not used & set(early)  # the workers that loaded the broken plugin ran nothing
    assert not alive(early[0])
