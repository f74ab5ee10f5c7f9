"""Every setting once: its environment variable, its default, and its check at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting has a value the app cannot start with."""


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """The settings, read from the environment (``from_env``) or given by tests (``overrides``)."""

    database_url: str
    redis_url: str | None
    mqtt_url: str | None
    secret_key: str
    upload_folder: Path
    max_upload_bytes: int
    bpmn_folder: Path
    forms_folder: Path
    scheduler_interval_seconds: float
    warning_fraction: float
    default_time_limit_hours: int
    token_ttl_hours: int
    # werkzeug method; tests use a cheap one, because scrypt costs ~0.1 s per hash by design.
    password_hash_method: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """Embedded mode: no Redis, so jobs run in-process and timers tick in a thread."""
        return not self.redis_url

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        instance = PROJECT_ROOT / "instance"
        values: dict[str, Any] = {
            "database_url": os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'gridcase.sqlite3'}",
            "redis_url": os.environ.get("REDIS_URL") or None,
            "mqtt_url": os.environ.get("MQTT_URL") or None,
            "secret_key": os.environ.get("SECRET_KEY") or "",
            "upload_folder": Path(os.environ.get("UPLOAD_FOLDER") or instance / "uploads"),
            "max_upload_bytes": _int("MAX_UPLOAD_BYTES", 10 * 1024 * 1024, minimum=1024),
            "bpmn_folder": Path(os.environ.get("BPMN_FOLDER") or PROJECT_ROOT / "bpmn"),
            "forms_folder": Path(os.environ.get("FORMS_FOLDER") or PROJECT_ROOT / "forms"),
            "scheduler_interval_seconds": _float("SCHEDULER_INTERVAL_SECONDS", 5.0, 0.05, 3600),
            "warning_fraction": _float("WARNING_FRACTION", 0.8, 0.05, 0.99),
            "default_time_limit_hours": _int("DEFAULT_TIME_LIMIT_HOURS", 24, minimum=1),
            "token_ttl_hours": _int("TOKEN_TTL_HOURS", 24 * 30, minimum=1),
            "password_hash_method": os.environ.get("PASSWORD_HASH_METHOD") or "scrypt",
        }
        values.update(overrides)
        if not values["secret_key"]:
            # A random key per process is safe (sessions just do not survive a restart); production sets one.
            values["secret_key"] = secrets.token_hex(32)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                f"DATABASE_URL must be a sqlite:// or postgresql:// URL, got {self.database_url!r}"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL must be a redis:// URL, got {self.redis_url!r}")
        if self.mqtt_url and not self.mqtt_url.startswith(("mqtt://", "mqtts://")):
            raise ConfigError(f"MQTT_URL must be an mqtt:// URL, got {self.mqtt_url!r}")
        if not self.password_hash_method.startswith(("scrypt", "pbkdf2:")):
            raise ConfigError(
                f"PASSWORD_HASH_METHOD must be scrypt or pbkdf2:…, got {self.password_hash_method!r}"
            )
        if not self.bpmn_folder.is_dir():
            raise ConfigError(f"BPMN_FOLDER {self.bpmn_folder} is not a folder")
        if not self.forms_folder.is_dir():
            raise ConfigError(f"FORMS_FOLDER {self.forms_folder} is not a folder")

    def flask_config(self) -> dict[str, Any]:
        url = self.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine_options: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            # Threads share the file (scheduler thread, test races); wait for the write lock, don't fail.
            engine_options = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        return {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SECRET_KEY": self.secret_key,
            "MAX_CONTENT_LENGTH": self.max_upload_bytes + 64 * 1024,
            "API_TITLE": "gridcase API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "/docs",
            # Served from node_modules by app.web (npm at set-up time, never a CDN).
            "OPENAPI_SWAGGER_UI_URL": "/vendor/swagger-ui-dist/",
            "OPENAPI_REDOC_PATH": None,
            "API_SPEC_OPTIONS": {
                "components": {
                    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
                },
                "security": [{"bearerAuth": []}],
                "info": {"description": "网格化管理案件系统 API. Authenticate with POST /api/v1/tokens."},
            },
            "JSON_AS_ASCII": False,
            **self.extra,
        }
