"""Parameter sweeps: ``--param median.size=3,5,7`` and ``--sweep`` (each denoiser's ``param_grid``) expand into
one cell per value, each value stored as that cell's parameter, and the tables show one row per value."""

from __future__ import annotations

import json

import pytest

from denoisebench.cli import main
from denoisebench.config import NOISY, Config
from denoisebench.engine.grid import make_plan, param_sets
from denoisebench.errors import ConfigError, DenoiseBenchError
from denoisebench.pluginmanager import make_plugins
from denoisebench.reporting.data import load_cells
from denoisebench.selection import parse_param_overrides, parse_param_values, split_values
from denoisebench.store import Store

PLUGINS = make_plugins()
SMALL = {"noise": ("gaussian:25", "salt_pepper:10%"), "metrics": ("psnr",), "max_images": 2}


def _cells_of(plan, denoiser):
    return [[c for c in task.cells if c.denoiser == denoiser] for task in plan.tasks]


# ----------------------------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize("text, values", [
    ("5", ["5"]),
    ("3,5,7", ["3", "5", "7"]),
    ("[3,5]", ["[3,5]"]),
    ("[3,5],[7,9]", ["[3,5]", "[7,9]"]),
    ('"a,b",c', ['"a,b"', "c"]),
    ('{"x": [1, 2]},3', ['{"x": [1, 2]}', "3"]),
])
def test_split_values_respects_json_brackets_and_quotes(text, values):
    assert split_values(text) == values


def test_parse_param_values_lists_and_single_values():
    got = parse_param_values(("median.size=3,5,7", "wiener.noise=none", "wiener.border=zero,reflect"),
                             PLUGINS.denoisers)
    assert got == {"median": {"size": [3, 5, 7]}, "wiener": {"noise": [None], "border": ["zero", "reflect"]}}
    assert parse_param_values(("median.size=[3,5]",), PLUGINS.denoisers) == {"median": {"size": [[3, 5]]}}
    # a later item for the same parameter replaces the earlier one, as before
    assert parse_param_values(("median.size=3", "median.size=5"), PLUGINS.denoisers) == {"median": {"size": [5]}}


@pytest.mark.parametrize("item, fragment", [
    ("median.size=3,,5", "an empty value in the list"),
    ("median.size=3,", "an empty value in the list"),
    ("median.size=3,3", "value '3' given twice"),
    ("median.bogus=3,5", "median has no parameter 'bogus'"),
    ("median=3,5", "pass DENOISER.PARAM=VALUE[,VALUE...]"),
])
def test_bad_param_lists_are_one_line_errors(item, fragment):
    with pytest.raises(ConfigError) as info:
        parse_param_values((item,), PLUGINS.denoisers)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_parse_param_overrides_keeps_single_values():
    assert parse_param_overrides(("median.size=5",), PLUGINS.denoisers) == {"median": {"size": 5}}
    with pytest.raises(ConfigError, match="2 values given where one is expected"):
        parse_param_overrides(("median.size=3,5",), PLUGINS.denoisers)


def test_param_sets_is_a_deterministic_cartesian_product():
    sets = param_sets({"a": 0, "b": 0, "c": 9}, {"b": ["x", "y"], "a": [1, 2]}, ["a", "b", "c"])
    assert sets == [{"a": 1, "b": "x", "c": 9}, {"a": 1, "b": "y", "c": 9},
                    {"a": 2, "b": "x", "c": 9}, {"a": 2, "b": "y", "c": 9}]
    assert param_sets({"a": 0}, {}, ["a"]) == [{"a": 0}]


# ----------------------------------------------------------------------------------------------- planning


def test_param_list_plans_one_cell_per_value():
    plan = make_plan(Config(denoisers=("median", "gaussian"), params=("median.size=3,5,7",), **SMALL), PLUGINS)
    assert len(plan.tasks) == 4  # 2 images x 2 settings
    for task, medians in zip(plan.tasks, _cells_of(plan, "median")):
        assert [c.param_dict for c in medians] == [{"size": 3}, {"size": 5}, {"size": 7}]
        assert len({c.key for c in task.cells}) == len(task.cells)  # distinct store keys
        assert len(_cells_of_task(task, "gaussian")) == 1
    assert plan.n_cells == 4 * (1 + 3 + 1)


def _cells_of_task(task, denoiser):
    return [c for c in task.cells if c.denoiser == denoiser]


def test_sweep_expands_param_grid_of_selected_denoisers():
    grid = PLUGINS.denoisers.get("switching_median").param_grid
    plan = make_plan(Config(denoisers=("median", "switching_median", "gaussian"), sweep=("switching_median",),
                            **SMALL), PLUGINS)
    task = plan.tasks[0]
    sm = [c.param_dict for c in _cells_of_task(task, "switching_median")]
    assert [(p["max_size"], p["detection"]) for p in sm] == [
        (m, d) for m in grid["max_size"] for d in grid["detection"]]  # defaults order, last fastest
    assert all(p["tol"] == 0.0 for p in sm)  # parameters outside the grid keep their defaults
    assert len(_cells_of_task(task, "median")) == 1 and len(_cells_of_task(task, "gaussian")) == 1

    everything = make_plan(Config(denoisers=("median", "gaussian"), sweep=("*",), **SMALL), PLUGINS)
    task = everything.tasks[0]
    assert [c.param_dict["size"] for c in _cells_of_task(task, "median")] == [3, 5, 7, 9]
    assert [c.param_dict["sigma"] for c in _cells_of_task(task, "gaussian")] == [0.5, 0.8, 1.0, 1.5, 2.0]


