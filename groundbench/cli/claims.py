"""``groundbench claims``: the HINT paper's claims beside their measured counterparts (claims.py), as JSON and a
markdown table; optionally rewrites the README's claims table in place (between its markers)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..io import atomic_open, check_writable, write_json

PATH = click.Path(path_type=Path)


@click.command("claims")
@click.option("--dir", "directory", type=PATH, default=Path("leaderboards"), show_default=True,
              help="the folder with records/ and supervision-curve.json")
@click.option("--json", "json_out", type=PATH, help="write the claims as JSON here")
@click.option("--out", type=PATH, help="write the markdown table here")
@click.option("--readme", type=PATH, help="replace the table between the claims markers of this file")
def claims(directory: Path, json_out: Path | None, out: Path | None, readme: Path | None) -> None:
    """Each claim of the HINT paper, our measured counterpart with its 95% interval over seeds, and a verdict."""
    from ..claims import check_claims
    from ..claims_render import claims_markdown, replace_between_markers

    for path in (json_out, out, readme):
        if path is not None:
            check_writable(path)
    rows = check_claims(directory)
    table = claims_markdown(rows)
    if json_out is not None:
        write_json(json_out, rows)
    if out is not None:
        with atomic_open(out, "w", encoding="utf-8") as handle:
            handle.write(table)
    if readme is not None:
        text = replace_between_markers(readme.read_text(encoding="utf-8"), table, readme)
        with atomic_open(readme, "w", encoding="utf-8") as handle:
            handle.write(text)
    click.echo(table, nl=False) if not (json_out or out or readme) else click.echo(
        f"{len(rows)} claims: " + ", ".join(f"{r['key']} {r['verdict'].split(' (')[0]}" for r in rows))
