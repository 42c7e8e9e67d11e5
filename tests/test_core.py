"""Core seams: light import, registry, plugin containment, selection parsing, seeding."""

import subprocess
import sys

import numpy as np
import pytest

from denoisebench import hookimpl
from denoisebench.config import Config
from denoisebench.errors import ConfigError, ParameterError, PluginError, UnknownNameError
from denoisebench.interfaces import Denoiser
from denoisebench.pluginmanager import make_plugins
from denoisebench.registry import Provider, Registry
from denoisebench.seeding import cell_rng, cell_seed
from denoisebench.selection import parse_noise, split_list


def test_import_is_light():
    code = "import sys, denoisebench; print(sorted(m for m in ('torch', 'rich', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class Dummy(Denoiser):
    name = "dummy"

    def denoise(self, noisy, *, noise=None, rng=None):
        return noisy.copy()


def test_registry_rejects_duplicates_naming_both_providers():
    reg = Registry("denoiser", Denoiser)
    reg.current = Provider("first", "dist-a", "1.0")
    reg.add(Dummy)
    reg.current = Provider("second", "dist-b", "2.0")
    with pytest.raises(PluginError) as err:
        reg.add(Dummy)
    assert "first (dist-a 1.0)" in str(err.value) and "second (dist-b 2.0)" in str(err.value)
    assert reg.provider("dummy").distribution == "dist-a"


def test_registry_rejects_bad_names_and_unknown_lookups():
    reg = Registry("denoiser", Denoiser)
    with pytest.raises(PluginError, match="lower-case identifier"):
        reg.add(Dummy, name="Bad Name")
    with pytest.raises(UnknownNameError, match="unknown denoiser 'nope'"):
        reg.get("nope")


class GoodPlugin:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(Dummy)


class HalfBrokenPlugin:
    """Registers one denoiser, then raises: the partial registration must be rolled back."""

    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        class Partial(Dummy):
            name = "partial"

        registry.add(Partial)
        raise RuntimeError("broken on purpose")


def test_raising_plugin_is_contained_and_rolled_back():
    plugins = make_plugins(extra_plugins=[("good", GoodPlugin()), ("broken", HalfBrokenPlugin())])
    assert "dummy" in plugins.denoisers
    assert "partial" not in plugins.denoisers
    assert plugins.status["broken"].status == "error"
    assert "broken on purpose" in plugins.status["broken"].reason
    assert plugins.status["good"].status == "ok"
    assert "median" in plugins.denoisers  # the built-ins still load


def test_disable_plugin_by_name():
    plugins = make_plugins(disable={"classical"})
    assert plugins.status["classical"].status == "disabled"
    assert "median" not in plugins.denoisers and "gaussian" in plugins.noise_models


@pytest.fixture(scope="module")
def noise_models():
    return make_plugins().noise_models


def test_parse_noise_selections(noise_models):
    assert [s.label for s in parse_noise(["gaussian"], noise_models)] == ["gaussian 15", "gaussian 25", "gaussian 50"]
    assert parse_noise(["salt_pepper:10%"], noise_models)[0].kwargs == {"amount": 0.1, "salt_ratio": 0.5}
    spec = parse_noise(split_list(["mixed:sigma=15,amount=0.2"]), noise_models)
    assert len(spec) == 1 and spec[0].kwargs == {"sigma": 15.0, "amount": 0.2} and spec[0].level == ""
    assert parse_noise(["gaussian:sigma=25"], noise_models)[0].key == parse_noise(["gaussian:25"], noise_models)[0].key
    same = parse_noise(["gaussian:sigma=25"], noise_models)[0]
    assert same.level == "25"  # explicit parameters equal to a standard level get its label
    everything = [s for s in parse_noise([], noise_models) if not noise_models.get(s.model).captured]
    assert len(everything) == 14 and len({s.key for s in everything}) == 14  # synthetic: 4 x 3 levels + mixed 2


@pytest.mark.parametrize("text, error, fragment", [
    ("gaussian:sigma=-5", ParameterError, "sigma=-5"),
    ("salt_pepper:amount=1.5", ParameterError, "amount=1.5"),
    ("mixed:99", ConfigError, "unknown level '99'"),  # gaussian:99 is sigma=99 (a bare number, its main parameter)
    ("blur", UnknownNameError, "unknown noise model 'blur'"),
])
def test_parse_noise_errors_are_one_line(noise_models, text, error, fragment):
    with pytest.raises(error) as err:
        parse_noise(split_list([text]), noise_models)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_config_roundtrip_and_digest_ignores_runtime_fields():
    cfg = Config(denoisers=("median",), noise=("gaussian:25",), seed=3)
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config(**{**cfg.__dict__, "jobs": 4}).digest() == cfg.digest()
    assert Config(**{**cfg.__dict__, "seed": 4}).digest() != cfg.digest()
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        Config.from_dict({"colour": True})


def test_seeds_are_stable_and_depend_on_the_noise_identity_only():
    a = cell_seed(0, "embedded", "camera", 'gaussian{"sigma":25}', 0)
    assert a == cell_seed(0, "embedded", "camera", 'gaussian{"sigma":25}', 0)
    assert a != cell_seed(1, "embedded", "camera", 'gaussian{"sigma":25}', 0)
    assert a != cell_seed(0, "embedded", "camera", 'gaussian{"sigma":25}', 1)
    x = cell_rng(a).standard_normal(4)
    np.testing.assert_array_equal(x, cell_rng(a).standard_normal(4))
