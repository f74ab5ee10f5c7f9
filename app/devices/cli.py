"""``flask devices register | import | token | list``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from app.devices import services
from app.devices.types import DEVICE_TYPES, DeviceStatus
from app.errors import DomainError
from app.extensions import db
from app.imports import ImportRejected, echo_rejections


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def register_device_commands(app: Flask) -> None:
    devices = AppGroup("devices", help="Sensor devices (传感设备): register, import from CSV, issue tokens.")

    @devices.command("register")
    @click.argument("device_id")
    @click.option("--type", "device_type", required=True, type=click.Choice(sorted(DEVICE_TYPES)))
    @click.option(
        "--name", "friendly_name", default=None, help="zigbee2mqtt friendly name (default: DEVICE_ID)"
    )
    @click.option("--lat", type=float, default=None)
    @click.option("--lon", type=float, default=None)
    @click.option("--address", default=None)
    @click.option("--building", "building_code", default=None, help="building grid code (21 digits)")
    @click.option("--resident", "resident_name", default=None, help="the person it protects")
    @click.option("--resident-phone", default=None)
    @click.option("--resident-notes", default=None, help="e.g. 独居老人")
    @click.option(
        "--contact",
        "contacts",
        multiple=True,
        help="emergency contact 'name|phone|relation', in calling order",
    )
    def register_command(device_id: str, contacts: tuple[str, ...], **options: str | float | None) -> None:
        """Register a device and print its HTTP ingestion token (shown once)."""
        raw: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
        raw["device_id"] = device_id
        raw["emergency_contacts"] = [services.parse_contact(c) for c in contacts]
        try:
            device, token = services.register_device(services.validate_device_fields(raw))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"registered {device.device_id} ({device.device_type}) grid {device.grid_code or '-'}")
        click.echo(f"token (shown once): {token}")

    @devices.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_command(file: Path) -> None:
        """Register every device of a CSV file, or none if any row is rejected (each is listed)."""
        data = file.read_bytes()
        rows = max(data.count(b"\n") - 1, 0)
        try:
            with click.progressbar(length=rows, label="registering devices", file=sys.stderr) as bar:
                report = services.import_csv(data, progress=bar.update)
            db.session.commit()
        except ImportRejected as exc:
            db.session.rollback()
            echo_rejections(exc)
            _fail(f"{exc.report.rejected_rows} of {exc.report.rows} rows rejected; nothing imported")
        except DomainError as exc:
            db.session.rollback()
            _fail(f"{exc.message}: {exc.details}")
        click.echo(f"imported {report.created} devices")

    @devices.command("token")
    @click.argument("device_id")
    def token_command(device_id: str) -> None:
        """Issue a new HTTP ingestion token for DEVICE_ID (the old one stops working)."""
        try:
            token = services.issue_token(services.get_device(device_id))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            _fail(exc.message)
        click.echo(token)

    @devices.command("list")
    @click.option("--status", type=click.Choice(DeviceStatus.ALL), default=None)
    @click.option("--type", "device_type", type=click.Choice(sorted(DEVICE_TYPES)), default=None)
    def list_command(status: str | None, device_type: str | None) -> None:
        """Devices: status (never_seen 从未上报, online, offline, …), last report, dead letters."""
        for device in db.session.execute(services.list_devices(status, device_type)).scalars():
            seen = device.last_seen_at.isoformat(timespec="seconds") if device.last_seen_at else "-"
            label = STATUS_LABELS.get(device.status, device.status)
            click.echo(
                f"{device.device_id}\t{device.device_type}\t{device.status}({label})\t{seen}"
                f"\tdead letters {services.dead_letter_count(device.id)}\t{device.friendly_name}"
            )

    app.cli.add_command(devices)


STATUS_LABELS = {
    DeviceStatus.ONLINE: "在线",
    DeviceStatus.OFFLINE: "离线",
    DeviceStatus.LOW_BATTERY: "电量低",
    DeviceStatus.TAMPERED: "被拆",
    DeviceStatus.NEVER_SEEN: "从未上报",
}
