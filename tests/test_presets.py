"""Presets are code, in three registries with one lookup rule (snnlib.presets.choose), and the
notebooks' presets name only presets and parameters that exist."""

from pathlib import Path

import pytest

from snnlib.bench import BENCH_PRESETS, preset_sweeps
from snnlib.notebook_presets import NOTEBOOK_PRESETS
from snnlib.presets import choose
from snnlib.reporting import discover_notebooks, load_parameters, parameter_names
from snnlib.train import PRESETS, TrainConfig

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_choose_names_the_kind_and_lists_the_valid_names():
    assert choose({"a": 1, "b": 2}, "b") == 2
    with pytest.raises(ValueError, match=r"unknown train preset 'c'; valid choices: a, b"):
        choose({"a": 1, "b": 2}, "c", "train preset")
    with pytest.raises(ValueError, match="unknown bench preset"):
        preset_sweeps("huge")
    with pytest.raises(ValueError, match="unknown train preset"):
        TrainConfig.from_preset("huge")


@pytest.mark.parametrize("preset", ["tiny", "full"])
def test_every_notebook_has_parameters_in_each_report_preset(preset):
    stems = [s.stem for s in discover_notebooks(NOTEBOOKS)]
    assert sorted(NOTEBOOK_PRESETS[preset]) == sorted(stems)


@pytest.mark.parametrize("preset", ["tiny", "full"])
def test_notebook_presets_name_existing_presets_and_parameters(preset):
    for source in discover_notebooks(NOTEBOOKS):
        values = load_parameters(source, preset)  # raises for a name the cell does not define
        assert set(values) <= parameter_names(source)
        if "train_preset" in values:
            assert values["train_preset"] in PRESETS, (source.name, values["train_preset"])
        if source.stem == "04_benchmarks":
            assert values["preset"] in BENCH_PRESETS


def test_a_parameter_the_notebook_does_not_define_is_refused(tmp_path):
    source = tmp_path / "01_demo.py"
    source.write_text('# %% tags=["parameters"]\nvalue = 1\nother: int = 2\n\n# %%\nprint(value)\n')
    assert parameter_names(source) == {"value", "other"}
    assert load_parameters(source, "tiny", {"tiny": {"01_demo": {"value": 3}}}) == {"value": 3}
    with pytest.raises(ValueError, match=r"\['valeu'\].*parameters cell"):
        load_parameters(source, "tiny", {"tiny": {"01_demo": {"valeu": 3}}})
    with pytest.raises(ValueError, match="unknown report preset 'medium'"):
        load_parameters(source, "medium")
