"""``block_means`` (the per-block averages Table 3 takes in two groupby passes) equals averaging each block on its
own, to the last bit: with NaN in one column only (inf - inf), blocks whose rows are sorted by group and blocks
whose are not (repetitions interleaved across denoisers), the way the report computed them one block at a time."""

import numpy as np
import pandas as pd

from denoisebench.reporting.data import IMAGE_KEYS, block_means, metric_values
from denoisebench.reporting.tables import improvements

COLUMNS = ["percent", "delta", "before", "after"]


def _cells(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for key, setting in [("gaussian{15}", "gaussian 15"), ("gaussian{25}", "gaussian 25"), ("sp{10}", "sp 10%")]:
        for image in [f"im{i}" for i in range(6)]:
            for rep in range(7):
                for den in ["gauss", "median", "noisy", "wiener"]:
                    rows.append({"dataset": "set", "noise": setting.split()[0], "noise_key": key, "image_id": image,
                                 "repetition": rep, "denoiser": den, "setting": setting, "status": "ok",
                                 "psnr": 20 + 10 * rng.random()})
    cells = pd.DataFrame(rows)
    identical = (cells["image_id"] == "im2") & (cells["repetition"] == 3) & (cells["setting"] == "gaussian 25")
    cells.loc[identical & cells["denoiser"].isin(["noisy", "median"]), "psnr"] = np.inf  # delta = inf - inf = NaN
    cells.loc[(cells["image_id"] == "im4") & (cells["denoiser"] == "noisy") & (cells["repetition"] == 1), "psnr"] = 0.0
    return cells


def _per_block(frame, blocks, keys, columns):
    out = {}
    for key in frame[blocks].drop_duplicates().itertuples(index=False):
        mask = np.logical_and.reduce([frame[b] == v for b, v in zip(blocks, key)])
        out[tuple(key)] = frame[mask].groupby(keys)[columns].mean()
    return out


def _assert_same(got, expected):
    assert sorted(got) == sorted(expected)
    for key, frame in expected.items():
        assert list(got[key]) == list(frame.columns)
        for column, series in got[key].items():
            pd.testing.assert_series_equal(series, frame[column], check_exact=True, check_names=False,
                                           check_index_type=False)
            np.testing.assert_array_equal(series.index.to_frame().to_numpy(), frame.index.to_frame().to_numpy())


def test_table3_improvements_per_setting_and_denoiser():
    pairs = improvements(_cells(), "psnr")
    assert pairs["delta"].isna().any() and not pairs["after"].isna().any()
    blocks = ["setting", "denoiser"]
    expected = _per_block(pairs, blocks, IMAGE_KEYS, COLUMNS)
    _assert_same(block_means(pairs, blocks, IMAGE_KEYS, COLUMNS), expected)
    # the check could fail: one groupby over every block averages some groups differently in the last bit
    naive = pairs.groupby(blocks + IMAGE_KEYS)[COLUMNS].mean()
    assert any(not np.array_equal(naive.loc[key].to_numpy(), frame.to_numpy(), equal_nan=True)
               for key, frame in expected.items())


def test_table3_values_per_setting_unsorted_blocks():
    values = metric_values(_cells(1), "psnr")
    keys = IMAGE_KEYS + ["denoiser"]  # repetitions interleave the denoisers: the rows are not sorted by group
    _assert_same(block_means(values, ["setting"], keys, ["psnr"]), _per_block(values, ["setting"], keys, ["psnr"]))


def test_sorted_blocks_and_empty_frame():
    values = metric_values(_cells(2), "psnr").sort_values(IMAGE_KEYS + ["denoiser"], kind="mergesort")
    keys = IMAGE_KEYS + ["denoiser"]
    _assert_same(block_means(values, ["setting"], keys, ["psnr"]), _per_block(values, ["setting"], keys, ["psnr"]))
    assert block_means(values.iloc[0:0], ["setting"], keys, ["psnr"]) == {}
