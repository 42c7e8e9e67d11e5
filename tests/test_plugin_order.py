"""Load order and duplicate names, with a real distribution on the path whose name sorts before denoisebench.

``acme-filters`` registers ``median`` (taken by the built-in classical plugin) and ``acme_box`` (new). The core
distribution loads first, so the built-in keeps ``median``; only acme's clashing entry is skipped, with one
line naming both providers, and ``acme_box`` still registers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from denoisebench import hookimpl, pluginmanager
from denoisebench.builtin import classical
from denoisebench.errors import UnknownNameError
from denoisebench.interfaces import Denoiser
from denoisebench.pluginmanager import load_order, make_plugins
from denoisebench.registry import Provider, Registry

CLASSICAL = ["median", "gaussian", "wiener", "mean", "switching_median"]
#: the one line, around the core version: "...by classical (denoisebench 0.1.0); skipped ..."
DUPLICATE = ("acme (acme-filters 1.0): denoiser name 'median' is already registered by classical (denoisebench ",
             "); skipped this entry — rename it")

ACME_MODULE = '''
import numpy as np
from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser


class Median(Denoiser):
    name = "median"
    description = "acme's own median"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.array(noisy, copy=True)


class Box(Denoiser):
    name = "acme_box"
    description = "acme box filter"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.array(noisy, copy=True)


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Median)  # clashes with the built-in: skipped
    registry.add(Box)  # still registered
'''


def write_acme(root: Path) -> Path:
    """A minimal installed distribution: ``acme_filters-1.0.dist-info`` plus its plugin module."""
    info = root / "acme_filters-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-filters\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[denoisebench]\nacme = acme_filters\n")
    (root / "acme_filters.py").write_text(textwrap.dedent(ACME_MODULE))
    return root


@pytest.fixture
def acme_on_path(tmp_path, monkeypatch):
    root = write_acme(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    yield root
    sys.modules.pop("acme_filters", None)


def test_load_order_core_first_then_by_distribution_name():
    keys = [("denoisebench-neural", "neural"), ("acme_filters", "acme"), ("denoisebench", "noise"),
            ("Zeta.Plugins", "z"), ("denoisebench", "classical"), ("", "nodist")]
    ordered = sorted(keys, key=lambda k: load_order(*k))
    assert ordered == [("denoisebench", "classical"), ("denoisebench", "noise"), ("", "nodist"),
                       ("acme_filters", "acme"), ("denoisebench-neural", "neural"), ("Zeta.Plugins", "z")]


def test_fake_distribution_is_discovered_after_the_core(acme_on_path):
    dists = [ep.dist.name for ep in pluginmanager._entry_points()]
    assert "acme-filters" in dists and "acme-filters" < "denoisebench"
    first_other = next(i for i, d in enumerate(dists) if d != "denoisebench")
    assert set(dists[:first_other]) == {"denoisebench"} and "denoisebench" not in dists[first_other:]


def test_register_denoisers_duplicate_skips_only_the_clashing_entry(acme_on_path):
    plugins = make_plugins()
    assert plugins.denoisers.names()[:5] == CLASSICAL  # the built-ins, all five, registered first
    assert plugins.denoisers.get("median") is classical.Median
    core_version = plugins.status["classical"].version
    assert plugins.denoisers.provider("median") == Provider("classical", "denoisebench", core_version)
    assert "acme_box" in plugins.denoisers and plugins.denoisers.provider("acme_box").plugin == "acme"
    acme = plugins.status["acme"]
    assert (acme.status, acme.distribution, acme.version) == ("ok", "acme-filters", "1.0")
    assert acme.provides == {"denoisers": ["acme_box"]}
    assert acme.problems == [core_version.join(DUPLICATE)]
    assert plugins.problems == acme.problems
    assert plugins.status["classical"].status == "ok" and not plugins.status["classical"].problems


def test_extra_plugins_load_after_every_entry_point(acme_on_path):
    class Box(classical.Mean):
        name = "acme_box"

    class Late:
        @hookimpl
        def denoisebench_register_denoisers(self, registry):
            registry.add(Box)

    plugins = make_plugins(extra_plugins=[("late", Late())])
    names = list(plugins.status)
    assert names.index("acme") < names.index("late") and names[-1] == "late"
    assert plugins.denoisers.provider("acme_box").plugin == "acme"
    assert "already registered by acme (acme-filters 1.0)" in plugins.status["late"].problems[0]


def _cli(args: list[str], site: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "250", "DENOISEBENCH_DISABLE_PLUGINS": "neural,lpips"}
    done = subprocess.run([sys.executable, "-m", "denoisebench", *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_list_and_plugins_with_a_first_sorted_distribution(tmp_path):
    site = write_acme(tmp_path / "site")
    listing = _cli(["list", "denoisers"], site)
    rows = {line.split("│")[1].strip(): line for line in listing.splitlines() if line.count("│") > 3}
    for name in CLASSICAL:
        assert name in rows and "classical (denoisebench" in rows[name]
    assert "acme (acme-filters 1.0)" in rows["acme_box"]
    assert "acme's own median" not in listing
    skipped = [line for line in listing.splitlines() if "already registered" in line]
    assert len(skipped) == 1 and skipped[0].startswith(DUPLICATE[0]) and skipped[0].endswith(DUPLICATE[1])

    status = _cli(["plugins"], site)
    rows = {line.split("│")[1].strip(): line for line in status.splitlines() if line.count("│") > 3}
    assert " ok " in rows["acme"] and "acme_box" in rows["acme"] and "1 entry skipped" in rows["acme"]
    assert " ok " in rows["classical"] and "switching_median" in rows["classical"]
    line, = [ln for ln in status.splitlines() if "already registered" in ln]  # one line, naming both
    assert line.startswith(DUPLICATE[0]) and line.endswith(DUPLICATE[1])


def test_registry_remove_and_remove_provider():
    reg = Registry("denoiser", Denoiser)
    with reg.providing(Provider("one")):
        reg.add(classical.Median)
        reg.add(classical.Mean)
    with reg.providing(Provider("two")) as skipped:
        reg.add(classical.Wiener)
        reg.add(classical.Median)
    assert skipped == ["two: denoiser name 'median' is already registered by one; skipped this entry — rename it"]
    assert reg.current == Provider("unknown")  # restored after the block
    assert reg.remove("mean").obj is classical.Mean and reg.names() == ["median", "wiener"]
    with pytest.raises(UnknownNameError):
        reg.remove("mean")
    assert reg.remove_provider("one") == ["median"] and reg.names() == ["wiener"]
    assert reg.remove_provider("nobody") == []
