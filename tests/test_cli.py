"""The command line: one-line errors with non-zero exit, list/plugins, run + report round trip."""

import os
import subprocess
import sys

import pytest

from denoisebench.cli import main


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--denoisers", "nope"], "unknown denoiser 'nope'; choose one of:"),
    (["run", "--noise", "gaussian:sigma=-5"], "sigma=-5 is invalid"),
    (["run", "--noise", "salt_pepper:amount=2"], "amount=2 is invalid"),
    (["run", "--dataset", "nosuchset"], "unknown dataset 'nosuchset'"),
    (["run", "--param", "median.bogus=3"], "median has no parameter 'bogus'"),
    (["run", "-j", "0"], "--jobs 0"),
    (["run", "--threshold", "1.5"], "threshold=1.5"),
    (["run", "--metric-option", "mse.x=1"], "no option"),
    (["run", "--metric-option", "psnr.x=1"], "unknown option 'x'; valid: channel"),
    (["run", "--metric-option", "psnr.channel=lab"], "channel='lab' is invalid; pass rgb"),
    (["report", "/nonexistent/run"], "no results.sqlite here"),
])
def test_bad_input_gives_one_line_and_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unwritable_output_dir_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["run", "--denoisers", "median", "--noise", "gaussian:25", "--max-images", "1",
            "--output", str(blocker / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write the run directory" in err and len(err.splitlines()) == 1


def test_list_and_plugins(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("median", "wiener", "switching_median", "gaussian", "salt_pepper", "psnr", "ssim", "embedded"):
        assert name in out
    assert main(["plugins"]) == 0
    assert "classical" in capsys.readouterr().out


def test_run_then_report_rerenders_the_same_tables(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["run", "--denoisers", "median,mean", "--noise", "gaussian:25", "--metrics", "psnr,ssim",
            "--max-images", "2", "--output", str(run_dir)]
    assert main(argv) == 0
    first = (run_dir / "report.md").read_text()
    assert "Table 4" in first and "median" in first
    assert (run_dir / "results.sqlite").is_file() and any((run_dir / "tables").glob("*.csv"))
    capsys.readouterr()
    # re-running the same command resumes: nothing left to do
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    (run_dir / "report.md").unlink()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.md").read_text().split("## Conventions")[1] == first.split("## Conventions")[1]


def test_python_dash_m_and_debug_traceback(tmp_path):
    env = {**os.environ, "COLUMNS": "120"}
    out = subprocess.run([sys.executable, "-m", "denoisebench", "--version"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0 and "denoisebench" in out.stdout
    dbg = subprocess.run([sys.executable, "-m", "denoisebench", "run", "--debug", "--denoisers", "nope"],
                         capture_output=True, text=True, env=env)
    assert dbg.returncode != 0 and "Traceback" in dbg.stderr


def test_run_status_lines_fit_80_columns_without_breaking_a_path(tmp_path, monkeypatch, capsys):
    """The run's first and last lines name paths: on one line when it fits, else one part per line."""
    from denoisebench.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    out_dir = tmp_path / ("a-directory-name-long-enough-to-push-the-status-line-past-eighty-columns") / "run"
    assert main(["run", "--denoisers", "mean", "--noise", "gaussian:25", "--metrics", "psnr", "--output",
                 str(out_dir), "--summary-only"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("progress")]
    assert f"run directory: {out_dir}" in lines  # the path whole, on its own line
    assert "(16 cells, 16 to run; 1 denoiser × 1 noise setting × 8 images)" in lines
    assert f"report: {out_dir / 'report.md'}" in lines
    assert any(line.startswith("16 ok in ") and line.endswith(" s;") for line in lines)
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["run", "--denoisers", "mean", "--noise", "gaussian:25", "--metrics", "psnr", "--output",
                 str(tmp_path / "wide"), "--summary-only"]) == 0
    wide = capsys.readouterr().out
    assert f"run directory: {tmp_path / 'wide'}  (16 cells, 16 to run; 1 denoiser" in wide
