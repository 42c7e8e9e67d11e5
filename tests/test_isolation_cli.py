"""Issue 13 through the command line, with a hostile plugin *installed*: a throw-away distribution (dist-info +
module) on PYTHONPATH, so the spawned worker processes discover it from its entry point as they would a
pip-installed plugin. Covers the exit status and its one-line summary under --quiet, --allow-errors, resume
retrying only the failed cells, the run-directory lock, a ``kill -9`` of the main process leaving no worker, and
plugins that exit, raise KeyboardInterrupt or hang at import.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from denoisebench.cli import main

HOSTILE = '''
import os, signal, time
import numpy as np
from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser


class Segv(Denoiser):
    name = "segv"
    description = "segfaults"

    def denoise(self, noisy, *, noise=None, rng=None):
        os.kill(os.getpid(), signal.SIGSEGV)


class Hang(Denoiser):
    name = "hang"
    description = "hangs"

    def denoise(self, noisy, *, noise=None, rng=None):
        time.sleep(600)
        return noisy.copy()


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Segv)
    registry.add(Hang)
'''


def write_dist(root: Path, dist: str, module: str, source: str) -> None:
    info = root / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[denoisebench]\n{module} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-site")
    write_dist(root, "zz-hostile", "zz_hostile", HOSTILE)
    return root


def cli(site, *args, **kw):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "denoisebench", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


RUN = ["run", "--noise", "gaussian:25", "--max-images", "2", "--metrics", "psnr", "--no-figures", "--quiet"]


def statuses(run_dir: Path) -> dict[str, list[str]]:
    with sqlite3.connect(run_dir / "results.sqlite") as db:
        rows = db.execute("SELECT denoiser, status, error FROM cells ORDER BY denoiser, image_id").fetchall()
    out: dict[str, list[str]] = {}
    for den, status, error in rows:
        out.setdefault(den, []).append(status if status == "ok" else f"{status}: {error}")
    return out


def test_segfault_is_a_culprit_row_exit_status_and_resume(site, tmp_path):
    out = tmp_path / "run"
    proc = cli(site, *RUN, "--denoisers", "median,segv", "--output", str(out))
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 3, stderr
    assert "4 ok" in stdout and "2 error" in stdout  # the one-line summary, even with --quiet
    assert "2 cells failed" in stdout and "--allow-errors" in stdout
    rows = statuses(out)
    assert rows["noisy"] == rows["median"] == ["ok", "ok"]
    for row in rows["segv"]:
        assert "was killed by signal 11 (SIGSEGV) while running denoiser segv (plugin zz_hostile (zz-hostile 1.0))" \
            in row
    # resume retries only the failed cells; --allow-errors keeps the old exit status
    proc = cli(site, *RUN, "--denoisers", "median,segv", "--output", str(out), "--allow-errors")
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert stdout.startswith("2 error in"), stdout


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_lock_and_kill_9_of_the_main_process_leaves_no_worker(site, tmp_path):
    out = tmp_path / "run"
    first = cli(site, *RUN, "--denoisers", "hang", "--cell-timeout", "0", "--output", str(out))
    try:
        deadline = time.monotonic() + 120
        while not _children(first.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(first.pid)
        assert workers, "no worker process started"
        # a second run on the same directory refuses with one line naming the holder
        second = cli(site, *RUN, "--denoisers", "hang", "--output", str(out))
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2
        assert f"another denoisebench run (PID {first.pid}) is running in this run directory" in err
        assert len(err.strip().splitlines()) == 1
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "worker processes outlived the main process"


IMPORT_FAULTS = {
    "zz_exits": "import sys\nsys.exit(5)\n",
    "zz_interrupts": "raise KeyboardInterrupt\n",
    "zz_hangs": "import time\ntime.sleep(600)\n",
}


def test_plugins_that_exit_or_hang_at_import_are_reported(tmp_path, monkeypatch, capsys):
    for module, source in IMPORT_FAULTS.items():
        write_dist(tmp_path, module.replace("_", "-"), module, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DENOISEBENCH_IMPORT_TIMEOUT", "1")
    monkeypatch.setenv("COLUMNS", "250")
    try:
        assert main(["plugins"]) == 0
        out = capsys.readouterr().out
        lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
        assert "error" in lines["zz_exits"] and "exited with code 5 during import" in lines["zz_exits"]
        assert "raised KeyboardInterrupt during import" in lines["zz_interrupts"]
        assert "timed out after 1 s during import" in lines["zz_hangs"]
        assert main(["list", "denoisers"]) == 0
        assert "median" in capsys.readouterr().out
    finally:
        for module in IMPORT_FAULTS:
            sys.modules.pop(module, None)


STARTKILL = '''
import os, sys
if sys.argv[:1] == ["-c"] and "denoisebench.engine.child" in sys.modules:  # only in worker processes
    os._exit(9)
'''


def test_workers_that_cannot_start_fail_the_run_fast(tmp_path):
    site = tmp_path / "site"
    write_dist(site, "zz-startkill", "zz_startkill", STARTKILL)
    out = tmp_path / "run"
    proc = cli(site, *RUN, "--denoisers", "median", "--max-images", "3", "--output", str(out))
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 3, stderr
    rows = statuses(out)
    assert len(rows["median"]) == len(rows["noisy"]) == 3
    every = rows["median"] + rows["noisy"]
    assert all(r.startswith("error: ") and "exited with code 9" in r and "denoisebench plugins" in r for r in every)
    # the first task was tried twice; then the third failed start in a row fails the rest without more tries
    assert sum("3 worker processes in a row exited with code 9 while starting" in r for r in every) == 4
