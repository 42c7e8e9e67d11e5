"""The one-glance summary at the end of a run: best denoiser per noise type and metric, its margin over the
runner-up and a paired t-test, checked against an independent computation from the stored cells."""

from __future__ import annotations

import pytest
from scipy import stats as ss

from denoisebench.cli import main
from denoisebench.store import Store


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("summary") / "run"
    assert main(["run", "--denoisers", "median,wiener,gaussian", "--noise", "gaussian:25,salt_pepper:10%",
                 "--max-images", "4", "--metrics", "psnr,ssim", "--quiet", "--no-figures", "--output",
                 str(out)]) == 0
    return out


def test_summary_lines_match_the_stored_values(run_dir):
    from denoisebench.reporting.tables import build_report

    with Store(run_dir) as store:
        cells = store.cells()
        report = build_report(store)
    den = cells[cells["denoiser"] != "noisy"]
    for noise in ("gaussian", "salt_pepper"):
        wide = den[den["noise"] == noise].pivot_table(index="image_id", columns="denoiser", values="psnr")
        order = wide.mean().sort_values(ascending=False).index
        best, second = order[0], order[1]
        p = ss.ttest_rel(wide[best], wide[second]).pvalue
        line = next(x for x in report.summary if x.startswith(f"{noise} PSNR:"))
        assert line.startswith(f"{noise} PSNR: {best} {wide[best].mean():.2f} dB, "
                               f"+{wide[best].mean() - wide[second].mean():.2f} over {second}")
        assert (" *," in line) == (p < 0.05)
    assert report.summary[-1] == f"cells not ok: 0 of {len(cells)}"
    assert "## Summary" in (run_dir / "report.md").read_text()


def test_summary_only_prints_the_summary_at_80_columns(run_dir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    assert main(["report", str(run_dir), "--summary-only", "--no-figures"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert not any(line.startswith(("┏", "│")) for line in out)  # no tables
    assert any(line.startswith("gaussian PSNR: ") for line in out)
    assert all(len(line) <= 80 for line in out)
    assert out[-1].startswith("report: ") and out[-1].endswith(("report.md", "report.html"))


def test_plain_progress_lines_without_a_terminal(tmp_path, capsys, monkeypatch):
    """Under nohup or in a CI log (stdout not a TTY) a run prints a plain progress line every N seconds."""
    from denoisebench.reporting import console

    monkeypatch.setattr(console, "PLAIN_EVERY", 0.0)
    capsys.readouterr()
    assert main(["run", "--denoisers", "median", "--noise", "gaussian:25", "--max-images", "2", "--metrics", "psnr",
                 "--no-figures", "--summary-only", "--output", str(tmp_path / "r")]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("progress: ")]
    assert lines[0].startswith("progress: 1/4 cells, 0 errors") and lines[-1].startswith("progress: 4/4 cells")
