"""A real (minimal) installed distribution for tests: a ``NAME-VERSION.dist-info`` with entry points and the
plugin module beside it, in a folder that the test puts on ``sys.path`` and ``PYTHONPATH`` (so worker
processes find it too)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path


def write_distribution(root: Path, name: str, version: str, plugins: dict[str, str], modules: dict[str, str]
                       ) -> Path:
    """``plugins``: entry-point name -> module; ``modules``: module name -> source. Returns ``root``."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[denoisebench]\n" + "".join(f"{k} = {v}\n" for k, v in plugins.items()))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def install(monkeypatch, root: Path, modules: list[str]) -> None:
    """Put ``root`` on this process's path and on the path of any child process; forget stale imports."""
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", str(root))
    for module in modules:
        sys.modules.pop(module, None)


def run_with_plugin(tmp_path_factory, dist: str, plugin: str, module: str, source: str, argv: list[str]):
    """Install a one-module distribution, run ``denoisebench`` with ``argv`` (plus ``--output``) in-process and
    yield the run directory; the distribution stays on the path until the generator is closed (a module-scoped
    fixture's lifetime)."""
    import pytest

    from denoisebench.cli import main

    root = write_distribution(tmp_path_factory.mktemp("site"), dist, "1.0", {plugin: module}, {module: source})
    mp = pytest.MonkeyPatch()
    install(mp, root, [module])
    out = tmp_path_factory.mktemp("run") / "run"
    try:
        assert main([*argv, "--output", str(out)]) == 0
        yield out
    finally:
        mp.undo()
        sys.modules.pop(module, None)
