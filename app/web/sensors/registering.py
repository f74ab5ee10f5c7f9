"""Registering devices from the pages, through the registry service the API and the CLI use: one device
from the form, or a CSV file (the CLI's columns and checks). The pages' import keeps the good rows and
reports each rejected one (a rejected row writes nothing: each row has its own savepoint); it runs as a
chunked request: the file is read and checked once (``read_file``), then the browser sends its rows back
CHUNK_ROWS at a time (``register_chunk``), each chunk its own transaction, and draws the progress bar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.auth.models import User
from app.devices import services
from app.devices.models import Device
from app.errors import Conflict, DomainError, InvalidInput
from app.imports import ImportReport, ImportRow
from app.web.sensors import labels

CHUNK_ROWS = 20
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
FORM_FIELDS = (
    "device_id",
    "friendly_name",
    "device_type",
    "lat",
    "lon",
    "address",
    "building_code",
    "resident_name",
    "resident_phone",
    "resident_notes",
)


class FormRefused(Exception):
    """The form's input was refused: the page's words per field (nothing was written)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def register_from_form(form: Mapping[str, str], user: User) -> tuple[Device, str | None]:
    """Register the device the form describes (the caller commits); ``FormRefused`` names each bad field."""
    raw: dict[str, Any] = {name: form[name].strip() for name in FORM_FIELDS if form.get(name, "").strip()}
    contacts = [line for line in form.get("contacts", "").splitlines() if line.strip()]
    raw["emergency_contacts"] = [services.parse_contact(line) for line in contacts]
    try:
        return services.register_device(services.validate_device_fields(raw), actor=user)
    except (InvalidInput, Conflict) as exc:
        raise FormRefused(page_errors(exc)) from exc


def page_errors(exc: DomainError) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, dict) and exc.details else {"_schema": exc.message}
    errors: dict[str, str] = {}
    for name, problem in details.items():
        field = "contacts" if name == "emergency_contacts" else str(name)
        errors[field if field in (*FORM_FIELDS, "contacts") else "_form"] = labels.problem_text(
            "emergency_contacts" if field == "contacts" else field, problem
        )
    return errors


# -- CSV import ------------------------------------------------------------------------------------------


def read_file(data: bytes) -> list[ImportRow]:
    """The rows of an uploaded CSV file, header and encoding checked the CLI's way; ``InvalidInput`` on
    field ``file`` in the page's words otherwise."""
    if not data.strip():
        raise InvalidInput("empty file", {"file": str(labels.EMPTY_FILE)})
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("file too large", {"file": str(labels.FILE_TOO_LARGE)})
    try:
        rows = services.read_device_csv(data)
    except InvalidInput as exc:
        detail = exc.details.get("file") if isinstance(exc.details, dict) else exc.message
        raise InvalidInput(exc.message, {"file": f"{labels.BAD_FILE} ({detail})"}) from exc
    if not rows:
        raise InvalidInput("no rows", {"file": str(labels.EMPTY_FILE)})
    if len(rows) > MAX_ROWS:
        raise InvalidInput("too many rows", {"file": str(labels.FILE_TOO_LARGE)})
    return rows


def rows_from_json(body: Any) -> list[ImportRow]:
    """A chunk the browser sends back: ``{"rows": [{"row": line, "values": {column: text}}, ...]}``."""
    items = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 0 < len(items) <= CHUNK_ROWS:
        raise InvalidInput("bad chunk", {"rows": f"a list of 1 to {CHUNK_ROWS} rows"})
    rows = []
    for item in items:
        values = item.get("values") if isinstance(item, dict) else None
        line = item.get("row") if isinstance(item, dict) else None
        if not isinstance(line, int) or isinstance(line, bool) or not isinstance(values, dict):
            raise InvalidInput("bad chunk", {"rows": "each row is {row: int, values: {column: text}}"})
        if any(key not in services.CSV_COLUMNS or not isinstance(v, str | None) for key, v in values.items()):
            raise InvalidInput("bad chunk", {"rows": f"columns: {', '.join(services.CSV_COLUMNS)}"})
        rows.append(ImportRow(line, values))
    return rows


@dataclass(frozen=True)
class Rejection:
    row: int
    device_id: str | None
    field: str
    field_label: str
    message: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "device_id": self.device_id,
            "field": self.field,
            "field_label": self.field_label,
            "message": self.message,
            "detail": self.detail,
        }


def register_chunk(rows: list[ImportRow], user: User) -> tuple[ImportReport, list[Rejection]]:
    """Register ``rows``, keeping the good ones (the caller commits); the rejections in the page's words."""
    report = services.register_rows(rows, actor=user, keep_good=True)
    return report, [
        Rejection(
            r.row,
            r.code,
            r.field,
            labels.field_label(r.field),
            labels.problem_text(r.field, r.reason),
            r.reason,
        )
        for r in report.rejected
    ]
