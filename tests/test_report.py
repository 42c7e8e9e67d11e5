"""The full report from a small real run: every table, Markdown / CSV / LaTeX files, figures, selection, n/a cases,
and byte-identical rendering of the same configuration without timings."""

import math

import pandas as pd
import pytest
from scipy import stats as ss

from denoisebench.cli import main
from denoisebench.reporting.files import write_report
from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

METRICS = "psnr,ssim,mse,pearson,accuracy,precision,recall,f1,roc_auc,tp,fp,tn,fn"
RUN = ["run", "--denoisers", "median,mean,gaussian", "--noise", "gaussian:25,salt_pepper:10%", "--max-images", "3",
       "--metrics", METRICS, "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    assert main([*RUN, "--no-figures", "--output", str(out)]) == 0
    assert not (out / "figures").exists()
    return out


@pytest.fixture(scope="module")
def report(run_dir):
    with Store(run_dir) as store:
        return build_report(store)


def test_every_table_present(report):
    keys = [t.key for t in report.tables]
    for key in ("table1", "table1_confusion", "table2", "table3_psnr", "table3_ssim", "table4", "pairwise",
                "mean_pearson", "correlation", "mean_psnr", "mean_ssim"):
        assert key in keys
    # Table 3 and the per-setting tables cover every summary metric of the run, primary ones (psnr, ssim) first;
    # the pixel counts (tp, fp, tn, fn) are bookkeeping, not summarised
    summary = ["psnr", "ssim", "mse", "pearson", "accuracy", "precision", "recall", "f1", "roc_auc"]  # declared order
    assert [t.key for t in report.select(["3"])] == [f"table3_{m}" for m in summary]
    assert [k for k in keys if k.startswith("mean_")] == [f"mean_{m}" for m in summary]
    assert [t.key for t in report.select(["table1"])] == ["table1", "table1_confusion"]
    header = "\n".join(report.header)
    for fragment in ("unit of analysis: image", "pairing:", "correction: Holm", "Otsu threshold", "seed: 0",
                     "failed or not ok: 0"):
        assert fragment in header


def test_chosen_and_reference_come_from_the_data(run_dir, report):
    """No plugin name in the defaults: Table 2's denoiser is the best by mean per-image PSNR, the pairwise
    reference the second best, both stated in the header."""
    with Store(run_dir) as store:
        cells = store.cells()
    per_image = cells[cells["denoiser"] != "noisy"].groupby(["denoiser", "image_id"])["psnr"].mean()
    ranked = per_image.groupby("denoiser").mean().sort_values(ascending=False).index.tolist()
    header = "\n".join(report.header)
    assert f"Table 2 denoiser: {ranked[0]} (best by mean per-image PSNR)" in header
    assert f"pairwise reference denoiser: {ranked[1]} (second best by mean per-image PSNR)" in header
    assert report.table("table2").title.endswith(f"vs {ranked[0]}")
    assert set(report.table("pairwise").data["reference"]) == {ranked[1]}
    with Store(run_dir) as store:
        named = build_report(store, chosen="gaussian", reference="nosuch")
    header = "\n".join(named.header)
    assert "Table 2 denoiser: gaussian (--chosen gaussian)" in header
    assert f"pairwise reference denoiser: {ranked[1]} (second best by mean per-image PSNR); --reference nosuch " \
           "did not run" in header


def test_numbers_match_an_independent_computation(run_dir, report):
    with Store(run_dir) as store:
        cells = store.cells()
    g25 = cells[cells["noise_key"].str.startswith("gaussian")]
    wide = g25.pivot_table(index="image_id", columns="denoiser", values="psnr")
    # Table 3's RM-ANOVA / Friedman for gaussian 25 over the three denoisers
    raw = report.table("table3_psnr").data
    fr = raw[(raw["setting"] == "gaussian 25") & (raw["denoiser"] == "[friedman]")].iloc[0]
    ref = ss.friedmanchisquare(wide["median"], wide["mean"], wide["gaussian"])
    assert fr["statistic"] == pytest.approx(ref.statistic, rel=1e-10)
    assert fr["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    # pairwise: mean vs the reference (median, named) on gaussian 25, paired t and Holm over the family
    with Store(run_dir) as store:
        pw = build_report(store, reference="median").table("pairwise").data
    row = pw[(pw["setting"] == "gaussian 25") & (pw["denoiser"] == "mean")].iloc[0]
    t = ss.ttest_rel(wide["mean"], wide["median"])
    assert row["p"] == pytest.approx(t.pvalue, rel=1e-10)
    assert row["p_holm"] >= row["p"]
    assert row["mean_diff"] == pytest.approx((wide["mean"] - wide["median"]).mean(), rel=1e-12)
    # Table 4 mean PSNR of median = mean over its cells
    t4 = report.table("table4").data
    m = t4[(t4["denoiser"] == "median") & (t4["metric"] == "psnr")].iloc[0]
    assert m["mean"] == pytest.approx(cells.loc[cells["denoiser"] == "median", "psnr"].mean(), rel=1e-12)
    # Table 1b pooled counts = sum of stored per-cell counts
    cm = report.table("table1_confusion").data.set_index("denoiser")
    assert cm.loc["noisy", "tp"] == cells.loc[cells["denoiser"] == "noisy", "tp"].sum()


def test_files_written(run_dir, report):
    written = write_report(report, run_dir)
    names = {p.relative_to(run_dir).as_posix() for p in written}
    for key in ("table1", "table2", "table3_psnr", "table4", "pairwise", "correlation"):
        assert f"tables/{key}.csv" in names and f"tables/{key}.tex" in names
    for fig in ("visual", "improvement", "psnr_curves", "confusion", "correlation"):
        path = run_dir / "figures" / f"{fig}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{fig}.png" in names
    md = (run_dir / "report.md").read_text()
    assert "![visual](figures/visual.png)" in md and "| denoiser |" in md and "Table 2 — before / after" in md
    tex = (run_dir / "tables" / "table4.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "$\\pm$" in tex and tex.isascii()
    assert isinstance(pd.read_csv(run_dir / "tables" / "table3_psnr.csv"), pd.DataFrame)
    assert not [f for f in report.failures if f.startswith("figure")]


def test_report_cli_selection(run_dir, capsys):
    assert main(["report", str(run_dir), "--table", "2", "--no-figures", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "Table 2" in out and "Table 4" not in out
    assert main(["report", str(run_dir), "--table", "table9"]) == 2


def test_same_config_renders_identically_without_timing(tmp_path, run_dir):
    other = tmp_path / "again"
    assert main([*RUN, "--no-figures", "--output", str(other)]) == 0
    texts = []
    for d in (run_dir, other):
        with Store(d) as store:
            rep = build_report(store, title="same", include_timing=False)
        write_report(rep, tmp_path / d.name, figures=False)
        texts.append((render_markdown(rep), (tmp_path / d.name / "tables" / "table4.csv").read_bytes(),
                      (tmp_path / d.name / "tables" / "pairwise.tex").read_bytes()))
        assert "time/image" not in texts[-1][0]
    assert texts[0] == texts[1]


def test_na_with_one_image(tmp_path):
    out = tmp_path / "one"
    assert main(["run", "--denoisers", "median,mean", "--noise", "gaussian:25", "--max-images", "1",
                 "--metrics", "psnr", "--quiet", "--no-figures", "--output", str(out)]) == 0
    with Store(out) as store:
        rep = build_report(store)
    pw = rep.table("pairwise").data
    assert pw["reason"].str.contains("need >= 2").all() and pw["p"].map(math.isnan).all()
    md = render_markdown(rep)
    assert "n/a: 1 image(s) with every method, need >= 2" in md


def test_failed_cells_are_counted_and_listed(tmp_path, run_dir):
    import shutil

    from denoisebench.results import CellResult

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    with Store(copy) as store:
        store.write(CellResult(key="broken-1", dataset="embedded", image_id="astronaut", noise="gaussian",
                               noise_level="25", noise_params='{"sigma":25.0}', noise_key='gaussian{"sigma":25.0}',
                               clip=True, denoiser="broken", params="{}", repetition=0, seed=1, status="error",
                               error="ValueError: boom"))
        rep = build_report(store)
    assert "failed or not ok: 1" in rep.header[0]
    assert any("broken" in f and "boom" in f for f in rep.failures)
    assert "error: broken on embedded/astronaut, gaussian 25: ValueError: boom" in render_markdown(rep)
    assert "broken" not in rep.table("table4").data["denoiser"].tolist()  # no ok cell, no row


@pytest.mark.parametrize("width", [60, 80, 120])
def test_terminal_tables_fit_the_width_without_cutting_values(report, width):
    """Wide tables are split into parts that repeat the key columns; no line is wider than the terminal and no
    value is replaced by an ellipsis (every cell's text is still there, at most wrapped at spaces)."""
    import io

    from rich.console import Console

    from denoisebench.reporting.terminal import print_report, split_columns

    buf = io.StringIO()
    print_report(report, Console(file=buf, width=width, color_system=None))
    lines = buf.getvalue().splitlines()
    assert max(map(len, lines)) <= width
    assert not any("…" in line for line in lines)
    flat = " ".join(buf.getvalue().split())
    for table in report.tables:
        parts = split_columns(table, width)
        k = table.keys  # every part repeats all key columns (pairwise: setting and denoiser)
        assert [c for p in parts for c in p.columns[k:]] == table.columns[k:]  # each column once, in order
        assert all(p.columns[:k] == table.columns[:k] for p in parts)
        assert all([r[:k] for r in p.rows] == [r[:k] for r in table.rows] for p in parts)
        for row in [] if table.detail or not table.terminal else table.rows:  # in the files only
            for cell in row[1:]:
                assert " ".join(str(cell).split()) in flat or all(w in flat for w in str(cell).split())
    assert len(split_columns(report.tables[0], 10_000)) == 1
    assert report.table("pairwise").keys == 2 and report.table("table2").keys == 2


def test_a_sweep_off_the_standard_levels_keeps_the_run_order(tmp_path):
    """Settings off a model's standard levels (labelled by their parameters) stay in the order the run gave
    them: sorting their labels as text put sigma 5 after 45 and reported a false "not worse at a stronger level"
    outlier. A one-denoiser run has no test columns in Table 3."""
    out = tmp_path / "sweep"
    sigmas = ["5", "10", "15", "20", "45"]
    assert main(["run", "--denoisers", "mean", *[a for s in sigmas for a in ("--noise", f"gaussian:{s}")],
                 "--max-images", "2", "--metrics", "psnr", "--quiet", "--no-figures", "--output", str(out)]) == 0
    with Store(out) as store:
        rep = build_report(store)
    settings = [row[0] for row in rep.table("mean_psnr").rows]
    assert settings == ['gaussian {"sigma":5.0}', 'gaussian {"sigma":10.0}', "gaussian 15",
                        'gaussian {"sigma":20.0}', 'gaussian {"sigma":45.0}']
    noisy = [float(row[1]) for row in rep.table("mean_psnr").rows]
    assert noisy == sorted(noisy, reverse=True)  # the noisy input gets worse along the run's order
    outliers = rep.table("outliers")
    assert outliers is None or not any("stronger level" in row[0] for row in outliers.rows)
    assert rep.table("table3_psnr").columns == ["noise setting", "mean"]


def test_rewriting_a_report_removes_tables_it_no_longer_has(tmp_path):
    out = tmp_path / "stale"
    assert main(["run", "--denoisers", "mean", "--noise", "gaussian:25", "--max-images", "2", "--metrics", "psnr",
                 "--quiet", "--no-figures", "--output", str(out)]) == 0
    tables = out / "tables"
    (tables / "pairwise.csv").write_text("from an earlier report of two denoisers\n")
    (tables / "pairwise.tex").write_text("%\n")
    assert main(["report", str(out), "--no-figures", "--table", "table4"]) == 0  # a selection removes nothing
    assert (tables / "pairwise.csv").exists()
    assert main(["report", str(out), "--no-figures"]) == 0
    assert not (tables / "pairwise.csv").exists() and not (tables / "pairwise.tex").exists()
    assert (tables / "table4.csv").exists() and (tables / "table4.tex").exists()
