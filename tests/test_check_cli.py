"""`denoisebench check`: the conformance kit from the command line (pass/fail table, exit status)."""

from __future__ import annotations

import textwrap

from denoisebench.cli import main

BROKEN = '''
import numpy as np
from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser

class Sloppy(Denoiser):
    name = "sloppy"
    description = "returns float64 and writes to its input"

    def denoise(self, noisy, *, noise=None, rng=None):
        noisy -= 0.0
        return noisy.astype(np.float64)

@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Sloppy)
'''


def test_check_builtin_plugin_passes(capsys):
    assert main(["check", "classical"]) == 0
    out = capsys.readouterr().out
    assert "denoiser:median" in out and "PASSED" in out and "FAIL " not in out


def test_check_component_by_kind_and_name(capsys):
    assert main(["check", "noise_model:gaussian"]) == 0
    out = capsys.readouterr().out
    assert "noise_model:gaussian" in out and "denoiser:gaussian" not in out


def test_check_broken_plugin_file_fails(tmp_path, capsys):
    path = tmp_path / "sloppy_plugin.py"
    path.write_text(textwrap.dedent(BROKEN))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "shape_and_dtype" in out and "FAIL" in out and "FAILED" in out
    assert "read-only" in out


def test_check_unknown_name_is_one_line_error(capsys):
    assert main(["check", "no_such_thing"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("denoisebench: error: 'no_such_thing' is neither a plugin") and "\n" not in err


def test_check_plugin_that_fails_to_load(tmp_path, capsys):
    path = tmp_path / "bad_import.py"
    path.write_text("import no_such_module_xyz\n")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "plugin 'bad_import': error: failed to load" in out and "no_such_module_xyz" in out


def test_check_dataset_with_options(tmp_path, capsys, monkeypatch):
    import numpy as np

    from denoisebench.images import save_image

    for i in range(2):
        save_image(tmp_path / f"im{i}.png", np.full((16, 20), 0.25 * (i + 1), np.float32))
    monkeypatch.setenv("COLUMNS", "300")  # one table row per line
    assert main(["check", "folder", "--dataset-option", f"path={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "dataset:folder" in out and "images_follow_conventions" in out and "PASSED" in out
    assert main(["check", f"folder:path={tmp_path / 'missing'}"]) == 1  # a bad option fails the checks
    assert "does not exist" in capsys.readouterr().out


def test_check_bad_dataset_option_is_one_line_error(capsys):
    assert main(["check", "folder", "--dataset-option", "path"]) == 2
    assert "pass KEY=VALUE" in capsys.readouterr().err


LAZY = '''
import numpy as np
from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser

class Passthrough(Denoiser):
    name = "passthrough"
    description = "returns a copy of its input"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.array(noisy, copy=True)

class GlobalRng(Denoiser):
    name = "global_rng"
    description = "dithers with np.random.normal but declares deterministic = True"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.clip(noisy * 0.9 + 0.05 + np.random.normal(0, 1e-3, noisy.shape), 0, 1).astype(noisy.dtype)

class Unvalidated(Denoiser):
    name = "unvalidated"
    description = "declares parameters, never validates them"
    defaults = {"size": 3}

    def denoise(self, noisy, *, noise=None, rng=None):
        return (noisy * 0.9 + 0.05).astype(noisy.dtype)

@hookimpl
def denoisebench_register_denoisers(registry):
    for cls in (Passthrough, GlobalRng, Unvalidated):
        registry.add(cls)
'''


def test_check_reports_identity_global_rng_and_unvalidated_parameters(tmp_path, capsys, monkeypatch):
    path = tmp_path / "lazy_plugin.py"
    path.write_text(textwrap.dedent(LAZY))
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    assert main(["check", str(path), "--failures-only"]) == 1
    lines = capsys.readouterr().out.splitlines()

    def row(component, check):
        (line,) = [ln for ln in lines if f"denoiser:{component}" in ln and f" {check} " in ln]
        assert "FAIL" in line
        return line

    assert "returned its input unchanged" in row("passthrough", "changes_input")
    assert "numpy's global RNG" in row("global_rng", "no_global_rng")
    assert "size='abc' was accepted" in row("unvalidated", "parameter_validation")
    assert not [ln for ln in lines if "denoiser:unvalidated" in ln and "changes_input" in ln]


CRASHING = '''
import os, signal
from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser

class Crashy(Denoiser):
    name = "crashy"
    description = "segfaults on colour images, exits on gray ones"

    def denoise(self, noisy, *, noise=None, rng=None):
        if noisy.ndim == 3:
            os.kill(os.getpid(), signal.SIGSEGV)
        raise SystemExit(4)

@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Crashy)
'''


def _check_plugin(tmp_path, capsys, monkeypatch, source: str, *options: str, columns: int = 250) -> tuple[int, str]:
    """Write ``source`` as a plugin module, run ``denoisebench check`` on it; return (exit status, output)."""
    monkeypatch.setenv("COLUMNS", str(columns))  # wide enough for one table row per line
    path = tmp_path / "plugin_under_check.py"
    path.write_text(textwrap.dedent(source))
    rc = main(["check", str(path), *options])
    return rc, capsys.readouterr().out


def test_check_runs_each_check_in_a_child_process(tmp_path, capsys, monkeypatch):
    rc, out = _check_plugin(tmp_path, capsys, monkeypatch, CRASHING)
    assert rc == 1  # the checker survives and reports
    assert "FAILED" in out and "denoiser:crashy" in out
    assert "SystemExit: 4" in out or "exited with code 4" in out
    assert "the check's process was killed by signal 11 (SIGSEGV) while running it" in out


PASSTHROUGH_DECLARED = '''
import numpy as np
from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser

class Passthrough(Denoiser):
    name = "declared_passthrough"
    description = "returns its input, and says so"
    conformance_expected_failures = {"changes_input": "an identity baseline on purpose"}

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.array(noisy, copy=True)

@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Passthrough)
'''


def test_check_honours_declared_expected_failures(tmp_path, capsys, monkeypatch):
    """Each check runs in a child process; a failure the class declares is an xfail there too, not a FAIL."""
    rc, out = _check_plugin(tmp_path, capsys, monkeypatch, PASSTHROUGH_DECLARED)
    assert rc == 0
    row = next(ln for ln in out.splitlines() if "changes_input" in ln)
    assert "XFAIL" in row and "an identity baseline on purpose" in row
