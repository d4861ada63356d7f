"""The selection diagnostic (leaderboards/selection_table.py): the epoch each criterion keeps, by hand, and the
committed table is what the committed epoch traces give."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("selection_table", ROOT / "leaderboards" / "selection_table.py")
selection_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(selection_table)


def test_pick_keeps_the_first_best_epoch():
    history = [{"epoch": 1, "v": 1.0}, {"epoch": 2, "v": 3.0}, {"epoch": 3, "v": 3.0}, {"epoch": 4, "v": None}]
    assert selection_table.pick(history, "v")["epoch"] == 2


@pytest.mark.parametrize("folder", ["", "synth-vqacp-1"])  # the current world's, and the first world's (archived)
def test_committed_selection_table_is_what_the_traces_give(tmp_path, folder):
    committed = ROOT / "leaderboards" / "diagnostics" / folder
    selection_table.main(committed / "epoch-trace", tmp_path)
    assert json.loads((tmp_path / "selection.json").read_text()) == json.loads((committed / "selection.json").read_text())
    assert (tmp_path / "selection.md").read_text() == (committed / "selection.md").read_text()
