"""Every `denoisebench run` example in the README and the docs, and every example in `run --help`, is a command
that works: each is run with --dry-run, which resolves every name, noise spec, dataset and parameter (the same
one-line errors as a real run) without running cells."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from denoisebench.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
#: examples that need something not installed by setup.sh (their plugin's own tests cover them)
NEEDS = {"template_nlmeans": "the template plugin", "bm3d": "the BM3D plugin", "DIR": "a user folder",
         "HOST": "a dask scheduler", "10.0.0.5": "a dask scheduler"}
STANDARD = ("set12", "bsd68", "cbsd68", "kodak24", "mcmaster", "urban100", "train400", "polyu")


def doc_examples() -> list[tuple[str, str]]:
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        in_code = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                in_code = not in_code
                continue
            text = line.split("  #")[0].strip()
            if in_code and text.startswith(("denoisebench run ", ".venv/bin/denoisebench run ")) and "..." not in text:
                out.append((f"{path.name}: {text}", text))
    return out


def argv(text: str) -> list[str]:
    words = shlex.split(text)
    return words[words.index("run"):]


@pytest.mark.parametrize("where, text", doc_examples(), ids=[w for w, _ in doc_examples()])
def test_documented_run_example_works(where, text, monkeypatch, capsys):
    missing = [why for token, why in NEEDS.items() if token in text]
    if missing:
        pytest.skip(f"needs {missing[0]}")
    if any(s in text for s in STANDARD):
        if not SHARED.is_dir():
            pytest.skip("needs the standard sets in ../shared/datasets")
        monkeypatch.setenv("DENOISEBENCH_DATA", str(SHARED))
    monkeypatch.chdir(ROOT)  # relative paths in the docs are from the repository root; --dry-run writes nothing
    assert main(argv(text) + ["--dry-run"]) == 0, capsys.readouterr().err
    assert "dry run:" in capsys.readouterr().out


def help_examples() -> list[tuple[str, str]]:
    """(flag, example) for every 'e.g. X' in the help of `run`."""
    from denoisebench.api import plugins

    parser = build_parser(plugins())
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    run = sub.choices["run"]
    out = []
    for action in run._actions:
        for example in re.findall(r"e\.g\. ([^\s;]+)", action.help or ""):
            out.append((action.option_strings[-1], example.rstrip(",.)")))
    return out


def test_help_has_examples():
    assert {flag for flag, _ in help_examples()} >= {"--param", "--metric-option"}


@pytest.mark.parametrize("flag, example", help_examples())
def test_help_example_works(flag, example, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", flag, example, "--dry-run"]) == 0, capsys.readouterr().err


def test_bare_number_sets_the_main_parameter():
    from denoisebench.api import plugins
    from denoisebench.errors import ConfigError
    from denoisebench.selection import parse_noise

    models = plugins().noise_models
    assert [s.key for s in parse_noise(["gaussian:30"], models)] == [s.key for s in
                                                                     parse_noise(["gaussian:sigma=30"], models)]
    assert parse_noise(["gaussian:25"], models)[0].level == "25"  # a level name stays a level
    assert parse_noise(["poisson:20"], models)[0].kwargs == {"peak": 20.0}
    with pytest.raises(ConfigError, match="pass parameters like mixed:sigma=15.0,amount=0.1"):
        parse_noise(["mixed:30"], models)  # two main parameters: no guess