def test_parse_sweep_accepts_a_string_or_true():
    from denoisebench.selection import parse_sweep

    selected = ["median", "gaussian", "mean"]
    assert parse_sweep("mean,median", selected, PLUGINS.denoisers) == ["median", "mean"]
    assert parse_sweep(True, selected, PLUGINS.denoisers) == selected
    assert parse_sweep((), selected, PLUGINS.denoisers) == []


def test_param_values_replace_the_grid_axis_they_name():
    plan = make_plan(Config(denoisers=("switching_median",), sweep=("*",),
                            params=("switching_median.detection=adaptive",), **SMALL), PLUGINS)
    sm = [c.param_dict for c in _cells_of_task(plan.tasks[0], "switching_median")]
    assert [(p["max_size"], p["detection"]) for p in sm] == [(5, "adaptive"), (7, "adaptive"), (9, "adaptive")]


def test_bad_sweep_values_are_one_line_errors():
    with pytest.raises(DenoiseBenchError, match="size=4 is invalid") as info:
        make_plan(Config(denoisers=("median",), params=("median.size=3,4",), **SMALL), PLUGINS)
    assert "\n" not in str(info.value)
    with pytest.raises(DenoiseBenchError, match="did you mean median"):
        make_plan(Config(denoisers=("median",), sweep=("medain",), **SMALL), PLUGINS)
    with pytest.raises(ConfigError, match="not among the selected denoisers"):
        make_plan(Config(denoisers=("median",), sweep=("gaussian",), **SMALL), PLUGINS)


def test_sweep_is_part_of_the_identity_but_earlier_runs_keep_theirs():
    assert "sweep" not in Config().identity()
    assert Config().digest() == Config.from_dict({k: v for k, v in Config().to_dict().items()
                                                  if k != "sweep"}).digest()
    assert Config(sweep=("*",)).digest() != Config().digest()


# ----------------------------------------------------------------------------------------------- run + report


def test_run_with_a_param_list_stores_each_value_and_reports_one_row_per_value(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    run_dir = tmp_path / "run"
    argv = ["run", "--denoisers", "median,gaussian", "--noise", "gaussian:25,salt_pepper:10%", "--metrics", "psnr",
            "--max-images", "2", "--param", "median.size=3,5", "--no-figures", "--output", str(run_dir)]
    assert main(argv) == 0
    terminal = capsys.readouterr().out
    with Store(run_dir) as store:
        raw = store.cells()
        cells = load_cells(store)
    medians = raw[raw["denoiser"] == "median"]
    per_unit = medians.groupby(["image_id", "noise_key"])["params"].apply(
        lambda s: sorted(json.loads(p)["size"] for p in s))
    assert len(per_unit) == 4 and all(v == [3, 5] for v in per_unit)
    assert all(json.loads(p) == {"size": json.loads(p)["size"]} for p in medians["params"])

    assert set(cells["denoiser"]) == {NOISY, "median[size=3]", "median[size=5]", "gaussian"}
    assert set(cells.loc[cells["denoiser"].str.startswith("median"), "base_denoiser"]) == {"median"}
    report = (run_dir / "report.md").read_text()
    table4 = report.split("Table 4", 1)[1].split("\n\n", 2)[1]
    assert "| median[size=3] | 4 |" in table4 and "| median[size=5] | 4 |" in table4
    assert table4.index("median[size=3]") < table4.index("median[size=5]") < table4.index("| gaussian")
    table3 = report.split("Table 3", 1)[1].split("\n\n", 2)[1]
    assert "| median[size=3] | median[size=5] | gaussian |" in table3
    assert "median[size=3]" in terminal and "median[size=5]" in terminal  # rich does not eat [size=3] as markup


def test_run_with_sweep_flag(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["run", "--denoisers", "median,mean", "--sweep", "median", "--noise", "salt_pepper:10%", "--metrics",
            "psnr", "--max-images", "1", "--quiet", "--no-figures", "--output", str(run_dir)]
    assert main(argv) == 0
    with Store(run_dir) as store:
        assert store.get_meta("config")["sweep"] == ["median"]
        cells = load_cells(store)
    assert list(cells["denoiser"].unique()) == [
        "mean", "median[size=3]", "median[size=5]", "median[size=7]", "median[size=9]", NOISY]
    report = (run_dir / "report.md").read_text()
    for size in (3, 5, 7, 9):
        assert f"| median[size={size}] |" in report
    assert "| mean |" in report


def test_bare_sweep_flag_sweeps_every_selected_denoiser(tmp_path, capsys):
    from denoisebench.cli import build_parser

    args = build_parser(PLUGINS).parse_args(["run", "--denoisers", "median", "--sweep"])
    assert args.sweep == ["*"]
