"""The leaderboard as one self-contained HTML page: inline CSS and a few lines of inline JS, no external resource.

Columns are grouped (task metrics, hallucination, grounding by gradient, grounding by attention, human
studies) under a group header row, and a chooser above each table hides or shows whole groups, so a
13-metric table reads at a laptop's width. Clicking a header sorts the rows of each block separately (a
reported row never moves among measured ones). Reported rows are shaded and carry their source and setting;
every row links to its record file(s) by a path relative to the page.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from .leaderboard import Row, Table, column_digits
from .leaderboard_benchmarks import title
from .leaderboard_render import LEGEND, Block, blocks

GROUPS = (  # (css id, header, base metric names)
    ("task", "task metrics", ("accuracy", "accuracy_yes_no", "accuracy_number", "accuracy_other", "cider", "bleu1",
                              "bleu2", "bleu3", "bleu4", "meteor", "rouge_l")),
    ("halluc", "hallucination", ("chair_i", "chair_s")),
    ("grad", "grounding: gradient", ("spearman_grad", "occl_grad", "cpig", "collapse_grad")),
    ("attn", "grounding: attention", ("spearman_attn", "occl_attn", "top_iou")),
    ("human", "human study", ("preferred",)),
)
LABELS = {  # \u2011: a non-breaking hyphen (a header never wraps inside a name)
    "accuracy": "accuracy", "accuracy_yes_no": "yes/no", "accuracy_number": "number", "accuracy_other": "other",
    "cider": "CIDEr\u2011D", "bleu4": "BLEU\u20114", "meteor": "METEOR", "rouge_l": "ROUGE\u2011L",
    "chair_i": "CHAIR\u2011i", "chair_s": "CHAIR\u2011s", "spearman_grad": "Spearman", "spearman_attn": "Spearman",
    "occl_grad": "occlusion", "occl_attn": "occlusion", "top_iou": "top IoU", "cpig": "CPIG",
    "preferred": "preferred %",
}

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;
padding:12px 20px;color:#1d1d1f}
h1{font-size:20px;margin:4px 0}h2{font-size:17px;margin:22px 0 2px}p{margin:4px 0}
.about,.legend{color:#555;font-size:13px}.legend{max-width:70em}
.chooser{font-size:13px;margin:6px 0}.chooser label{margin-right:12px;white-space:nowrap;cursor:pointer}
.scroll{overflow-x:auto}
table.lb{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
.lb th,.lb td{padding:3px 5px;border-bottom:1px solid #e3e3e3;vertical-align:top}
.lb thead th{position:sticky;top:0;background:#f4f4f6;font-weight:600;text-align:center}
.lb thead tr.groups th{font-weight:500;color:#444;border-bottom:2px solid #bbb}
.lb thead tr.names th{cursor:pointer;user-select:none;min-width:4.2em}
.lb thead tr.names th:hover{background:#e6e6ee}
.lb thead th .split{display:block;font-weight:400;color:#777;font-size:11px}
.lb thead th.asc::after{content:" ▲"}.lb thead th.desc::after{content:" ▼"}
.lb td.num{text-align:right;white-space:nowrap}.lb td .sd{display:block;color:#777;font-size:11px}
.lb td.best{font-weight:700}.lb td.lead{text-align:left;white-space:nowrap}.lb td .model{color:#666;font-size:12px}
.lb td.src{min-width:13em;max-width:22em;font-size:12px}.lb td.src .setting{display:block;color:#555}
.lb tr.block th{text-align:left;font-weight:600;background:#fff;padding-top:10px;border-bottom:1px solid #999}
.lb tbody.reported tr.row{background:#fdf3dc}.lb tbody.reported tr.row td:first-child{border-left:4px solid #d9a520}
.lb tbody.reported tr.block th{color:#7a5200}
.badge{display:inline-block;font-size:10px;padding:0 4px;border-radius:3px;background:#d9a520;color:#fff;
margin-left:4px;vertical-align:middle}
"""
for _group, _, _ in GROUPS:
    _CSS += f".hide-{_group} .g-{_group}{{display:none}}"

