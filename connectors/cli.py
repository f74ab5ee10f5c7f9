"""``flask connectors mqtt``: run the MQTT listener in this process until stopped (SIGINT / SIGTERM).
``flask connectors simulate SCENARIO.json``: publish a scenario's sensor streams (connectors/simulator.py)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import metrics, runtime


def register_connector_commands(app: Flask) -> None:
    connectors = AppGroup("connectors", help="Sensor connectors: the MQTT listener, the simulator.")

    @connectors.command("mqtt")
    @click.option(
        "--health-file",
        envvar="MQTT_HEALTH_FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="write the listener's health here as JSON every 2 s (env MQTT_HEALTH_FILE)",
    )
    def mqtt_command(health_file: Path | None) -> None:
        """Listen to MQTT_TOPICS on MQTT_URL and ingest every message (QoS 1, acknowledged after commit)."""
        from connectors.mqtt import MqttListener, subscription_filters

        settings = runtime.settings()
        if not settings.mqtt_url:
            click.secho("error: MQTT_URL is not set", fg="red", err=True)
            sys.exit(2)
        listener = MqttListener(current_app._get_current_object(), health_file=health_file)  # type: ignore[attr-defined]

        def _stop(*_: Any) -> None:
            listener.request_stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        filters = ", ".join(subscription_filters(settings))
        click.echo(f"listening on {settings.mqtt_url} as {listener.client_id}: {filters}", err=True)
        metrics.serve_if_configured()
        listener.run_forever()

    @connectors.command("mqtt-health")
    @click.option(
        "--health-file",
        envvar="MQTT_HEALTH_FILE",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="the file `flask connectors mqtt --health-file` writes (env MQTT_HEALTH_FILE)",
    )
    @click.option("--max-age", type=float, default=30.0, show_default=True, help="seconds before it is stale")
    def mqtt_health_command(health_file: Path, max_age: float) -> None:
        """Exit 0 if the MQTT listener is ingesting normally (its health file is fresh and ok), else 1;
        prints the health file (for container health checks and the stack's readiness)."""
        from connectors.listener_health import read_health

        ready, snapshot = read_health(health_file, max_age)
        click.echo(json.dumps(snapshot, ensure_ascii=False, sort_keys=True))
        sys.exit(0 if ready else 1)

    @connectors.command("simulate")
    @click.argument("scenario_path", metavar="SCENARIO.json", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--broker", default=None, help="mqtt://host:port to publish to (default: MQTT_URL)")
    @click.option("--embedded", is_flag=True, help="no broker: ingest each message in this process")
    @click.option(
        "--speed",
        type=click.FloatRange(min=0),
        default=1.0,
        show_default=True,
        help="times faster than the scenario's clock; 0: no waiting",
    )
    @click.option("--seed", type=int, default=0, show_default=True, help="seed of the telemetry jitter")
    @click.option("--quiet", is_flag=True, help="only the summary")
    def simulate_command(
        scenario_path: Path, broker: str | None, embedded: bool, speed: float, seed: int, quiet: bool
    ) -> None:
        """Publish a scenario's devices and timeline (telemetry, alarms, duplicates, flapping, offline,
        false SOS, a fire); registers its devices first when they are missing."""
        from connectors import simulator

        settings = runtime.settings()
        broker = broker or settings.mqtt_url
        if not embedded and not broker:
            _fail("give --broker mqtt://host:port, set MQTT_URL, or use --embedded")
        try:
            scenario = simulator.load_scenario(scenario_path)
            created = simulator.register_devices(scenario)
        except simulator.ScenarioError as exc:
            _fail(f"{scenario_path}: {exc}")
        messages = scenario.messages(seed)
        target = "embedded ingest" if embedded else broker
        click.echo(
            f"scenario {scenario.name}: {len(scenario.devices)} devices ({len(created)} newly registered), "
            f"{len(messages)} messages → {target}, speed {speed:g}",
            err=True,
        )

        def progress(message: simulator.SimMessage, n: int, total: int, result: Any) -> None:
            opened = f"  → 立案 case {', '.join(result.case_keys)}" if result and result.case_keys else ""
            if quiet and not opened:
                return
            outcome = f" [{result.outcome}]" if result is not None else ""
            click.echo(f"[{n}/{total} t={message.at:6.1f}s] {message.label}{outcome}{opened}")

        try:
            if embedded:
                report = simulator.run_embedded(messages, speed, progress)
            else:
                assert broker is not None
                report = simulator.run_broker(messages, broker, speed, progress)
        except (ConnectionError, TimeoutError) as exc:
            _fail(str(exc))
        summary = f"published {report.published} messages"
        if embedded:
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
            summary += f"; {outcomes}; cases opened: {len(report.case_keys)}"
        if scenario.expect:
            summary += f"; the scenario expects {scenario.expect}"
        click.echo(summary, err=True)

    app.cli.add_command(connectors)


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)
