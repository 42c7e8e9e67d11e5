"""`denoisebench compare` and `baseline export`: matching, tolerances, directions, incompatibilities, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from denoisebench.baseline.drift import Tolerances, compare_sides
from denoisebench.baseline.file import CompareError, load_side, side_from_file
from denoisebench.cli import main

GRID = ["--dataset", "embedded:crop=64", "--max-images", "2", "--noise", "gaussian:25,salt_pepper:10%",
        "--denoisers", "median,mean", "--metrics", "psnr,ssim,mse", "--quiet"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("cmp") / "base"
    assert main(["run", *GRID, "--output", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="module")
def baseline_file(base_run, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bl") / "base.jsonl"
    assert main(["baseline", "export", str(base_run), str(path)]) == 0
    return path


def edit_baseline(src: Path, dst: Path, edit) -> Path:
    """Copy a baseline file, applying ``edit(obj)`` to every parsed line (return None to drop the line)."""
    out = []
    for line in src.read_text().splitlines():
        obj = edit(json.loads(line))
        if obj is not None:
            out.append(json.dumps(obj, sort_keys=True, separators=(",", ":")))
    dst.write_text("\n".join(out) + "\n")
    return dst


def test_export_is_sorted_stable_and_complete(base_run, baseline_file, tmp_path):
    again = tmp_path / "again.jsonl"
    assert main(["baseline", "export", str(base_run), str(again)]) == 0
    assert again.read_bytes() == baseline_file.read_bytes()
    lines = baseline_file.read_text().splitlines()
    assert json.loads(lines[0]) == {"denoisebench_baseline": 1}
    headers = {json.loads(x)["header"]: json.loads(x)["value"] for x in lines[1:5]}
    assert headers["metrics"] == {"mse": {"higher_is_better": False}, "psnr": {"higher_is_better": True},
                                  "ssim": {"higher_is_better": True}}
    assert headers["config"]["denoisers"] == ["median", "mean"] and "jobs" not in headers["config"]
    cells = [json.loads(x) for x in lines[5:]]
    assert len(cells) == 2 * 2 * 3  # images × noise × (noisy + 2 denoisers)
    assert all("time" not in c["metrics"] and "seconds" not in c for c in cells)
    # values round-trip exactly
    side = side_from_file(baseline_file)
    run = load_side(base_run)
    assert {k: v.metrics for k, v in side.cells.items()} == {k: v.metrics for k, v in run.cells.items()}


def test_same_run_passes_both_ways(base_run, baseline_file):
    assert main(["compare", str(baseline_file), str(base_run)]) == 0
    assert main(["compare", str(base_run), str(baseline_file)]) == 0
    assert main(["compare", str(baseline_file), str(baseline_file)]) == 0


def test_perturbed_parameter_fails_with_diff(tmp_path, base_run, baseline_file, capsys):
    cand = tmp_path / "cand"
    assert main(["run", *GRID, "--param", "median.size=5", "--output", str(cand)]) == 0
    md = tmp_path / "diff.md"
    capsys.readouterr()
    assert main(["compare", str(baseline_file), str(cand), "--markdown", str(md)]) == 1
    out = capsys.readouterr().out
    assert "DRIFT" in out and "params of median changed: size=3 → size=5" in " ".join(out.split())
    text = md.read_text()
    assert text.startswith("## ❌") and "| median | psnr |" in text
    result = compare_sides(load_side(baseline_file), load_side(cand))
    assert {m.key[4] for m in result.moved} == {"median"}
    assert all(m.direction in ("better", "worse") for m in result.moved)
    # restricted to the other denoiser, nothing moved
    assert main(["compare", str(baseline_file), str(cand), "--denoiser", "mean"]) == 0


def test_direction_follows_the_metric(tmp_path, baseline_file):
    def worse(obj):
        if "cell" in obj and obj["cell"]["denoiser"] == "mean" and obj["cell"]["image_id"] == "camera":
            obj["metrics"]["psnr"] -= 0.5
            obj["metrics"]["mse"] *= 1.5  # lower is better: an increase is worse
        return obj

    cand = edit_baseline(baseline_file, tmp_path / "c.jsonl", worse)
    result = compare_sides(side_from_file(baseline_file), side_from_file(cand))
    assert result.moved and {m.direction for m in result.moved} == {"worse"}
    assert {m.metric for m in result.moved} == {"psnr", "mse"}
    # the reverse comparison calls the same moves better
    back = compare_sides(side_from_file(cand), side_from_file(baseline_file))
    assert {m.direction for m in back.moved} == {"better"}


def test_tolerances_cli_and_config(tmp_path, baseline_file, capsys):
    def nudge(obj):
        if "cell" in obj and obj["status"] == "ok":
            obj["metrics"]["psnr"] += 5e-4  # beyond the 1e-4 dB default
        return obj

    cand = edit_baseline(baseline_file, tmp_path / "c.jsonl", nudge)
    assert main(["compare", str(baseline_file), str(cand)]) == 1
    assert main(["compare", str(baseline_file), str(cand), "--tol", "psnr=1e-3"]) == 0
    assert main(["compare", str(baseline_file), str(cand), "--rtol", "psnr=1e-4"]) == 0  # 5e-4 < 1e-4 * ~20 dB
    toml = tmp_path / "compare.toml"
    toml.write_text("[compare]\ntol = {psnr = 1e-3}\n")
    assert main(["compare", str(baseline_file), str(cand), "--config", str(toml)]) == 0
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.denoisebench.compare]\nmetrics = ['ssim', 'mse']\n")
    assert main(["compare", str(baseline_file), str(cand), "--config", str(pyproject)]) == 0
    capsys.readouterr()
    assert main(["compare", str(baseline_file), str(cand), "--tol", "psnr=abc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "psnr=abc" in err[0]


def test_tolerance_rule():
    tol = Tolerances()
    assert tol.within("psnr", 30.0, 30.0 + 9e-5) and not tol.within("psnr", 30.0, 30.0 + 2e-4)
    assert tol.within("mse", 1e-3, 1e-3 * (1 + 5e-6)) and not tol.within("mse", 1e-3, 1e-3 * (1 + 5e-5))
    assert tol.within("psnr", float("inf"), float("inf")) and not tol.within("psnr", float("inf"), 99.0)
    assert tol.within("psnr", None, None) and not tol.within("psnr", 30.0, None)


def test_missing_new_and_status_changes(tmp_path, baseline_file):
    def edit(obj):
        if "cell" not in obj:
            return obj
        c = obj["cell"]
        if c["denoiser"] == "median" and c["image_id"] == "camera":
            return None  # missing in the candidate
        if c["denoiser"] == "mean" and c["image_id"] == "camera":
            obj["status"], obj["metrics"] = "error", {}
        return obj

    cand = edit_baseline(baseline_file, tmp_path / "c.jsonl", edit)
    result = compare_sides(side_from_file(baseline_file), side_from_file(cand))
    assert len(result.missing) == 2 and not result.new and not result.moved
    assert {(k[4], b, a) for k, b, a, _ in result.status_changed} == {("mean", "ok", "error")}
    assert result.exit_code == 1
    back = compare_sides(side_from_file(cand), side_from_file(baseline_file))
    assert len(back.new) == 2 and back.drift
    assert not compare_sides(side_from_file(cand), side_from_file(baseline_file), allow_new=True).missing


@pytest.mark.parametrize("what, edit, message", [
    ("clip", lambda o: o["value"].update(clip="noisy images not clipped (KAIR protocol)"), "clip rule"),
    ("conventions", lambda o: o["value"]["metrics"].update(psnr="Y channel only"), "metric 'psnr'"),
    ("metrics", lambda o: o["value"]["mse"].update(higher_is_better=True), "changed direction"),
    ("config", lambda o: o["value"].update(seed=99), "base seed"),
    ("plan", lambda o: o["value"].update(datasets={"embedded:crop=256": "embedded"}), "dataset 'embedded'"),
])
def test_incompatible_sides_exit_3(tmp_path, baseline_file, capsys, what, edit, message):
    header = "conventions" if what == "clip" else what

    def change(obj):
        if obj.get("header") == header:
            edit(obj)
        return obj

    cand = edit_baseline(baseline_file, tmp_path / "c.jsonl", change)
    with pytest.raises(CompareError, match=message):
        compare_sides(side_from_file(baseline_file), side_from_file(cand))
    capsys.readouterr()
    assert main(["compare", str(baseline_file), str(cand)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot compare" in err[0]


@pytest.mark.parametrize("content", ["not json\n", '{"denoisebench_baseline": 99}\n', ""])
def test_unreadable_sides_exit_3(tmp_path, baseline_file, capsys, content):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    assert main(["compare", str(bad), str(baseline_file)]) == 3
    assert main(["compare", str(baseline_file), str(tmp_path / "nope")]) == 3
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert main(["compare", str(baseline_file), str(empty_dir)]) == 3
    assert len(capsys.readouterr().err.strip().splitlines()) == 3


def test_run_from_baseline_file_reproduces_it(tmp_path, baseline_file, base_run):
    """`run --from FILE` re-runs the pinned config into --output; its export equals the file byte for byte."""
    out = tmp_path / "rerun"
    assert main(["run", "--from", str(baseline_file), "--output", str(out), "--quiet"]) == 0
    assert not (baseline_file.parent / "results.sqlite").exists()
    again = tmp_path / "again.jsonl"
    assert main(["baseline", "export", str(out), str(again)]) == 0
    assert again.read_bytes() == baseline_file.read_bytes()
    shutil.rmtree(out)


def test_quick_profile_config():
    import argparse

    from denoisebench.cli.run import add_parser, config_from_args

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_parser(sub, lambda p: p.add_argument("--disable-plugin", action="append", default=[]))
    quick = config_from_args(parser.parse_args(["run", "--quick"]))
    assert quick.datasets == ("embedded:crop=128",) and quick.max_images == 4 and len(quick.noise) == 5
    own = config_from_args(parser.parse_args(["run", "--quick", "--max-images", "2", "--noise", "gaussian:15"]))
    assert own.max_images == 2 and own.noise == ("gaussian:15",) and own.datasets == quick.datasets


def test_no_dataset_in_common_is_incomparable(tmp_path, baseline_file, capsys):
    """A baseline of one dataset against a run of another: exit 3 ("cannot compare"), not a drift of missing
    cells."""
    other = tmp_path / "other"
    assert main(["run", "--dataset", "embedded_color:crop=64", "--max-images", "1", "--noise", "gaussian:25",
                 "--denoisers", "median", "--metrics", "psnr", "--quiet", "--no-figures", "--output",
                 str(other)]) == 0
    capsys.readouterr()
    assert main(["compare", str(baseline_file), str(other)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no dataset in common" in err[0] and "embedded_color" in err[0]


def test_long_change_lists_say_how_many_were_left_out(tmp_path, baseline_file, capsys, monkeypatch):
    from denoisebench.cli import compare

    monkeypatch.setattr(compare, "TERMINAL_ROWS", 3)
    cand = edit_baseline(baseline_file, tmp_path / "c.jsonl",
                         lambda o: None if "cell" in o and o["cell"]["denoiser"] != "noisy" else o)
    dropped = sum(1 for line in baseline_file.read_text().splitlines()
                  if '"denoiser":"median"' in line or '"denoiser":"mean"' in line)
    assert dropped > 3
    capsys.readouterr()
    assert main(["compare", str(baseline_file), str(cand)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert f"… and {dropped - 3} more (all of them: --markdown FILE)" in out
