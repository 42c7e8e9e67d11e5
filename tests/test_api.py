"""The public Python API: the worked example in docs/api.md runs as written, and bad input is one line."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import denoisebench as db

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def doc_blocks() -> tuple[str, str]:
    """(the python example, the output shown under it)."""
    text = DOC.read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, re.S)
    output = re.findall(r"Its output[^\n]*\n\n```\n(.*?)```", text, re.S)
    assert len(code) == 1 and len(output) == 1, "docs/api.md: one python example and one output block expected"
    return code[0], output[0]


def test_worked_example_runs_and_prints_what_the_docs_show(tmp_path, monkeypatch):
    code, shown = doc_blocks()
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
    printed = [line.rstrip() for line in out.getvalue().splitlines()]
    for want in shown.splitlines():
        want = want.rstrip()
        if want.endswith("(known: ...)"):
            assert any(line.startswith(want[: -len("(known: ...)")]) for line in printed), want
        else:
            assert want in printed, f"docs/api.md shows {want!r}; the example printed:\n" + "\n".join(printed)
    assert (tmp_path / "reports" / "api-example" / "report.md").is_file()


def test_open_run_frame_and_report_agree_with_the_store(tmp_path):
    run = db.run(denoisers="median", noise="gaussian:25", metrics="psnr", max_images=2, output=tmp_path / "r",
                 write_report=False)
    again = db.open_run(tmp_path / "r")
    cells = again.cells()
    assert again.status() == {"ok": 4} and run.counts == {"ok": 4}
    long = again.frame()
    psnr = long[(long["metric"] == "psnr") & (long["denoiser"] == "median")]["value"].mean()
    t4 = again.report().table("table4").data
    assert t4.query("denoiser == 'median' and metric == 'psnr'")["mean"].iloc[0] == pytest.approx(psnr)
    assert cells.loc[cells["denoiser"] == "median", "psnr"].mean() == pytest.approx(psnr)
    assert again.config.denoisers == ("median",)
    # the same options resume: nothing runs again
    assert db.run(denoisers="median", noise="gaussian:25", metrics="psnr", max_images=2, output=tmp_path / "r",
                  write_report=False).counts == {}


@pytest.mark.parametrize("call, message", [
    (lambda: db.denoiser("medain"), "unknown denoiser 'medain'; did you mean median?"),
    (lambda: db.denoiser("median", sise=3), "unknown parameter 'sise'"),
    (lambda: db.metric("psrn"), "did you mean psnr?"),
    (lambda: db.metric("psnr", chanel="y"), "metric 'psnr'"),
    (lambda: db.noise("gaussian"), "names 3 settings"),
    (lambda: db.noise("gausian:25"), "did you mean gaussian?"),
    (lambda: db.make_config(denoiser="median"), "unknown option 'denoiser'; did you mean denoisers?"),
    (lambda: db.make_config(protocol="matlab"), "unknown protocol"),
    (lambda: db.open_run("/nonexistent/run"), "no results.sqlite here"),
])
def test_bad_input_is_one_line(call, message):
    with pytest.raises(db.DenoiseBenchError) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_ready_objects_compute_like_the_registry_classes():
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio

    clean = db.dataset("embedded").load("camera")
    model = db.noise("gaussian:25")
    assert model.spec.key == 'gaussian{"sigma":25.0}'
    noisy = model.apply(clean, np.random.default_rng(1))
    assert db.metric("psnr")(clean, noisy) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=1))
    assert db.denoiser("median", size=5).params["size"] == 5


def test_import_stays_light():
    code = "import sys, denoisebench; print(sorted(m for m in ('torch', 'rich', 'matplotlib', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
