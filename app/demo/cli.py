"""``flask seed-demo``: the demo district, its people and units, the catalogue and the historic cases."""

from __future__ import annotations

import sys
import time
from typing import Any

import click
from flask import Flask

from app.errors import DomainError


def register_demo_commands(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option(
        "--password", default="gridcase-demo", show_default=True, help="password of every demo user"
    )
    @click.option("--cases", "case_count", type=click.IntRange(0, 20_000), default=300, show_default=True)
    @click.option("--seed", type=int, default=7, show_default=True, help="same seed, same people and cases")
    def seed_demo_command(password: str, case_count: int, seed: int) -> None:
        """Load the demo district 郫都区: grids, people on them, units, the category catalogue and historic
        cases over the last three months (idempotent: a second run adds nothing)."""
        from app.demo import demo_logins, seed_demo

        started = time.perf_counter()
        bar: Any = None

        def on_plans(total: int) -> None:
            nonlocal bar
            bar = click.progressbar(length=total, label="historic cases", file=sys.stderr)
            bar.__enter__()

        try:
            report = seed_demo(
                password,
                cases=case_count,
                seed=seed,
                on_plans=on_plans,
                progress=lambda n: bar.update(n) if bar is not None else None,
            )
        except DomainError as exc:
            click.secho(f"error: {exc.message}: {exc.details}", fg="red", err=True)
            sys.exit(2)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        seconds = time.perf_counter() - started
        click.echo(
            f"demo district ready in {seconds:.1f} s: {report.grids} new grids, {report.units} new units, "
            f"{report.users} new users, {report.categories} new categories, "
            f"{report.places} new inspection places, " + _cases_summary(report, case_count)
        )
        click.echo(f"Demo logins (password: {password}):")
        assert report.cast is not None
        for person in demo_logins(report.cast):
            where = person.unit or " ".join(person.grids)
            click.echo(f"  {person.username:14} {person.role:21} {where:34} {person.name}")


def _cases_summary(report: Any, requested: int) -> str:
    if report.cases_skipped:
        return "historic cases already there"
    if requested == 0:
        return "no historic cases (--cases 0)"
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
    return f"{report.cases} historic cases ({statuses})"
