"""The built-in plugins pass the same conformance kit third parties use (denoisebench.testing)."""

from __future__ import annotations

import os
import shutil
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
    checks_for,
    expected_failures_for,
    parametrize_with_checks,
    plugin_subjects,
    run_checks,
)
from denoisebench.testing.images import gray_image as kit_gray

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FOLDER = Path(__file__).resolve().parent / "_conformance_folder"
PAIRS = FOLDER / "pairs"  # pairs (gray) and nam (colour) folders, sidd .mat files, made by the fixture below

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
            elif s.name in ("pairs", "nam", "sidd"):
                s = Subject(s.cls, s.kind, {"path": str(PAIRS / s.name)})
            elif "root" in getattr(s.cls, "defaults", {}):
                if not (SHARED / s.cls.info.folder).is_dir():
                    continue  # download-only sets (mcmaster, urban100): not fetched in tests
                s = Subject(s.cls, s.kind, {"root": str(SHARED), "verify": False})
        out.append(s)
    return out


@pytest.fixture(scope="module", autouse=True)
def _folder():
    import scipy.io

    FOLDER.mkdir(exist_ok=True)
    for i in range(2):
        save_image(FOLDER / f"img{i}.png", np.roll(kit_gray(), 5 * i, axis=1))
        for kind, image in (("pairs", kit_gray()), ("nam", np.stack([kit_gray()] * 3, axis=-1))):
            (PAIRS / kind).mkdir(parents=True, exist_ok=True)
            stem = f"img{i}" if kind == "pairs" else f"cam_iso{100 * (i + 1)}_{i}"
            save_image(PAIRS / kind / f"{stem}_clean.png" if kind == "pairs" else PAIRS / kind / f"{stem}_mean.png",
                       np.roll(image, 5 * i, axis=1))
            save_image(PAIRS / kind / f"{stem}_noisy.png" if kind == "pairs" else PAIRS / kind / f"{stem}_real.png",
                       np.clip(np.roll(image, 5 * i, axis=1) + 0.05, 0, 1))
    (PAIRS / "sidd").mkdir(parents=True, exist_ok=True)
    blocks = np.random.default_rng(0).integers(0, 256, (1, 2, 16, 16, 3), dtype=np.uint8)
    for key in ("ValidationNoisyBlocksSrgb", "ValidationGtBlocksSrgb"):
        scipy.io.savemat(PAIRS / "sidd" / f"{key}.mat", {key: blocks})
    yield
    shutil.rmtree(FOLDER)


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


# --------------------------------------------------------------------------- stricter checks for denoisers


class Passthrough(Denoiser):
    name = "passthrough"
    description = "returns a copy of its input"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.array(noisy, copy=True)


class GlobalRng(Denoiser):
    name = "global_rng"
    description = "dithers with numpy's global RNG but claims to be deterministic"
    deterministic = True

    def denoise(self, noisy, *, noise=None, rng=None):
        out = np.clip(noisy * 0.9 + 0.05 + np.random.normal(0, 1e-3, noisy.shape), 0, 1)
        return out.astype(noisy.dtype)


class GlobalRngRestored(GlobalRng):
    name = "global_rng_restored"
    description = "draws from the global RNG, then puts its state back (only the output betrays it)"

    def denoise(self, noisy, *, noise=None, rng=None):
        state = np.random.get_state()
        try:
            return super().denoise(noisy, noise=noise, rng=rng)
        finally:
            np.random.set_state(state)


class Unvalidated(Denoiser):
    name = "unvalidated"
    description = "declares parameters and never validates them"
    defaults = {"size": 3, "strength": 0.5, "mode": "reflect"}
    param_grid = {"size": [3, 5]}

    def denoise(self, noisy, *, noise=None, rng=None):
        return (np.asarray(noisy) * 0.9 + 0.05).astype(noisy.dtype)


def _by_check(cls):
    return {r.check: r for r in run_checks([cls])}


def test_kit_reports_a_denoiser_that_returns_its_input():
    results = _by_check(Passthrough)
    assert results["changes_input"].status == "fail"
    assert "returned its input unchanged" in results["changes_input"].detail
    others = {k: r.status for k, r in results.items() if k != "changes_input"}
    assert set(others.values()) <= {"pass", "skip"}, others


def test_kit_reports_global_rng_use_by_a_deterministic_denoiser():
    state = np.random.get_state()
    results = _by_check(GlobalRng)
    assert results["no_global_rng"].status == "fail"
    assert "numpy's global RNG" in results["no_global_rng"].detail
    assert "deterministic = False" in results["no_global_rng"].detail
    assert results["deterministic"].status == "fail"  # the unseeded draws also differ between calls
    np.random.set_state(state)
    (func,) = [f for name, f in checks_for(as_subject(GlobalRng)) if name == "no_global_rng"]
    with pytest.raises(CheckFailed):
        func(as_subject(GlobalRng))
    after = np.random.get_state()
    assert np.array_equal(after[1], state[1]) and after[2] == state[2]  # the check restores the global state


def test_kit_catches_global_rng_use_that_restores_the_state():
    results = _by_check(GlobalRngRestored)
    assert results["no_global_rng"].status == "fail"
    assert "changes with numpy's global RNG seed" in results["no_global_rng"].detail


def test_global_rng_check_skips_non_deterministic_denoisers():
    class Honest(GlobalRng):
        name = "honest_random"
        deterministic = False

    assert _by_check(Honest)["no_global_rng"].status == "skip"


def test_kit_reports_parameters_that_are_never_validated():
    results = _by_check(Unvalidated)
    assert results["parameter_validation"].status == "fail"
    assert results["parameter_validation"].detail == (
        "size='abc' was accepted; check it in validate() and raise ParameterError naming the value and what to pass")
    assert results["grid_instantiates"].status == "pass"


def test_parameter_validation_names_the_wrong_exception():
    class Crashes(Unvalidated):
        name = "crashes"

        def validate(self, params):
            if params["size"] < 1:  # TypeError for 'abc', never a ParameterError
                raise ValueError("size")

    detail = _by_check(Crashes)["parameter_validation"].detail
    assert detail.startswith("size='abc' raised TypeError, not ParameterError")


def test_parameter_validation_tries_negative_numbers_and_wrong_types():
    from denoisebench.errors import ParameterError

    class NoNegatives(Unvalidated):
        name = "no_negatives"

        def validate(self, params):  # checks types, forgets the sign of strength
            for key in ("size", "strength"):
                v = params[key]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                    raise ParameterError(f"{key}={v!r} is invalid; pass a number")
            if not isinstance(params["mode"], str):
                raise ParameterError("mode is invalid; pass a string")
            if params["size"] < 0:
                raise ParameterError("size is invalid; pass a positive number")

    assert _by_check(NoNegatives)["parameter_validation"].detail.startswith("strength=-1.0 was accepted")


def test_builtin_denoisers_pass_the_stricter_checks():
    wanted = {"changes_input", "no_global_rng", "parameter_validation"}
    dens = [s for s in BUILTIN if s.kind == "denoiser"]
    assert {"median", "gaussian", "wiener", "mean", "switching_median"} <= {s.name for s in dens}
    results = [r for r in run_checks(dens, plugins=PLUGINS) if r.check in wanted]
    assert len(results) == 3 * len(dens)
    assert {r.status for r in results} == {"pass"}, [r for r in results if r.status != "pass"]
