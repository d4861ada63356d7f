"""The ``groundbench`` command line: a thin click layer that parses, calls and prints."""
from __future__ import annotations

import importlib
import sys

import click

from ..errors import GroundbenchError

# (command name, module under groundbench.cli, attribute): each module defines one click command/group.
_COMMANDS = (
    ("data", "data", "data"),
    ("train", "train", "train"),
    ("eval", "evaluate", "evaluate"),
    ("leaderboard", "leaderboard", "leaderboard"),
    ("demo", "demo", "demo"),
    ("curve", "curve", "curve"),
    ("score", "score", "score"),
    ("export", "export", "export"),
    ("compare", "compare", "compare"),
    ("submit", "submit", "submit"),
    ("explain", "explain", "explain"),
    ("plot", "plot", "plot"),
    ("claims", "claims", "claims"),
)


class _Group(click.Group):
    """Loads subcommands lazily and turns user errors into one line on stderr and exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, _, _ in _COMMANDS]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for command, module, attr in _COMMANDS:
            if command == name:
                try:
                    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
                except ModuleNotFoundError as exc:
                    if exc.name == f"{__name__}.{module}":
                        return None
                    raise
        return None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GroundbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.UsageError as exc:  # a misspelt option, value or command: one line, the command named
            where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
            click.echo(f"error: {where}{' '.join(exc.format_message().split())} (see --help)", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="groundbench")
def main() -> None:
    """groundbench: train and score vision-and-language models on visual grounding."""
