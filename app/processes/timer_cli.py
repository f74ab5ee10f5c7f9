"""``flask timers starts``: the processes started by a timer, when each next starts (Beijing time)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click
from flask import Flask
from flask.cli import AppGroup

from app.workflow import timer_starts

BEIJING = timezone(timedelta(hours=8), "CST")


def _shown(moment: datetime | None) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def register_timer_commands(app: Flask) -> None:
    timers = AppGroup("timers", help="Timers: the processes started by a timer (定时启动).")

    @timers.command("starts")
    def starts_command() -> None:
        """List each process started by a timer: version, expression, next and last start (Beijing time),
        how many it started, and the last failed start."""
        found = timer_starts.schedules()
        if not found:
            click.echo("no process starts by a timer (没有定时启动的流程)")
            return
        click.echo(
            f"{'process':24} {'version':7} {'next (CST)':16} {'last (CST)':16} {'starts':6} expression"
        )
        for s in found:
            click.echo(
                f"{s.process_key:24} v{s.version:<6} {_shown(s.next_fire_at):16} "
                f"{_shown(s.last_fired_at):16} {s.fired_count:<6} {s.expression or '(no timer start event)'}"
            )
            if s.failure:
                click.secho(f"  last start failed at {_shown(s.failed_at)}: {s.failure}", fg="red")

    app.cli.add_command(timers)
