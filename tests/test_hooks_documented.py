"""Every hook in denoisebench/hookspecs.py is documented in docs/plugins.md and exercised by a test
(datasette's test_docs.py / test_plugins.py pattern): adding a hookspec without both fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from denoisebench import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"
THIS = Path(__file__).name


def hook_names() -> list[str]:
    return sorted(n for n, f in vars(hookspecs).items()
                  if callable(f) and hasattr(f, f"{hookspecs.PROJECT}_spec"))


def documented_headings() -> dict[str, str]:
    """hook name -> its heading line in docs/plugins.md (headings like ``### `denoisebench_x(arg)` ``)."""
    out = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^#{2,4}\s+`?(denoisebench_[a-z_]+)", line)
        if m:
            out[m.group(1)] = line
    return out


def test_there_are_hooks():
    assert "denoisebench_register_denoisers" in hook_names()


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_documented_with_its_arguments(hook):
    headings = documented_headings()
    assert hook in headings, f"{hook} has no heading in docs/plugins.md; add '### `{hook}(...)`' with a description"
    args = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert all(a in headings[hook] for a in args), f"docs/plugins.md heading for {hook} must list {args}"


@pytest.mark.parametrize("hook", hook_names())
def test_hook_has_a_test(hook):
    users = [p.name for p in (ROOT / "tests").glob("test_*.py") if p.name != THIS and hook in p.read_text()]
    assert users, f"no test in tests/ mentions {hook}; add one that implements and exercises the hook"


def test_docs_name_no_missing_hooks():
    stale = sorted(set(documented_headings()) - set(hook_names()))
    assert not stale, f"docs/plugins.md documents hooks that do not exist: {stale}"
