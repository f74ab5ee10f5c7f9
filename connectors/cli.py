"""``flask connectors mqtt``: run the MQTT listener in this process until stopped (SIGINT / SIGTERM)."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup


def register_connector_commands(app: Flask) -> None:
    connectors = AppGroup("connectors", help="Sensor connectors: the MQTT listener.")

    @connectors.command("mqtt")
    def mqtt_command() -> None:
        """Listen to MQTT_TOPICS on MQTT_URL and ingest every message (QoS 1, acknowledged after commit)."""
        from connectors.mqtt import MqttListener, subscription_filters

        settings = current_app.extensions["gridcase.settings"]
        if not settings.mqtt_url:
            click.secho("error: MQTT_URL is not set", fg="red", err=True)
            sys.exit(2)
        listener = MqttListener(current_app._get_current_object())  # type: ignore[attr-defined]

        def _stop(*_: Any) -> None:
            listener.request_stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        filters = ", ".join(subscription_filters(settings))
        click.echo(f"listening on {settings.mqtt_url} as {listener.client_id}: {filters}", err=True)
        listener.run_forever()

    app.cli.add_command(connectors)
