"""The HTML leaderboard: one self-contained page (no external resource), sortable grouped columns, reported rows
shaded with their source, every row linked to its record file by a path relative to the page."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from click.testing import CliRunner

from groundbench.cli import main
from groundbench.leaderboard import build_leaderboard
from groundbench.leaderboard_render import render
from groundbench.leaderboard_html import group_of

from test_leaderboard import REPO, _save, write_fixture

HREF = re.compile(r'href="([^"]*)"')


def _page(tmp_path: Path) -> tuple[Path, str]:
    tree = write_fixture(tmp_path / "lb")
    out = tmp_path / "site" / "board.html"
    result = CliRunner().invoke(main, ["leaderboard", "--dir", str(tree), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, out.read_text(encoding="utf-8")


def test_one_self_contained_file(tmp_path):
    out, text = _page(tmp_path)
    assert [p.name for p in out.parent.iterdir()] == ["board.html"]
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<style>") == 1 and text.count("<script>") == 1
    for external in ("http://", "https://", "src=", "<link", "@import", "url(", "//cdn"):
        assert external not in text, external


def test_sortable_grouped_columns_and_a_column_chooser(tmp_path):
    _, text = _page(tmp_path)
    assert "addEventListener('click'" in text and "rows.sort(" in text  # click a header to sort
    assert "querySelectorAll('tbody')" in text  # each block sorted on its own
    assert '<tr class="groups">' in text and ">task metrics</th>" in text and ">grounding: gradient</th>" in text
    assert '<input type="checkbox" value="grad" checked>' in text and ".hide-grad .g-grad{display:none}" in text
    assert 'data-dir="lower"' in text  # CPIG: lower is better, sorted ascending first
    assert group_of("test/accuracy_yes_no") == "task" and group_of("test/chair_i") == "halluc"
    assert group_of("val/spearman_grad@circle") == "grad" and group_of("test/my_score") == "other"


def test_rows_link_to_their_records_relative_to_the_page(tmp_path):
    out, text = _page(tmp_path)
    links = HREF.findall(text)
    assert len(links) == 12  # 8 measured records (seeds); 2 reported ones, beside synth-vqacp and in vqacp-v2
    for link in set(links):
        assert not link.startswith("/") and (out.parent / unquote(link)).resolve().is_file(), link
    assert '>s0</a> <a href="../lb/synth/updn-1.json">s1</a>' in text


def test_reported_rows_are_shaded_and_carry_their_source(tmp_path):
    _, text = _page(tmp_path)
    synth = text.split('<section class="board" id="synth-vqacp">')[1].split("</section>")[0]
    measured, reported = synth.split('<tbody class="reported">')
    assert '<tbody class="measured">' in measured and "paper</span>" not in measured
    assert reported.count('<span class="badge">paper</span>') == 2 and "Selvaraju et al., ICCV 2019" in reported
    assert "not measured here" in reported and "tbody.reported tr.row{background:" in text


def test_text_is_escaped(tmp_path):
    _save(tmp_path, "x.json", "b", "<script>alert(1)</script>", 0, {"test/accuracy": 1.0})
    text = render(build_leaderboard(tmp_path), "html", root=tmp_path, out=tmp_path / "p.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and text.count("<script>") == 1


def test_committed_page_links_resolve_and_shows_the_papers_rows():
    page = REPO / "leaderboards" / "synth-vqacp.html"
    text = page.read_text(encoding="utf-8")
    for link in set(HREF.findall(text)):
        assert (page.parent / unquote(link)).is_file(), link
    assert "46.73" in text and "Table 1" in text and text.count('<span class="badge">paper</span>') == 8
