"""``flask seed-city``: Pidu district at real scale (territory, people, units, 383,000 historic cases)."""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import click
from flask import Flask

from app.errors import DomainError


def register_city_commands(app: Flask) -> None:
    @app.cli.command("seed-city")
    @click.option(
        "--scale",
        type=click.FloatRange(0.001, 1.0),
        default=1.0,
        show_default=True,
        help="fraction of Pidu's size: every level of the territory, the people and the cases",
    )
    @click.option("--seed", type=int, default=3, show_default=True, help="same seed, same district")
    @click.option(
        "--live",
        "live_cases",
        type=click.IntRange(0, 50_000),
        default=None,
        help="cases of the last two days played through the engine [default: 800 × scale]",
    )
    @click.option("--password", default="gridcase-demo", show_default=True, help="password of every user")
    def seed_city_command(scale: float, seed: int, live_cases: int | None, password: str) -> None:
        """Build a district the size of Pidu in an EMPTY database: 147 communities, 771 comprehensive grids,
        1,792 compounds, 4,786 buildings, 1,126 grid workers and the other staff, units, the category
        catalogue, 383,000 historic cases bulk-loaded with their tasks, photos and audit trail, and the last
        two days' cases run through the engine (inboxes with real work). Refuses a non-empty database."""
        from app.city import seed_city

        started = time.perf_counter()

        def bar(label: str, total: int) -> Any:
            return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)

        try:
            report = seed_city(password, scale=scale, seed=seed, live_cases=live_cases, progress=bar)
        except DomainError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            sys.exit(2)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)  # this process's CPU (PostgreSQL's is not in it)
        rows = ", ".join(f"{n:,} {table}" for table, n in report.rows.items())
        live = ", ".join(f"{n} {status}" for status, n in sorted(report.live_statuses.items()))
        laps = ", ".join(f"{name} {s:.0f} s" for name, s in report.seconds.items())
        click.echo(
            f"city ready in {seconds:.0f} s ({laps}): {report.grids:,} grids, {report.units} units, "
            f"{report.users:,} users; {report.cases:,} historic cases ({rows}); "
            f"{report.live_cases} live cases ({live}); "
            f"CPU of this process {usage.ru_utime + usage.ru_stime:.0f} s"
        )
        click.echo(f"logins (password {password}): dispatcher, supervisor, worker1…, resident1…, admin")
