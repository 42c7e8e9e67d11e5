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