# only on pages with reference rows (a page without any stays byte for byte as before)
_REFERENCE_CSS = (".lb tbody.reference tr.row{background:#edf2fa}"
                  ".lb tbody.reference tr.row td:first-child{border-left:4px solid #5b7fb5}\n")
_JS = """
document.querySelectorAll('section.board').forEach(function(sec){
  var table=sec.querySelector('table');
  sec.querySelectorAll('.chooser input').forEach(function(box){
    box.addEventListener('change',function(){table.classList.toggle('hide-'+box.value,!box.checked);});});
  table.querySelectorAll('tr.names th').forEach(function(th,col){
    th.addEventListener('click',function(){
      var asc=th.classList.contains('desc')||(!th.classList.contains('asc')&&th.dataset.dir==='lower');
      table.querySelectorAll('tr.names th').forEach(function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      table.querySelectorAll('tbody').forEach(function(body){
        var rows=Array.prototype.slice.call(body.querySelectorAll('tr.row'));
        rows.sort(function(a,b){
          var x=a.children[col].dataset.v,y=b.children[col].dataset.v;
          if(x===undefined||x===''){return (y===undefined||y==='')?0:1;}if(y===undefined||y===''){return -1;}
          var nx=parseFloat(x),ny=parseFloat(y),c=isNaN(nx)||isNaN(ny)?x.localeCompare(y):nx-ny;
          return asc?c:-c;});
        rows.forEach(function(r){body.appendChild(r);});});});});});
"""


def group_of(column: str) -> str:
    """The css id of a metric's column group ('other' for metrics outside GROUPS)."""
    base = column.split("/", 1)[-1].split("@", 1)[0]
    return next((g for g, _, names in GROUPS if base in names), "other")


def _ordered(table: Table) -> list[tuple[str, str, list[str]]]:
    """(group id, header, columns) in GROUPS order; columns keep the table's order within a group."""
    out = []
    for gid, head, _ in (*GROUPS, ("other", "other", ())):
        cols = [c for c in table.columns if group_of(c) == gid]
        if cols:
            out.append((gid, head, cols))
    return out


def _href(record: str, root: str | Path | None, out: str | Path | None) -> str:
    """A record's path relative to the page's folder (or to the working folder when printed), URL-quoted."""
    path = Path(root) / record if root is not None else Path(record)
    base = Path(out).resolve().parent if out is not None else Path.cwd()
    rel = os.path.relpath(path.resolve(), base)
    return quote(Path(rel).as_posix())


def _lead(row: Row, block: Block, links: list[str]) -> str:
    badge = '<span class="badge">paper</span>' if block.reported else ""
    name = f'<td class="lead" data-v="{html.escape(row.method)}">{html.escape(block.method_name(row))}{badge}' \
           f'<br><span class="model">{html.escape(row.model)}</span></td>'
    if block.reported:
        about = f"{html.escape(row.label)}: " if row.label else ""
        src = (f'<td class="src" data-v="{html.escape(row.source)}">{about}{html.escape(row.source)} '
               f'({", ".join(links)})<span class="setting">{html.escape(row.setting)}</span></td>')
    else:
        src = f'<td class="src" data-v="{len(row.seeds)}">{len(row.seeds)} seed{"s" if len(row.seeds) != 1 else ""}: ' \
              f'{" ".join(links)}</td>'
    return name + src


def _cell(row: Row, column: str, best: bool) -> str:
    cell = row.cells[column]
    cls = f"num g-{group_of(column)}" + (" best" if best else "")
    if cell.mean is None:
        return f'<td class="{cls}" data-v="">—</td>'
    digits = column_digits(column)
    text = f"{cell.mean:.{digits}f}"
    if cell.std is not None:
        text += f'<span class="sd">± {cell.std:.{digits}f}</span>'
    n_seeds = len(row.seeds)
    if cell.n_values < n_seeds:
        text += f'<span class="sd">({cell.n_values}/{n_seeds} seeds)</span>'
    if cell.versus is not None and cell.versus["significant"]:
        d = cell.versus
        text += f'<sup title="vs {html.escape(d["baseline"])}: {d["difference"]:+.{digits}f}, 95% CI over seeds ' \
                f'[{d["ci95"][0]:.{digits}f}, {d["ci95"][1]:.{digits}f}]">†</sup>'
    return f'<td class="{cls}" data-v="{cell.mean!r}">{text}</td>'


