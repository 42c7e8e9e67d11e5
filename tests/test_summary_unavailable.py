"""The summary and the ranking compare denoisers on the settings and images they all completed.

A third-party denoiser (``picky``, like DnCNN-S without a sigma-10 network) is ``unavailable`` at sigma 10 in a
run at sigma 10 / 25 / 50. Averaged over what each completed, its mean is over the two hard settings only and the
others' over all three, so it would rank below filters that it beats at every sigma it ran. The expected ranking
and the summary's numbers are recomputed here from the stored cells with plain pandas / scipy.
"""

from __future__ import annotations

import pytest
from fakedist import run_with_plugin
from scipy import stats as ss

from denoisebench.reporting.data import comparison_basis, ranking
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

PICKY = '''
import numpy as np
from skimage.restoration import denoise_tv_chambolle
from denoisebench import Denoiser, UnavailableError, hookimpl


class Picky(Denoiser):
    name = "picky"
    description = "total-variation denoising tuned per noise level, with no setting for sigma 10"
    needs_noise_level = True

    def denoise(self, noisy, *, noise=None, rng=None):
        sigma = float(noise.kwargs["sigma"])
        if sigma < 15:
            raise UnavailableError("picky has settings for sigma 25 and 50")
        return denoise_tv_chambolle(noisy, weight=0.6 * sigma / 255.0).astype(np.float32)


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Picky)
'''

PAIR = ["dataset", "image_id", "noise_key", "repetition"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    yield from run_with_plugin(tmp_path_factory, "acme-picky", "picky", "acme_picky", PICKY,
                               ["run", "--denoisers", "median,gaussian,picky", "--noise",
                                "gaussian:10,gaussian:25,gaussian:50", "--max-images", "4", "--metrics", "psnr,ssim",
                                "--quiet", "--no-figures"])


def _stored(run_dir):
    with Store(run_dir) as store:
        cells = store.cells()
        report = build_report(store)
        plan, meta = store.get_meta("plan", {}), store.get_meta("metrics", {})
    return cells, report, plan, meta


def _common_means(cells, names, metric="psnr"):
    """Per-image means over the noisy images every one of ``names`` has an ok value on; then the mean."""
    ok = cells[(cells["status"] == "ok") & cells["denoiser"].isin(names) & cells[metric].notna()]
    wide = ok.pivot_table(index=PAIR, columns="denoiser", values=metric).dropna()
    per_image = wide.groupby(["dataset", "image_id"]).mean()
    return per_image, per_image.mean()


def test_the_injected_case_fools_a_naive_mean(run_dir):
    cells, *_ = _stored(run_dir)
    picky = cells[cells["denoiser"] == "picky"]
    at10 = picky["noise_key"] == 'gaussian{"sigma":10.0}'
    assert (picky[at10]["status"] == "unavailable").all() and (picky[~at10]["status"] == "ok").all()
    den = cells[(cells["denoiser"] != "noisy") & (cells["status"] == "ok")]
    naive = den.groupby("denoiser")["psnr"].mean().sort_values(ascending=False)
    _, fair = _common_means(cells, ["median", "gaussian", "picky"])
    # picky wins on the settings all three completed, and loses on the naive mean over what each completed
    assert fair.idxmax() == "picky" and naive.index[-1] == "picky"


def test_ranking_uses_the_settings_all_completed(run_dir):
    cells, _, plan, meta = _stored(run_dir)
    from denoisebench.reporting.data import load_cells

    with Store(run_dir) as store:
        loaded = load_cells(store)
    _, fair = _common_means(cells, ["median", "gaussian", "picky"])
    assert ranking(loaded, plan, meta, "psnr") == list(fair.sort_values(ascending=False).index)
    basis = comparison_basis(loaded, "psnr", ["median", "gaussian", "picky"])
    assert basis["note"] == "over 2 of 3 settings" and basis["incomplete"] == ["picky"]
    assert comparison_basis(loaded, "psnr", ["median", "gaussian"])["note"] == ""


def test_summary_compares_best_and_runner_up_on_what_both_completed(run_dir):
    cells, report, *_ = _stored(run_dir)
    _, fair = _common_means(cells, ["median", "gaussian", "picky"])
    best, second = list(fair.sort_values(ascending=False).index)[:2]
    per_image, pair = _common_means(cells, [best, second])
    p = ss.ttest_rel(per_image[best], per_image[second]).pvalue
    line = next(x for x in report.summary if x.startswith("gaussian PSNR:"))
    assert line.startswith(f"gaussian PSNR: {best} {pair[best]:.2f} dB, +{pair[best] - pair[second]:.2f} over "
                           f"{second} (p=")
    assert (" *" in line.split(")")[0]) == (p < 0.05)
    assert "n=4" in line
    if "picky" in (best, second):  # the pair's own basis: picky has no sigma-10 cells
        assert "over 2 of 3 settings both completed" in line
    else:
        assert "both completed" not in line
    assert "ranked over 2 of 3 settings all 3 completed (incomplete: picky)" in line
    assert report.summary[-1].startswith("cells not ok: 4 of ")


def test_a_complete_run_says_nothing_about_a_restriction(tmp_path):
    from denoisebench.cli import main

    out = tmp_path / "run"
    assert main(["run", "--denoisers", "median,gaussian,wiener", "--noise", "gaussian:10,gaussian:25",
                 "--max-images", "3", "--metrics", "psnr", "--quiet", "--no-figures", "--output", str(out)]) == 0
    with Store(out) as store:
        report = build_report(store)
    line = next(x for x in report.summary if x.startswith("gaussian PSNR:"))
    assert "completed" not in line and "not ranked" not in line


def test_pairwise_and_table2_pool_each_image_over_the_settings_both_completed(run_dir):
    cells, report, *_ = _stored(run_dir)
    pw = next(t for t in report.tables if t.data is not None and "reference" in t.data.columns)
    ref = pw.data["reference"].iloc[0]
    assert ref != "picky"
    row = pw.data[(pw.data["setting"] == "all settings") & (pw.data["denoiser"] == "picky")].iloc[0]
    per_image, _ = _common_means(cells, ["picky", ref])
    diff = per_image["picky"] - per_image[ref]
    assert row["n_images"] == 4 and row["mean_diff"] == pytest.approx(diff.mean(), abs=1e-9)
    assert row["p"] == pytest.approx(ss.ttest_rel(per_image["picky"], per_image[ref]).pvalue, rel=1e-9)

    with Store(run_dir) as store:
        chosen = build_report(store, chosen="picky")
    t2 = next(t for t in chosen.tables if t.key == "table2")
    first = t2.data[(t2.data.iloc[:, 0] == "all")].iloc[0]
    per_image, means = _common_means(cells, ["picky", "noisy"])
    assert means["noisy"] == pytest.approx(first["before"], abs=1e-9)
    assert means["picky"] == pytest.approx(first["after"], abs=1e-9)
