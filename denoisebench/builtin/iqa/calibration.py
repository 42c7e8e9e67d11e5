"""The calibration of the full-reference metrics against their official implementations.

``../shared/datasets/iqa_calibration/`` (beside the checkout) holds five TID2013 reference/distorted pairs and
``official_values.csv``: each pair's score under each metric's official code (the authors' MATLAB scripts,
the official Python code for LPIPS), as published by the IQA-PyTorch authors (their ``ResultsCalibra``).
:data:`ROWS` says, for each official column, which of our metrics (and options) reproduces the run that made
it, with the tolerance tests/test_calibration.py enforces; ``None`` tolerance = shown, not enforced (our
default convention differs on purpose, explained in ``note``). scripts/calibration_table.py renders the table
in docs/metrics.md from :func:`table`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IDS = ("I03", "I04", "I06", "I08", "I19")


@dataclass(frozen=True)
class Row:
    official: str  # column of official_values.csv
    metric: str  # our metric name
    options: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None  # enforced |Δ| bound, None: shown only
    note: str = ""
    #: how the official run fed images to a gray-only script, where ours cannot follow it through options
    #: ("gray8": MATLAB rgb2gray of the 8-bit images, as a gray image in [0, 1])
    prepare: str = ""


ROWS = (
    Row("psnr", "psnr", tolerance=0.005,
        note="official = skimage peak_signal_noise_ratio on RGB, our convention; published to 2 decimals"),
    Row("ssim", "ssim",
        note="ours: mean over R, G, B; the official run: ssim_index.m on rgb2gray (uint8), downsampling off"),
    Row("ssim", "ssim", prepare="gray8", tolerance=1e-4,
        note="our ssim on the official run's input (rgb2gray of the 8-bit images): the difference above is "
             "the colour rule alone"),
    Row("ms_ssim", "ms_ssim", {"method": "wtd_sum", "uint8": True}, tolerance=2e-3,
        note="msssim.m with method='wtd_sum' on rgb2gray (uint8): how the official values were made"),
    Row("ms_ssim", "ms_ssim",
        note="default: the paper's product pooling, float gray (the official column is wtd_sum)"),
    Row("fsim", "fsimc", tolerance=1e-4,
        note="the official column is FeatureSIM.m's FSIMc (colour); our default, no options"),
    Row("fsim", "fsim", note="luminance-only FSIM, for comparison (FeatureSIM.m's first output)"),
    Row("gmsd", "gmsd", {"uint8": True}, tolerance=1e-4, note="GMSD.m on rgb2gray (uint8)"),
    Row("gmsd", "gmsd", note="default: float gray (no 8-bit rounding); differs on near-identical pairs"),
    Row("vif", "vif", {"uint8": True}, tolerance=1e-4, note="vifvec.m on rgb2gray (uint8)"),
    Row("vif", "vif", note="default: float gray (no 8-bit rounding); differs on near-identical pairs"),
    Row("lpips", "lpips", tolerance=1e-4, note="official Python LPIPS v0.1 alex; ours, no options"),
)
NOT_IMPLEMENTED = ("cw_ssim", "mad", "nlpd", "vsi")


def folder(repo_root: Path | None = None) -> Path:
    """The calibration folder: ``shared/datasets/iqa_calibration`` beside the checkout."""
    root = repo_root or Path(__file__).resolve().parents[3]
    return root.parent / "shared" / "datasets" / "iqa_calibration"


def official_values(path: Path) -> dict[str, dict[str, float]]:
    """metric -> image id -> official value, from ``official_values.csv``."""
    with open(path / "official_values.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    ids = rows[0][1:]
    return {r[0]: {i: float(v) for i, v in zip(ids, r[1:])} for r in rows[1:]}


def load_pair(path: Path, image_id: str):
    from denoisebench.images import load_image

    return load_image(path / "ref_dir" / f"{image_id}.bmp"), load_image(path / "dist_dir" / f"{image_id}.bmp")


def gray8(img):
    """MATLAB rgb2gray of the 8-bit RGB image, as a gray image in [0, 1]."""
    import numpy as np

    from denoisebench.builtin.iqa._common import gray

    return (gray(np.floor(np.asarray(img, dtype=np.float64) * 255 + 0.5), uint8=True) / 255).astype(np.float32)


def ours(row: Row, metric, ref, dist) -> float:
    if row.prepare == "gray8":
        ref, dist = gray8(ref), gray8(dist)
    return float(metric.compute(ref, dist))


def table(path: Path, plugins) -> list[dict[str, Any]]:
    """Every row of :data:`ROWS` whose metric is registered and sets up: official, ours, |Δ| per image.

    A metric that cannot run here (LPIPS without weights) gives a row with ``unavailable`` set.
    """
    from denoisebench.errors import UnavailableError

    official = official_values(path)
    pairs = {i: load_pair(path, i) for i in IDS}
    out = []
    for row in ROWS:
        entry: dict[str, Any] = {"row": row, "official": official[row.official], "ours": {}, "unavailable": ""}
        if row.metric not in plugins.metrics:
            entry["unavailable"] = f"metric {row.metric} is not registered"
            out.append(entry)
            continue
        metric = plugins.metrics.get(row.metric)(**row.options)
        try:
            metric.setup()
        except UnavailableError as exc:
            entry["unavailable"] = str(exc)
            out.append(entry)
            continue
        for i in IDS:
            entry["ours"][i] = ours(row, metric, *pairs[i])
        out.append(entry)
    return out