def _table(table: Table, root: str | Path | None, out: str | Path | None) -> str:
    groups = _ordered(table)
    columns = [c for _, _, cols in groups for c in cols]
    width = 2 + len(columns)
    head1 = '<tr class="groups"><th colspan="2"></th>' + "".join(
        f'<th class="g-{gid}" colspan="{len(cols)}">{html.escape(head)}</th>' for gid, head, cols in groups) + "</tr>"
    names = ['<th data-dir="higher">method<span class="split">model</span></th>',
             '<th data-dir="higher">records<span class="split">source, setting</span></th>']
    for c in columns:
        split, base = c.split("/", 1)
        label = LABELS.get(base.split("@", 1)[0], base.replace("_", " ")) + base[len(base.split("@", 1)[0]):]
        arrow = "↑" if table.directions[c] == "higher" else "↓"
        names.append(f'<th class="g-{group_of(c)}" data-dir="{table.directions[c]}" title="{html.escape(c)}, '
                     f'{table.directions[c]} is better"><span class="split">{html.escape(split)} {arrow}</span>'
                     f'{html.escape(label)}</th>')
    parts = [f'<table class="lb"><thead>{head1}<tr class="names">{"".join(names)}</tr></thead>']
    for block in blocks(table):
        kind = "reported" if block.reported else block.kind
        parts.append(f'<tbody class="{kind}"><tr class="block"><th colspan="{width}">{html.escape(block.title)}'
                     "</th></tr>")
        for i, row in enumerate(block.rows):
            links = [f'<a href="{_href(r, root, out)}">{_seed_name(row, j)}</a>' for j, r in enumerate(row.records)]
            cells = "".join(_cell(row, c, i in block.best[c]) for c in columns)
            parts.append(f'<tr class="row">{_lead(row, block, links)}{cells}</tr>')
        parts.append("</tbody>")
    parts.append("</table>")
    return "\n".join(parts)


def _seed_name(row: Row, j: int) -> str:
    seed = row.seeds[j]
    return "record" if seed is None else f"s{seed}"


def _chooser(table: Table) -> str:
    boxes = "".join(f'<label><input type="checkbox" value="{gid}" checked> {html.escape(head)}</label>'
                    for gid, head, _ in _ordered(table))
    return f'<div class="chooser">Columns: {boxes}</div>'


def render_page(tables: Sequence[Table], *, root: str | Path | None = None, out: str | Path | None = None) -> str:
    """The whole page for ``tables``; record links are relative to ``out``'s folder (else the working folder),
    record names relative to ``root`` (the folder the records were loaded from)."""
    names = ", ".join(t.benchmark for t in tables)
    css = _CSS + (_REFERENCE_CSS if any(r.reference for t in tables for r in t.rows) else "")
    sections = []
    for table in tables:
        about = title(table.benchmark)
        sections.append(f'<section class="board" id="{html.escape(table.benchmark)}">'
                        f"<h2>{html.escape(table.benchmark)}</h2>"
                        + (f'<p class="about">{html.escape(about)}</p>' if about else "")
                        + _chooser(table) + f'<div class="scroll">{_table(table, root, out)}</div></section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>groundbench leaderboard: {html.escape(names)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
            "<h1>groundbench leaderboard</h1>\n"
            f'<p class="legend">{html.escape(LEGEND)} Click a column header to sort (each block on its own); '
            "shaded rows are reported in papers; every row links to its record file.</p>\n"
            + "\n".join(sections) + f"\n<script>{_JS}</script>\n</body>\n</html>\n")
