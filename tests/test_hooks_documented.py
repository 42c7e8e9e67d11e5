"""Every hook in denoisebench/hookspecs.py is documented in docs/plugins.md and has a test named for it
(datasette's test_docs.py / test_plugins.py pattern): adding a hookspec without both fails here. Every
hookspec is typed and its docstring says what each argument is and since when the hook exists."""

from __future__ import annotations

import ast
import inspect
import re
import typing
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


def named_tests() -> set[str]:
    """Names of every test function in tests/ (module level and in classes), this file excepted."""
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        if path.name != THIS:
            tree = ast.parse(path.read_text())
            names |= {n.name for n in ast.walk(tree)
                      if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_")}
    return names


@pytest.mark.parametrize("hook", hook_names())
def test_hook_has_a_test_named_for_it(hook):
    short = hook.removeprefix(f"{hookspecs.PROJECT}_")
    named = sorted(n for n in named_tests() if short in n)
    assert named, f"no test function in tests/ is named for {hook}; add e.g. 'def test_{short}_...' that " \
                  f"implements and exercises the hook"


def type_checking_namespace() -> dict:
    """What hookspecs.py imports under ``if TYPE_CHECKING:``, imported here to resolve its annotations."""
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    block, = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    namespace: dict = {}
    exec(compile(ast.Module(body=block.body, type_ignores=[]), hookspecs.__file__, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("hook", hook_names())
def test_hookspec_arguments_and_return_are_annotated(hook):
    spec = getattr(hookspecs, hook)
    params = inspect.signature(spec).parameters
    missing = [a for a, p in params.items() if p.annotation is inspect.Parameter.empty]
    assert not missing, f"{hook}: annotate {missing} (types for annotations go under 'if TYPE_CHECKING:')"
    hints = typing.get_type_hints(spec, localns=type_checking_namespace())  # every annotation resolves
    assert set(hints) == {*params, "return"} and hints["return"] is type(None)


@pytest.mark.parametrize("hook", hook_names())
def test_hookspec_docstring_describes_arguments_and_version(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert re.search(r"^\.\. versionadded:: \d+\.\d+$", doc, re.M), f"{hook}: add '.. versionadded:: 0.x'"
    for arg in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {arg}:" in doc, f"{hook}: say what '{arg}' is with ':param {arg}: ...'"
    assert "Called" in doc and "process" in doc, f"{hook}: say when and in which process it is called"
    assert re.search(r"\braise|\bexception", doc, re.I), f"{hook}: say what an exception raised in it does"


def test_importing_hookspecs_stays_light():
    import subprocess
    import sys

    # the annotations' modules (registry, results) are imported only for type checking; denoisebench.config is
    # light and imported by the package's public API anyway
    heavy = ("pandas", "denoisebench.registry", "denoisebench.results", "denoisebench.store")
    code = f"import sys, denoisebench.hookspecs; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing denoisebench.hookspecs imported {out.strip()}"
