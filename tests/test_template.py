"""plugins/template stays a working plugin: its pyproject declares the entry point, its module passes the kit.

(The plugin itself is not installed in the development environment; it is loaded from its source here. The
fresh-venv walk-through in docs/plugins.md installs it for real.)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from denoisebench.pluginmanager import make_plugins
from denoisebench.testing import plugin_subjects, run_checks

PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
TEMPLATE = PLUGINS_DIR / "template"
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def _load_template_module():
    path = TEMPLATE / "denoisebench_template" / "plugin.py"
    spec = importlib.util.spec_from_file_location("denoisebench_template_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_template_pyproject_declares_the_entry_point():
    meta = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["denoisebench"]
    assert eps == {"template": "denoisebench_template.plugin"}
    assert (TEMPLATE / "denoisebench_template" / "plugin.py").is_file()
    assert "torch" not in " ".join(meta["project"]["dependencies"])
    assert list((TEMPLATE / "tests").glob("test_*.py"))


def test_template_plugin_passes_the_kit():
    plugins = make_plugins(extra_plugins=[("template", _load_template_module())], load_entrypoints=False)
    assert plugins.status["template"].status == "ok"
    subjects = plugin_subjects(plugins, "template")
    assert [s.name for s in subjects] == ["template_nlmeans"]
    results = run_checks(subjects, plugins=plugins)
    assert [r for r in results if r.failed] == []
    assert {r.status for r in results} == {"pass"}


def test_bm3d_plugin_metadata_states_the_non_commercial_licence():
    meta = tomllib.loads((PLUGINS_DIR / "denoisebench-bm3d" / "pyproject.toml").read_text())
    assert "License :: Free for non-commercial use" in meta["project"]["classifiers"]
    assert "non-commercial" in meta["project"]["license"]["text"]
    assert meta["project"]["entry-points"]["denoisebench"] == {"bm3d": "denoisebench_bm3d.plugin"}
    assert "NON-COMMERCIAL USE ONLY" in (PLUGINS_DIR / "denoisebench-bm3d" / "README.md").read_text()
    assert not any(d.startswith("torch") for d in meta["project"]["dependencies"])
