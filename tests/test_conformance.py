"""The built-in plugins pass the same conformance kit third parties use (denoisebench.testing)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from denoisebench.images import save_image
from denoisebench.interfaces import Denoiser
from denoisebench.pluginmanager import make_plugins
from denoisebench.testing import (
    CheckFailed,
    CheckSkipped,
    Subject,
    as_subject,
    check_component,
    expected_failures_for,
    parametrize_with_checks,
    plugin_subjects,
    run_checks,
)
from denoisebench.testing.images import gray_image as kit_gray

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FOLDER = Path(__file__).resolve().parent / "_conformance_folder"

PLUGINS = make_plugins()
BUILTIN = plugin_subjects(PLUGINS, "denoisebench")  # every plugin shipped in the core distribution


def _subjects():
    out = []
    for s in BUILTIN:
        if s.kind == "metric" and s.name == "lpips":
            continue  # needs torch and its weights: covered by tests/test_lpips.py, kept out of the fast suite
        if s.kind == "dataset":
            if s.name == "folder":
                s = Subject(s.cls, s.kind, {"path": str(FOLDER)})
            elif "root" in getattr(s.cls, "defaults", {}):
                if not (SHARED / s.cls.info.folder).is_dir():
                    continue  # download-only sets (mcmaster, urban100): not fetched in tests
                s = Subject(s.cls, s.kind, {"root": str(SHARED), "verify": False})
        out.append(s)
    return out


@pytest.fixture(scope="module", autouse=True)
def _folder():
    FOLDER.mkdir(exist_ok=True)
    for i in range(2):
        save_image(FOLDER / f"img{i}.png", np.roll(kit_gray(), 5 * i, axis=1))
    yield
    for f in FOLDER.iterdir():
        f.unlink()
    FOLDER.rmdir()


@parametrize_with_checks(_subjects())
def test_builtins_conform(subject, check):
    check(subject)


def test_every_builtin_kind_is_covered():
    kinds = {s.kind for s in _subjects()}
    assert kinds == {"denoiser", "noise_model", "metric", "dataset"}
    assert {"median", "wiener", "gaussian"} <= {s.name for s in _subjects() if s.kind == "denoiser"}


# --------------------------------------------------------------------------- the kit catches broken plugins


class Broken(Denoiser):
    name = "broken"
    description = "mutates its input, returns float64 out of range, gray only without saying so"
    defaults = {"k": 1}
    param_grid = {"k": [1, 2, -1]}

    def validate(self, params):
        if params["k"] < 0:
            raise ValueError("negative k")

    def denoise(self, noisy, *, noise=None, rng=None):
        noisy *= 1.0  # in-place: fails on read-only input
        noisy[0, 0] = 2.0
        return (noisy[..., 0] if noisy.ndim == 3 else noisy).astype(np.float64) * 1.5


class Random(Denoiser):
    name = "random_blur"
    description = "adds randomness but claims to be deterministic"
    deterministic = True

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.clip(noisy + np.random.default_rng().normal(0, 1e-3, noisy.shape), 0, 1).astype(noisy.dtype)


def test_kit_reports_each_broken_property():
    results = {r.check: r for r in run_checks([Broken])}
    for name in ("shape_and_dtype", "values_in_range", "no_input_mutation", "gray_and_colour",
                 "grid_instantiates", "batch"):
        assert results[name].status == "fail", (name, results[name])
    assert "grid point {'k': -1}" in results["grid_instantiates"].detail
    assert "dtype float64" in results["shape_and_dtype"].detail
    assert results["name"].status == "pass"
    assert all("\n" not in r.detail for r in results.values())


def test_kit_catches_false_determinism():
    results = {r.check: r.status for r in run_checks([Random])}
    assert results["deterministic"] == "fail"
    assert results["shape_and_dtype"] == "pass"


def test_expected_failures_become_xfail_and_stale_ones_xpass():
    expected = {"broken": {"gray_and_colour": "gray only for now", "name": "not really broken"}}
    results = {r.check: r for r in run_checks([Broken], expected)}
    assert results["gray_and_colour"].status == "xfail"
    assert "gray only for now" in results["gray_and_colour"].detail
    assert results["name"].status == "xpass" and results["name"].failed


def test_class_attribute_declares_expected_failures():
    class Declared(Random):
        name = "declared"
        conformance_expected_failures = {"deterministic": "uses an unseeded generator"}

    assert expected_failures_for(as_subject(Declared)) == {"deterministic": "uses an unseeded generator"}
    results = {r.check: r.status for r in run_checks([Declared])}
    assert results["deterministic"] == "xfail"


def test_check_component_raises_with_all_failures():
    with pytest.raises(CheckFailed, match="no_input_mutation"):
        check_component(Broken)


def test_duplicate_name_against_installed_plugins_fails():
    class Median(Denoiser):
        name = "median"
        description = "a second median"

        def denoise(self, noisy, *, noise=None, rng=None):
            return noisy.copy()

    results = {r.check: r for r in run_checks([Median], plugins=PLUGINS)}
    assert results["name"].status == "fail"
    assert "already registered by classical" in results["name"].detail


def test_parametrize_ids_are_readable():
    mark = parametrize_with_checks([Random], {"deterministic": "known"})
    ids = [p.id for p in mark.args[1]]
    assert "denoiser:random_blur:deterministic" in ids
    (xf,) = [p for p in mark.args[1] if p.id.endswith(":deterministic")]
    assert xf.marks[0].kwargs == {"reason": "known", "strict": True}


def test_skipped_check_raises_pytest_skip():
    class GrayOnly(Random):
        name = "gray_only"
        handles_color = False

    mark = parametrize_with_checks([GrayOnly])
    (param,) = [p for p in mark.args[1] if p.id.endswith("gray_and_colour")]
    subject, bound = param.values
    with pytest.raises(pytest.skip.Exception, match="handles_color = False"):
        bound(subject)
    assert issubclass(CheckSkipped, Exception)


def test_pytest_plugin_fixtures(gray_image, color_image, rng, fresh_plugins, make_test_plugins):
    assert gray_image.shape == (48, 64) and gray_image.dtype == np.float32
    assert color_image.shape == (48, 64, 3)
    assert isinstance(rng, np.random.Generator)
    assert "median" in fresh_plugins.denoisers
    from denoisebench.builtin import noise

    only = make_test_plugins(noise)
    assert only.noise_models.names() and not only.denoisers.names()
    assert os.environ.get("PYTEST_CURRENT_TEST")
