"""Every metric we have that the official calibration file scores, on its five TID2013 pairs, within tolerance.

The pairs and ``official_values.csv`` (each pair's score under the metric's official implementation) live in
``../shared/datasets/iqa_calibration`` beside the checkout (CI has it); without them these tests skip.
Which of our metrics and options reproduce each official column is :data:`calibration.ROWS` (its notes say
why); here the values are read from the official file itself and compared.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest

from denoisebench.builtin.iqa import calibration as C
from denoisebench.errors import UnavailableError
from denoisebench.pluginmanager import make_plugins

FOLDER = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "iqa_calibration"
needs_calibration = pytest.mark.skipif(not (FOLDER / "official_values.csv").is_file(),
                                       reason=f"{FOLDER} not available (the shared datasets sit beside the checkout)")
ENFORCED = [r for r in C.ROWS if r.tolerance is not None]


@functools.cache
def official():
    with open(FOLDER / "official_values.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    return {r[0]: dict(zip(rows[0][1:], map(float, r[1:]))) for r in rows[1:]}


@functools.cache
def pairs():
    return {i: C.load_pair(FOLDER, i) for i in C.IDS}


@functools.cache
def plugins():
    return make_plugins()


def test_calibration_folder_is_found_like_the_other_shared_data():
    assert C.folder() == FOLDER


@needs_calibration
def test_the_official_file_has_the_five_pairs():
    assert set(official()["fsim"]) == set(C.IDS)
    covered = {r.official for r in C.ROWS}
    assert covered | set(C.NOT_IMPLEMENTED) == set(official())


@needs_calibration
@pytest.mark.parametrize("row", ENFORCED, ids=[f"{r.official}-{r.metric}{'-' + r.prepare if r.prepare else ''}"
                                               for r in ENFORCED])
def test_matches_the_official_value(row):
    metric = plugins().metrics.get(row.metric)(**row.options)
    try:
        metric.setup()
    except UnavailableError as exc:
        pytest.skip(f"{row.metric} cannot run here: {exc}")
    for image_id, (ref, dist) in pairs().items():
        ours = C.ours(row, metric, ref, dist)
        expected = official()[row.official][image_id]
        assert abs(ours - expected) <= row.tolerance, (row.metric, row.options, image_id, ours, expected)


@needs_calibration
def test_default_conventions_differ_as_documented():
    """The defaults that are not the official run's convention: within the stated band of the official values."""
    bands = {"ssim": 0.07, "ms_ssim": 5e-3, "gmsd": 3e-4, "vif": 6e-3, "fsim": 0.04}
    for row in (r for r in C.ROWS if r.tolerance is None):
        metric = plugins().metrics.get(row.metric)(**row.options)
        worst = max(abs(C.ours(row, metric, *pairs()[i]) - official()[row.official][i]) for i in C.IDS)
        assert worst <= bands[row.metric], (row.metric, worst)
