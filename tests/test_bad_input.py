"""An unknown name anywhere is one line that says what was meant: "did you mean median?" for a close
misspelling (difflib), the list of known names otherwise."""

from __future__ import annotations

import pickle

import pytest

from denoisebench.cli import main
from denoisebench.errors import DenoiseBenchError, UnknownNameError, did_you_mean
from denoisebench.interfaces import Denoiser
from denoisebench.registry import Registry


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--denoisers", "medain"], "unknown denoiser 'medain'; did you mean median? (known: "),
    (["run", "--denoisers", "median,wienr"], "unknown denoiser 'wienr'; did you mean wiener?"),
    (["run", "--metrics", "pnsr"], "unknown metric 'pnsr'; did you mean psnr?"),
    (["run", "--noise", "gausian:25"], "unknown noise model 'gausian'; did you mean gaussian?"),
    (["run", "--noise", "salt_peper"], "unknown noise model 'salt_peper'; did you mean salt_pepper?"),
    (["run", "--dataset", "embeded"], "unknown dataset 'embeded'; did you mean embedded?"),
    (["run", "--param", "medain.size=5"], "unknown denoiser 'medain'; did you mean median?"),
    (["run", "--metric-option", "ssmi.channel=y"], "unknown metric 'ssmi'; did you mean ssim?"),
    (["run", "--denoisers", "zzzz"], "unknown denoiser 'zzzz'; choose one of: "),
])
def test_unknown_name_on_the_command_line_is_one_line_with_a_suggestion(argv, fragment, capsys, tmp_path):
    assert main([*argv, "--max-images", "1", "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_registry_get_suggests_the_close_name():
    class Median(Denoiser):
        name = "median"

    reg = Registry("denoiser", Denoiser)
    reg.add(Median)
    with pytest.raises(UnknownNameError) as info:
        reg.get("medain")
    err = info.value
    assert str(err) == "unknown denoiser 'medain'; did you mean median? (known: median)"
    assert isinstance(err, DenoiseBenchError) and err.suggestion == "median" and err.known == ["median"]
    with pytest.raises(UnknownNameError, match=r"^unknown denoiser 'bm3d'; choose one of: median$"):
        reg.get("bm3d")


def test_unknown_name_error_survives_pickling():  # raised in a worker, reported by the parent process
    err = pickle.loads(pickle.dumps(UnknownNameError("metric", "pnsr", ["psnr", "ssim"])))
    assert str(err) == "unknown metric 'pnsr'; did you mean psnr? (known: psnr, ssim)" and err.kind == "metric"


def test_did_you_mean():
    assert did_you_mean("gausian", ["gaussian", "speckle"]) == "gaussian"
    assert did_you_mean("xyz", ["gaussian", "speckle"]) is None
    assert did_you_mean("anything", []) is None


def test_unknown_denoiser_parameter_suggests_the_close_one(capsys):
    from denoisebench.cli import main

    assert main(["run", "--param", "median.sise=3", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no parameter 'sise'; did you mean size?" in err[0]
