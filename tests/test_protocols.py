"""Protocol presets (--protocol): one named, recorded convention; explicit flags override it and say so."""

from __future__ import annotations

import numpy as np
import pytest

from denoisebench.cli import main
from denoisebench.datasets import dataset_from_spec
from denoisebench.pluginmanager import make_plugins
from denoisebench.protocols import PROTOCOLS, apply_protocol, describe
from denoisebench.seeding import cell_rng, cell_seed
from denoisebench.store import Store


def test_presets_are_data_and_overrides_are_recorded():
    assert set(PROTOCOLS) >= {"default", "kair"}
    values = apply_protocol("kair", {"clip": True, "quantize": "none"}, {"clip"})
    assert values == {"clip": True, "quantize": "uint8", "protocol": "kair"}
    assert describe("kair", values).endswith("overridden: clip=True")
    assert "overridden" not in describe("kair", apply_protocol("kair", {}, set()))


def test_kair_protocol_scores_unclipped_noise_and_uint8_outputs(tmp_path):
    """The noisy row's PSNR equals an independent computation: the same noise draw not clipped, then clipped and
    rounded to uint8 (KAIR's single2uint), PSNR with peak 255 on the uint8 values."""
    out = tmp_path / "run"
    assert main(["run", "--protocol", "kair", "--denoisers", "median", "--noise", "gaussian:25", "--max-images",
                 "2", "--metrics", "psnr", "--quiet", "--no-figures", "--output", str(out)]) == 0
    with Store(out) as store:
        cells = store.cells()
        conv = store.get_meta("conventions")
        config = store.get_meta("config")
    assert config["protocol"] == "kair" and config["clip"] is False and config["quantize"] == "uint8"
    assert conv["protocol"].startswith("kair")
    plugins = make_plugins()
    ds = dataset_from_spec(plugins, "embedded")
    for row in cells[cells["denoiser"] == "noisy"].itertuples():
        clean = ds.load(row.image_id)
        seed = cell_seed(0, "embedded", row.image_id, row.noise_key, 0)
        noisy = plugins.noise_models.get("gaussian")(sigma=25.0, clip=False).apply(clean, cell_rng(seed))
        assert noisy.max() > 1 or noisy.min() < 0  # really unclipped
        est = np.uint8(np.clip(noisy * 255.0, 0, 255).round())  # KAIR's single2uint
        diff = clean.astype(np.float64) * 255.0 - est.astype(np.float64)  # (embedded images are not on uint8 levels)
        expected = 10 * np.log10(255.0 ** 2 / np.mean(diff ** 2))
        assert row.psnr == pytest.approx(expected, abs=1e-6)  # float32 storage of the scored image


def test_explicit_flag_overrides_protocol_and_changes_the_run_identity(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    base = ["run", "--denoisers", "median", "--noise", "gaussian:25", "--max-images", "1", "--metrics", "psnr",
            "--quiet", "--no-figures"]
    assert main(base + ["--protocol", "kair", "--output", str(a)]) == 0
    assert main(base + ["--protocol", "kair", "--clip", "--output", str(b)]) == 0
    with Store(a) as sa, Store(b) as sb:
        assert sb.get_meta("config")["clip"] is True
        assert "overridden: clip=True" in sb.get_meta("conventions")["protocol"]
        assert set(sa.cells()["key"]).isdisjoint(set(sb.cells()["key"]))


def test_unknown_protocol_is_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--protocol", "matlab"])
    assert "invalid choice: 'matlab'" in capsys.readouterr().err
