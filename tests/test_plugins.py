"""Plugin failures are contained and reported by name; plugins can be disabled; every hook is exercised.

Covers: an entry point whose import fails, a registration hook that raises (and its partial registrations
rolled back), a duplicate component name naming both providers (only that entry skipped; see also
test_plugin_order.py for a real first-sorted distribution), a duplicate plugin name, disabling by name
(argument, environment, CLI), `denoisebench plugins` showing status and reason, observer hooks
(denoisebench_cell_finished, denoisebench_run_finished) that raise without stopping a run, and
denoisebench_add_commands.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import textwrap

import numpy as np
import pytest

from denoisebench import hookimpl, pluginmanager
from denoisebench.builtin import noise as builtin_noise
from denoisebench.cli import main
from denoisebench.interfaces import Dataset, Denoiser, Metric
from denoisebench.pluginmanager import make_plugins


class Identity(Denoiser):
    name = "identity"
    description = "returns a copy of the input"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.array(noisy, copy=True)


class AlsoIdentity(Identity):
    description = "a second class under the same name"


class GoodPlugin:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(Identity)


class DuplicatePlugin:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(AlsoIdentity)


class RaisingPlugin:
    """Registers a denoiser (fine), then its metrics hook raises: both must be dropped."""

    class Half(Identity):
        name = "half_registered"

    class Mae2(Metric):
        name = "mae2"

    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(self.Half)

    @hookimpl
    def denoisebench_register_metrics(self, registry):
        registry.add(self.Mae2)
        raise RuntimeError("boom in metrics")


def _fake_entry_points(monkeypatch, tmp_path, extra: dict[str, str]):
    """Installed entry points plus ``name -> module source`` written to tmp_path (importable)."""
    for mod in list(extra):
        (tmp_path / f"{mod}.py").write_text(textwrap.dedent(extra[mod]))
    monkeypatch.syspath_prepend(str(tmp_path))
    real = pluginmanager._entry_points()
    fakes = [md.EntryPoint(name=mod, value=mod, group="denoisebench") for mod in extra]
    monkeypatch.setattr(pluginmanager, "_entry_points", lambda: real + fakes)
    yield_mods = list(extra)
    return yield_mods


def test_entry_point_import_failure_is_contained(monkeypatch, tmp_path):
    _fake_entry_points(monkeypatch, tmp_path, {"broken_import_plugin": "import no_such_module_xyz\n"})
    plugins = make_plugins()
    st = plugins.status["broken_import_plugin"]
    assert st.status == "error"
    assert "failed to load: ModuleNotFoundError" in st.reason and "no_such_module_xyz" in st.reason
    assert "median" in plugins.denoisers and "gaussian" in plugins.noise_models  # the rest loaded
    sys.modules.pop("broken_import_plugin", None)


def test_raising_registration_hook_is_contained_and_rolled_back():
    plugins = make_plugins(extra_plugins=[("good", GoodPlugin()), ("raiser", RaisingPlugin())],
                           load_entrypoints=False)
    st = plugins.status["raiser"]
    assert st.status == "error"
    assert "denoisebench_register_metrics failed: RuntimeError: boom in metrics" in st.reason
    assert "half_registered" not in plugins.denoisers  # registered by the hook of an earlier kind: dropped
    assert "mae2" not in plugins.metrics  # registered before the raise: rolled back
    assert st.provides == {}
    assert "identity" in plugins.denoisers and plugins.status["good"].status == "ok"


def test_duplicate_name_skips_that_entry_naming_both_providers():
    class Other(Identity):
        name = "other_identity"

    class DuplicateAndMore:
        @hookimpl
        def denoisebench_register_denoisers(self, registry):
            registry.add(AlsoIdentity)
            registry.add(Other)

    plugins = make_plugins(extra_plugins=[("first_plugin", GoodPlugin()), ("second_plugin", DuplicateAndMore())],
                           load_entrypoints=False)
    assert plugins.denoisers.get("identity") is Identity
    st = plugins.status["second_plugin"]
    assert st.status == "ok" and st.reason == ""
    assert st.problems == ["second_plugin: denoiser name 'identity' is already registered by first_plugin; "
                           "skipped this entry — rename it"]
    assert st.provides == {"denoisers": ["other_identity"]} and "other_identity" in plugins.denoisers


def test_duplicate_name_against_an_installed_plugin(fresh_plugins):
    class Median(Identity):
        name = "median"

    class Clash:
        @hookimpl
        def denoisebench_register_denoisers(self, registry):
            registry.add(Median)

    plugins = make_plugins(extra_plugins=[("clash", Clash())])
    problem, = plugins.status["clash"].problems
    assert problem.startswith("clash: denoiser name 'median' is already registered by classical (denoisebench ")
    assert plugins.denoisers.get("median") is fresh_plugins.denoisers.get("median")
    assert plugins.status["classical"].status == "ok"


def test_duplicate_plugin_name_is_reported():
    plugins = make_plugins(extra_plugins=[("same", GoodPlugin()), ("same", DuplicatePlugin())],
                           load_entrypoints=False)
    bad = [s for s in plugins.status.values() if s.status == "error"]
    assert len(bad) == 1 and "plugin name 'same' is already used" in bad[0].reason


def test_misspelled_hook_is_reported():
    class Typo:
        @hookimpl
        def denoisebench_register_denoiser(self, registry):  # missing "s": would be silently ignored
            registry.add(Identity)

    plugins = make_plugins(extra_plugins=[("typo", Typo())], load_entrypoints=False)
    st = plugins.status["typo"]
    assert st.status == "error" and "denoisebench_register_denoiser" in st.reason
    assert "denoisebench_register_denoisers" in st.reason  # says what it should be


def test_disable_by_name_argument_and_environment(monkeypatch):
    plugins = make_plugins(disable={"classical"})
    assert plugins.status["classical"].status == "disabled" and "median" not in plugins.denoisers
    assert "gaussian" in plugins.noise_models
    monkeypatch.setenv(pluginmanager.DISABLE_ENV, "noise, classical")
    plugins = make_plugins()
    assert plugins.status["noise"].status == "disabled" and not plugins.noise_models.names()
    assert plugins.status["classical"].status == "disabled"


def test_disable_by_distribution_name():
    plugins = make_plugins(disable={"denoisebench"})
    assert all(s.status == "disabled" for s in plugins.status.values() if s.distribution == "denoisebench")


def test_plugins_command_shows_status_and_reason(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COLUMNS", "250")
    _fake_entry_points(monkeypatch, tmp_path, {"broken_import_plugin2": "raise ImportError('needs libfoo')\n"})
    assert main(["--disable-plugin", "classical", "plugins"]) == 0
    out = capsys.readouterr().out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert "error" in lines["broken_import_plugin2"] and "ImportError: needs libfoo" in lines["broken_import_plugin2"]
    assert "disabled" in lines["classical"] and "--disable-plugin" in lines["classical"]
    assert " ok " in lines["noise"] and "gaussian" in lines["noise"]
    sys.modules.pop("broken_import_plugin2", None)


def test_list_command_reports_plugins_not_loaded(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COLUMNS", "250")
    _fake_entry_points(monkeypatch, tmp_path, {"broken_import_plugin3": "import no_such_module_abc\n"})
    assert main(["list", "denoisers"]) == 0
    out = capsys.readouterr().out
    assert "median" in out and "plugin broken_import_plugin3 not loaded" in out
    sys.modules.pop("broken_import_plugin3", None)


# ----------------------------------------------------------------------------------------------- observers


class Recorder:
    def __init__(self):
        self.cells, self.runs = [], []

    @hookimpl
    def denoisebench_cell_finished(self, result):
        self.cells.append(result)

    @hookimpl
    def denoisebench_run_finished(self, results, config):
        self.runs.append((results, config))


class RaisingObserver:
    @hookimpl
    def denoisebench_cell_finished(self, result):
        raise RuntimeError("observer broke")

    @hookimpl
    def denoisebench_run_finished(self, results, config):
        raise ValueError("run observer broke")


@pytest.fixture(scope="module")
def observed_run(tmp_path_factory):
    """A small run (2 images, 1 noise spec, 1 denoiser) watched by a recording and a raising observer."""
    from denoisebench.builtin import datasets, metrics
    from denoisebench.config import Config
    from denoisebench.engine.grid import make_plan
    from denoisebench.engine.local import LocalExecutor
    from denoisebench.engine.provenance import open_store
    from denoisebench.engine.runner import execute

    rec = Recorder()
    plugins = make_plugins(extra_plugins=[("noise", builtin_noise), ("metrics", metrics), ("datasets", datasets),
                                          ("good", GoodPlugin()), ("rec", rec), ("raiser", RaisingObserver())],
                           load_entrypoints=False)
    config = Config(datasets=("embedded",), denoisers=("identity",), noise=("gaussian:25",),
                    metrics=("psnr",), max_images=2)
    plan = make_plan(config, plugins)
    store = open_store(tmp_path_factory.mktemp("observed") / "run", config, plugins, plan)
    try:
        counts = execute(plan, store, LocalExecutor(1, plugins=plugins), plugins)
        problems = store.get_meta("observer_errors")
        stored = store.done_keys()
    finally:
        store.close()
    return rec, counts, problems, config, stored


def test_cell_finished_sees_every_cell_despite_a_raising_observer(observed_run):
    rec, counts, problems, _, stored = observed_run
    assert sum(counts.values()) == len(rec.cells) >= 2  # the run finished despite the raising observer
    assert {r.status for r in rec.cells} == {"ok"} and {r.key for r in rec.cells} == set(stored)
    assert any("'raiser': denoisebench_cell_finished raised RuntimeError: observer broke" in p for p in problems)


def test_run_finished_gets_the_frame_and_config_once(observed_run):
    rec, _, problems, config, _ = observed_run
    (frame, cfg), = rec.runs
    assert cfg is config and "psnr" in set(frame["metric"]) and "identity" in set(frame["denoiser"])
    assert any("'raiser': denoisebench_run_finished raised ValueError: run observer broke" in p for p in problems)


# ----------------------------------------------------------------------------------------------- commands


class Commands:
    @hookimpl
    def denoisebench_add_commands(self, subparsers):
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--who", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.who}") or 3)


class BrokenCommands:
    @hookimpl
    def denoisebench_add_commands(self, subparsers):
        raise RuntimeError("cannot add")


def test_add_commands_hook_and_its_failure_contained(monkeypatch, capsys):
    real = pluginmanager.make_plugins

    def with_commands(**kwargs):
        return real(extra_plugins=[("cmds", Commands()), ("brokencmds", BrokenCommands())], **kwargs)

    monkeypatch.setattr(pluginmanager, "make_plugins", with_commands)
    assert main(["hello", "--who", "plugin"]) == 3
    captured = capsys.readouterr()
    assert "hello plugin" in captured.out
    assert "'brokencmds': denoisebench_add_commands raised RuntimeError: cannot add" in captured.err


class EveryKind:
    """Implements all four registration hooks, each with a small real component."""

    class Noise(builtin_noise.Gaussian):
        name = "test_gaussian"

    class Absdiff(Metric):
        name = "test_absdiff"
        higher_is_better = False
        convention = "max |a - b|"

        def compute(self, reference, estimate):
            return float(np.max(np.abs(reference - estimate)))

    class Tiny(Dataset):
        name = "test_tiny"
        license = "generated"

        def ids(self):
            return ["a"]

        def load(self, image_id):
            return np.full((8, 8), 0.5, np.float32)

    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(Identity)

    @hookimpl
    def denoisebench_register_noise_models(self, registry):
        registry.add(self.Noise)

    @hookimpl
    def denoisebench_register_metrics(self, registry):
        registry.add(self.Absdiff)

    @hookimpl
    def denoisebench_register_datasets(self, registry):
        registry.add(self.Tiny)


def test_every_registration_hook_registers_with_provider():
    plugins = make_plugins(extra_plugins=[("every", EveryKind())], load_entrypoints=False)
    expected = {"denoisers": "identity", "noise_models": "test_gaussian", "metrics": "test_absdiff",
                "datasets": "test_tiny"}
    assert set(expected) == set(pluginmanager.REGISTRATION_HOOKS)
    for kind, name in expected.items():
        assert plugins.registry(kind).names() == [name]
        assert plugins.registry(kind).provider(name).plugin == "every"
    assert plugins.status["every"].provides == {k: [v] for k, v in expected.items()}
    assert plugins.metrics.get("test_absdiff")().compute(np.zeros(2), np.ones(2)) == 1.0


def test_register_noise_models_rejects_a_class_that_is_not_a_noise_model():
    class NotNoise:
        name = "not_noise"

    class Bad:
        @hookimpl
        def denoisebench_register_denoisers(self, registry):
            registry.add(Identity)

        @hookimpl
        def denoisebench_register_noise_models(self, registry):
            registry.add(NotNoise)

    plugins = make_plugins(extra_plugins=[("every", EveryKind()), ("bad", Bad())], load_entrypoints=False)
    st = plugins.status["bad"]
    assert st.status == "error" and "bad: noise model 'not_noise' must subclass NoiseModel" in st.reason
    assert "not_noise" not in plugins.noise_models and plugins.denoisers.provider("identity").plugin == "every"
    noise = plugins.noise_models.get("test_gaussian")(sigma=25)
    clean = np.full((8, 8), 0.5, np.float32)
    a, b = (noise.apply(clean, np.random.default_rng(3)) for _ in range(2))
    assert a.shape == clean.shape and np.array_equal(a, b) and not np.array_equal(a, clean)


def test_register_metrics_bad_name_fails_only_that_plugin():
    class Named(EveryKind.Absdiff):
        name = "Abs-Diff"

    class Bad:
        @hookimpl
        def denoisebench_register_metrics(self, registry):
            registry.add(Named)

    plugins = make_plugins(extra_plugins=[("bad", Bad()), ("every", EveryKind())], load_entrypoints=False)
    assert plugins.status["bad"].status == "error"
    assert "metric name 'Abs-Diff' is not a lower-case identifier" in plugins.status["bad"].reason
    metric = plugins.metrics.get("test_absdiff")
    assert metric.higher_is_better is False and metric().compute(np.zeros(3), np.full(3, 0.25)) == 0.25


def test_register_datasets_duplicate_of_a_builtin_is_skipped_and_the_rest_loads():
    class Embedded(EveryKind.Tiny):
        name = "embedded"

    class Sets:
        @hookimpl
        def denoisebench_register_datasets(self, registry):
            registry.add(Embedded)
            registry.add(EveryKind.Tiny)

    plugins = make_plugins(extra_plugins=[("sets", Sets())])
    st = plugins.status["sets"]
    problem, = st.problems
    assert st.status == "ok" and st.provides == {"datasets": ["test_tiny"]}
    assert problem.startswith("sets: dataset name 'embedded' is already registered by datasets (denoisebench ")
    assert plugins.datasets.provider("embedded").plugin == "datasets"
    tiny = plugins.datasets.get("test_tiny")()
    assert tiny.ids() == ["a"] and tiny.load("a").shape == (8, 8)


def test_misspelt_disable_name_gets_one_line_and_disables_nothing(monkeypatch):
    monkeypatch.delenv(pluginmanager.DISABLE_ENV, raising=False)
    plugins = make_plugins(disable={"clasical"})
    assert plugins.status["classical"].status == "ok"
    line, = plugins.notes
    assert "'clasical'" in line and "did you mean classical?" in line and line in plugins.problems
    exact = make_plugins(disable={"classical"})
    assert exact.status["classical"].status == "disabled" and exact.notes == []


def test_disable_by_distribution_name_ignores_case_and_separators(monkeypatch):
    monkeypatch.setenv(pluginmanager.DISABLE_ENV, "DenoiseBench")  # the core distribution, spelt differently
    plugins = make_plugins()
    assert plugins.notes == []
    assert plugins.status["classical"].status == "disabled"
