"""Summarise a denoisebench run for the neural models: mean PSNR/SSIM per denoiser and noise setting, and the
paired t-test (over images) of hybrid vs cnn per setting. Reads the run's results store only.

    python plugins/denoisebench-neural/scripts/ablation.py reports/neural-bsd68 [--a hybrid --b cnn]

A run given as ``DIR@OLD=NEW`` has its denoiser OLD renamed NEW, so two runs of the same denoiser with different
weights can be compared: ``ablation.py runs-lstm@hybrid=hybrid_lstm runs-gru@hybrid=hybrid_gru --a hybrid_gru
--b hybrid_lstm``.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from denoisebench.store import Store


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("run", nargs="+", help="run directories (their cells are combined; same seed => same noisy images); "
                                          "DIR@OLD=NEW renames denoiser OLD of that run to NEW")
    p.add_argument("--dataset", help="only this dataset (default: each dataset in turn)")
    p.add_argument("--a", default="hybrid")
    p.add_argument("--b", default="cnn")
    args = p.parse_args(argv)
    import pandas as pd

    frames = []
    for run in args.run:
        run, _, rename = run.partition("@")
        with Store(run) as store:
            frame = store.cells()
        if rename:
            old, _, new = rename.partition("=")
            frame.loc[frame["denoiser"] == old, "denoiser"] = new
        frames.append(frame)
    cells = pd.concat(frames, ignore_index=True)
    cells = cells.drop_duplicates(subset=["dataset", "image_id", "noise_key", "repetition", "denoiser"])
    cells["noise"] = cells["noise"] + " " + cells["noise_level"].astype(str)
    datasets = [args.dataset] if args.dataset else sorted(set(cells["dataset"]))
    for ds in datasets:
        print(f"\n## {ds}")
        report(cells[cells["dataset"] == ds], args)
    return 0


def report(cells, args) -> None:
    ok = cells[cells["status"] == "ok"]
    bad = cells[cells["status"] != "ok"]
    if len(bad):
        print(f"{len(bad)} cells not ok: {bad.groupby(['denoiser', 'status']).size().to_dict()}")
    order = list(dict.fromkeys(ok["noise"]))
    dens = list(dict.fromkeys(ok["denoiser"]))
    for metric in ("psnr", "ssim"):
        if metric not in ok:
            continue
        print(f"\nMean {metric.upper()} ({', '.join(sorted(set(ok['dataset'])))}; n images per setting: "
              f"{ok.groupby(['noise', 'denoiser']).size().max()})\n")
        print("| setting | " + " | ".join(dens) + " | best classical | best neural |")
        print("|---|" + "---:|" * (len(dens) + 2))
        table = ok.groupby(["noise", "denoiser"])[metric].mean().unstack()
        neural = [d for d in table.columns if d in (args.a, args.b) or d.startswith(("cnn", "hybrid"))]
        classical = [d for d in table.columns if d not in neural and d != "noisy"]
        for noise in order:
            row = table.loc[noise]
            fmt = "{:.2f}" if metric == "psnr" else "{:.4f}"
            best_c = max(classical, key=lambda d: row[d]) if classical else ""
            best_n = max(neural, key=lambda d: row[d]) if neural else ""
            print(f"| {noise} | " + " | ".join(fmt.format(row[d]) for d in dens) + f" | {best_c} | {best_n} |")
    print(f"\nPaired t-test {args.a} vs {args.b} over images (two-sided; Δ = {args.a} − {args.b})\n")
    print("| setting | Δ PSNR (dB) | t | p | Δ SSIM | t | p | images where a wins (PSNR) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for noise in order:
        sub = ok[ok["noise"] == noise]
        pa = sub[sub["denoiser"] == args.a].set_index("image_id")
        pb = sub[sub["denoiser"] == args.b].set_index("image_id")
        ids = pa.index.intersection(pb.index)
        if len(ids) < 2:
            continue
        cols = []
        for metric in ("psnr", "ssim"):
            a, b = pa.loc[ids, metric].to_numpy(float), pb.loc[ids, metric].to_numpy(float)
            t, pv = stats.ttest_rel(a, b)
            cols += [f"{np.mean(a - b):+.3f}" if metric == "psnr" else f"{np.mean(a - b):+.4f}", f"{t:.2f}", f"{pv:.2g}"]
        wins = int((pa.loc[ids, "psnr"] > pb.loc[ids, "psnr"]).sum())
        print(f"| {noise} | " + " | ".join(cols) + f" | {wins}/{len(ids)} |")
    if "seconds" in ok:
        print("\nMedian seconds per image (cell wall time, as recorded by the harness)\n")
        med = ok[ok["denoiser"] != "noisy"].groupby(["dataset", "denoiser"])["seconds"].median().unstack()
        print("| dataset | " + " | ".join(med.columns) + " |")
        print("|---|" + "---:|" * len(med.columns))
        for ds, row in med.iterrows():
            print(f"| {ds} | " + " | ".join(f"{v:.3f}" for v in row) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
