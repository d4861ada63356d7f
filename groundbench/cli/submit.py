"""``groundbench submit RUN --benchmark NAME``: evaluate a finished run and file its validated result record
under ``RECORDS/NAME/`` (groundbench/submit.py says what is refused and why); ``groundbench leaderboard``
then shows it."""
from __future__ import annotations

from pathlib import Path

import click

from ..experiment import check_device, default_cache_root
from ..leaderboard_benchmarks import BENCHMARKS
from ..submit import Submission, submit as submit_run

PATH = click.Path(path_type=Path)


@click.command("submit")
@click.argument("run", type=PATH)
@click.option("--benchmark", required=True, help=f"the leaderboard: {', '.join(BENCHMARKS)}")
@click.option("--records", type=PATH, default=Path("leaderboards/records"), show_default=True,
              help="the records folder; the record goes to RECORDS/BENCHMARK/METHOD-sSEED.json")
@click.option("--replace", is_flag=True, help="overwrite this method and seed's record if there is one")
@click.option("--data", type=PATH, help="a prepared store; default: the data the run was trained on")
@click.option("--device", default=None)
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE")
def submit(run: Path, benchmark: str, records: Path, replace: bool, data: Path | None, device: str | None,
           cache_dir: Path | None) -> None:
    """Evaluate RUN (a run directory or its checkpoint) and add its result record to a leaderboard."""
    spec = Submission(run=run, benchmark=benchmark, records=records, replace=replace, data=data,
                      device=check_device(device))
    path, record = submit_run(spec, cache_dir or default_cache_root(), click.echo)
    root = records.parent if records.name == "records" else records
    click.echo(f"submitted {record.method} seed {record.seed} ({len(record.metrics)} metrics) to "
               f"{benchmark}: {path}")
    click.echo(f"see it with: groundbench leaderboard --dir {root} --benchmark {benchmark}")
