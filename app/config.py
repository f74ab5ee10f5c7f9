"""Every setting once: its environment variable, its default, and its check at start-up."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from app.timelimits.calendar import CalendarError, WorkingCalendar, WorkingHours
from app.timelimits.holidays import UNKNOWN_YEAR_POLICIES, ChinaWorkdays, UnknownYears, load_schedule

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKING_HOURS = "08:30-12:00,13:30-17:30"
# The gettext catalogues of the web blueprints (compiled by `make setup`; .mo files are not committed).
TRANSLATION_FOLDERS = tuple(
    PROJECT_ROOT / "app" / "web" / sub / "translations"
    for sub in (
        "",
        "supervisor",
        "designer",
        "operations",
        "workbench",
        "inspections",
        "sensors",
        "admin",
        "mediation",
        "command",
        "admin_data",
    )
)


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


def _word(name: str, default: str) -> str:
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


# SENSOR_AFTER_CLOSED_CASE: the next trigger of a latched alarm whose case was closed while it was still on
# opens a new case (``open``: the closed case's KPIs and time limits stay final) or reopens that case
# (``reopen``: one case per incident).
AFTER_CLOSED_OPEN = "open"
AFTER_CLOSED_REOPEN = "reopen"
AFTER_CLOSED_CASE_CHOICES = (AFTER_CLOSED_OPEN, AFTER_CLOSED_REOPEN)


@dataclass(frozen=True)
class SensorSettings:
    """How sensor messages become alarms, incidents and cases (env ``SENSOR_*``; see README, Sensors)."""

    max_payload_bytes: int = 256 * 1024  # camera snapshots travel base64-encoded; more is a dead letter
    reopen_window_seconds: int = 300  # a trigger this soon after a clear reopens the old alarm
    flap_window_seconds: int = 600  # toggles counted within this window…
    flap_max_toggles: int = 4  # …and more of them than this flags the alarm as flapping
    correlation_window_seconds: int = 600  # alarms this close in time may join one incident…
    correlation_distance_m: float = 50.0  # …when in the same building or this close to each other
    dedup_window_seconds: int = 3600  # how long a processed message key catches a QoS 1 redelivery
    call_limit_minutes: int = 5  # sensor_alarm.bpmn: each call to the resident or a contact, then the next
    maintenance_after_minutes: int = 60  # offline or battery-low this long opens one maintenance case
    # Momentary alarms (SOS, fall, camera detections): a trigger this long after the previous one is a new
    # alarm and a new case even while that one's case is open; sooner, it is a repeat on that case.
    momentary_quiet_seconds: int = 900
    after_closed_case: str = AFTER_CLOSED_OPEN  # AFTER_CLOSED_CASE_CHOICES

    @classmethod
    def from_env(cls) -> SensorSettings:
        return cls(
            max_payload_bytes=_int("SENSOR_MAX_PAYLOAD_BYTES", cls.max_payload_bytes, minimum=64),
            reopen_window_seconds=_int("SENSOR_REOPEN_WINDOW_SECONDS", cls.reopen_window_seconds),
            flap_window_seconds=_int("SENSOR_FLAP_WINDOW_SECONDS", cls.flap_window_seconds, minimum=1),
            flap_max_toggles=_int("SENSOR_FLAP_MAX_TOGGLES", cls.flap_max_toggles, minimum=1),
            correlation_window_seconds=_int(
                "SENSOR_CORRELATION_WINDOW_SECONDS", cls.correlation_window_seconds
            ),
            correlation_distance_m=_float(
                "SENSOR_CORRELATION_DISTANCE_M", cls.correlation_distance_m, 0.0, 10_000.0
            ),
            dedup_window_seconds=_int("SENSOR_DEDUP_WINDOW_SECONDS", cls.dedup_window_seconds, minimum=1),
            call_limit_minutes=_int("SENSOR_CALL_LIMIT_MINUTES", cls.call_limit_minutes, minimum=1),
            maintenance_after_minutes=_int(
                "SENSOR_MAINTENANCE_AFTER_MINUTES", cls.maintenance_after_minutes, minimum=1
            ),
            momentary_quiet_seconds=_int(
                "SENSOR_MOMENTARY_QUIET_SECONDS", cls.momentary_quiet_seconds, minimum=1
            ),
            after_closed_case=_word("SENSOR_AFTER_CLOSED_CASE", cls.after_closed_case),
        )

    def __post_init__(self) -> None:
        if self.after_closed_case not in AFTER_CLOSED_CASE_CHOICES:
            raise ConfigError(
                f"SENSOR_AFTER_CLOSED_CASE must be one of {', '.join(AFTER_CLOSED_CASE_CHOICES)},"
                f" got {self.after_closed_case!r}"
            )


@dataclass(frozen=True)
class MediationSettings:
    """Dispute mediation (env ``MEDIATION_*``): the follow-up visit after an agreement opens this many days
    after it and is due this many days later ("follow-ups done on time" counts against that)."""

    follow_up_days: int = 7
    follow_up_window_days: int = 3

    @classmethod
    def from_env(cls) -> MediationSettings:
        return cls(
            follow_up_days=_int("MEDIATION_FOLLOW_UP_DAYS", cls.follow_up_days, minimum=1),
            follow_up_window_days=_int(
                "MEDIATION_FOLLOW_UP_WINDOW_DAYS", cls.follow_up_window_days, minimum=1
            ),
        )


LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class ObservabilitySettings:
    """Logs, metrics and readiness (env ``LOG_*``, ``METRICS_*``, ``MQTT_HEALTH_*``; README, Observability).

    ``/metrics`` answers a caller from ``metrics_allowed_networks`` (default: this machine only), one sending
    ``Authorization: Bearer <metrics_token>``, or an admin's API token; anyone else gets 403."""

    log_format: str = "json"  # LOG_FORMATS: json (one object per line) or text
    log_level: str = "INFO"
    metrics_allowed_networks: tuple[str, ...] = LOOPBACK_NETWORKS
    metrics_token: str | None = None
    # A due timer not fired this long after it was due counts as late (the scheduler ticks every few s).
    timer_late_after_seconds: int = 60
    # The MQTT listener's health file (``flask connectors mqtt --health-file``): readiness reads it.
    mqtt_health_file: Path | None = None
    mqtt_health_max_age_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> ObservabilitySettings:
        networks = os.environ.get("METRICS_ALLOWED_NETWORKS")
        health_file = os.environ.get("MQTT_HEALTH_FILE")
        return cls(
            log_format=_word("LOG_FORMAT", cls.log_format).lower(),
            log_level=_word("LOG_LEVEL", cls.log_level).upper(),
            metrics_allowed_networks=(
                LOOPBACK_NETWORKS
                if networks is None
                else tuple(n.strip() for n in networks.split(",") if n.strip())
            ),
            metrics_token=os.environ.get("METRICS_TOKEN") or None,
            timer_late_after_seconds=_int(
                "TIMER_LATE_AFTER_SECONDS", cls.timer_late_after_seconds, minimum=1
            ),
            mqtt_health_file=Path(health_file) if health_file else None,
            mqtt_health_max_age_seconds=_float(
                "MQTT_HEALTH_MAX_AGE_SECONDS", cls.mqtt_health_max_age_seconds, 1.0, 3600.0
            ),
        )

    def __post_init__(self) -> None:
        if self.log_format not in ("json", "text"):
            raise ConfigError(f"LOG_FORMAT must be json or text, got {self.log_format!r}")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(
                f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {self.log_level!r}"
            )
        for network in self.metrics_allowed_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigError(f"METRICS_ALLOWED_NETWORKS: {network!r} is not a network ({exc})") from exc
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigError("METRICS_TOKEN must be at least 16 characters")


MQTT_DEFAULT_TOPICS = ("zigbee2mqtt/#", "gridcase/devices/#")
SECRET_KEY_FILE = "secret_key"  # in the instance folder: embedded mode's generated key, kept across restarts


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class SecuritySettings:
    """Rate limits, cookies, proxies, sign-in lockout and idempotency keys (see README, Security).

    Rate limits are Flask-Limiter strings ("10 per minute", "100 per hour;1000 per day"): sign-in counts per
    client address (web and API together), reporting per user, registration (creating users) per address."""

    rate_limits_enabled: bool = True
    rate_limit_sign_in: str = "10 per minute"
    rate_limit_report: str = "20 per minute;200 per day"
    rate_limit_registration: str = "20 per hour"
    # Served over TLS: the session cookie is sent only over HTTPS, and HSTS (seconds; 0 = no header).
    session_cookie_secure: bool = False
    hsts_seconds: int = 0
    # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0: trust no such header).
    trusted_proxies: int = 0
    lockout_failures: int = 10  # this many wrong passwords for one account within the window…
    lockout_minutes: int = 15  # …lock it for this long (the window is the same length)
    idempotency_hours: int = 24  # how long an Idempotency-Key's first answer is kept

    @classmethod
    def from_env(cls) -> SecuritySettings:
        return cls(
            rate_limits_enabled=_bool("RATE_LIMITS_ENABLED", cls.rate_limits_enabled),
            rate_limit_sign_in=_word("RATE_LIMIT_SIGN_IN", cls.rate_limit_sign_in),
            rate_limit_report=_word("RATE_LIMIT_REPORT", cls.rate_limit_report),
            rate_limit_registration=_word("RATE_LIMIT_REGISTRATION", cls.rate_limit_registration),
            session_cookie_secure=_bool("SESSION_COOKIE_SECURE", cls.session_cookie_secure),
            hsts_seconds=_int("HSTS_SECONDS", cls.hsts_seconds),
            trusted_proxies=_int("TRUSTED_PROXIES", cls.trusted_proxies),
            lockout_failures=_int("LOCKOUT_FAILURES", cls.lockout_failures, minimum=1),
            lockout_minutes=_int("LOCKOUT_MINUTES", cls.lockout_minutes, minimum=1),
            idempotency_hours=_int("IDEMPOTENCY_HOURS", cls.idempotency_hours, minimum=1),
        )

    def __post_init__(self) -> None:
        from limits import parse_many

        for name in ("rate_limit_sign_in", "rate_limit_report", "rate_limit_registration"):
            value = getattr(self, name)
            try:
                parse_many(value)
            except ValueError as exc:
                raise ConfigError(
                    f"{name.upper()} must be a rate limit like '10 per minute', got {value!r}"
                ) from exc


TILE_CRS = ("wgs84", "gcj02")


@dataclass(frozen=True)
class MapSettings:
    """The page maps' base layer (see README, Maps). Without ``tile_url`` the maps draw our own territory
    only (grids, compounds, buildings with names) and no page asks any other host for anything.

    ``tile_url`` is a Leaflet XYZ template (``{z}/{x}/{y}``, ``{s}`` for a subdomain from
    ``tile_subdomains``); ``tile_crs`` is the coordinate system its tiles are drawn in: ``wgs84`` (天地图,
    CGCS2000 ≈ WGS-84; OpenStreetMap) or ``gcj02`` (高德, 腾讯): then the pages convert our WGS-84
    coordinates for drawing and the picked points back."""

    tile_url: str | None = None
    tile_attribution: str = ""
    tile_crs: str = "wgs84"
    tile_subdomains: str = "abc"
    tile_max_zoom: int = 18

    @classmethod
    def from_env(cls) -> MapSettings:
        return cls(
            tile_url=os.environ.get("MAP_TILE_URL", "").strip() or None,
            tile_attribution=os.environ.get("MAP_TILE_ATTRIBUTION", "").strip(),
            tile_crs=_word("MAP_TILE_CRS", cls.tile_crs).lower(),
            tile_subdomains=_word("MAP_TILE_SUBDOMAINS", cls.tile_subdomains),
            tile_max_zoom=_int("MAP_TILE_MAX_ZOOM", cls.tile_max_zoom, minimum=1),
        )

    def __post_init__(self) -> None:
        if self.tile_crs not in TILE_CRS:
            raise ConfigError(f"MAP_TILE_CRS must be one of {', '.join(TILE_CRS)}, got {self.tile_crs!r}")
        if self.tile_url is not None:
            self.tile_source()  # raises ConfigError for a template the CSP cannot name
            if not all(f"{{{part}}}" in self.tile_url for part in ("z", "x", "y")):
                raise ConfigError(f"MAP_TILE_URL must contain {{z}}, {{x}} and {{y}}, got {self.tile_url!r}")

    def tile_source(self) -> str | None:
        """The CSP source that lets the pages load the tiles (``https://*.example.com`` when the host has a
        ``{s}`` subdomain), or None without a tile server."""
        if self.tile_url is None:
            return None
        scheme, _, rest = self.tile_url.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0]
        if scheme not in ("https", "http") or not host:
            raise ConfigError(f"MAP_TILE_URL must be an http(s):// URL template, got {self.tile_url!r}")
        first, dot, domain = host.partition(".")
        if "{" in first and dot and "{" not in domain:
            host = f"*.{domain}"  # t{s}.tianditu.gov.cn -> *.tianditu.gov.cn
        elif "{" in host or any(c in host for c in " ;,'\""):
            raise ConfigError(
                f"MAP_TILE_URL: only the first label of the host may be a template, got {host!r}"
            )
        return f"{scheme}://{host}"


def embedded_secret_key(instance: Path) -> str:
    """Embedded mode without SECRET_KEY: one generated key kept in the instance folder, so sessions survive
    a restart and every process of this folder signs with the same key."""
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked in: a racing process either links first (and we
        # read its key) or finds no file; nobody reads half a key.
        draft = instance / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_hex(32), encoding="ascii")
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise ConfigError(f"{path}: the kept SECRET_KEY is damaged (delete the file to make a new one)")
    return key


def _topics(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(topic.strip() for topic in raw.split(",") if topic.strip())


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
    # Working periods of a working day, wall clock in China Standard Time: time limits count only these.
    working_hours: str
    default_time_limit_hours: int
    # Published holiday schedules for years chinesecalendar does not know yet (app/timelimits/holidays.py),
    # and what to do for a year nobody has data for: "weekdays" (flagged provisional) or "refuse".
    holiday_schedule_file: Path | None
    token_ttl_hours: int
    # werkzeug method; tests use a cheap one, because scrypt costs ~0.1 s per hash by design.
    password_hash_method: str
    extra: dict[str, Any] = field(default_factory=dict)
    unknown_holiday_years: str = "weekdays"
    # Responses compressed by the app (app/compression.py); off when a proxy in front compresses them.
    compress_responses: bool = True
    # Sensor connectors: topics to subscribe (comma-separated), the stable client id of the persistent
    # session, an optional shared-subscription group ($share/<group>/<topic>) to split load between
    # listeners, and how long the broker keeps the session (and unacknowledged messages) while we are away.
    mqtt_topics: tuple[str, ...] = MQTT_DEFAULT_TOPICS
    mqtt_client_id: str = "gridcase-connector"
    mqtt_share_group: str | None = None
    mqtt_session_expiry_seconds: int = 86400
    sensors: SensorSettings = field(default_factory=SensorSettings)
    mediation: MediationSettings = field(default_factory=MediationSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    # How long a migration of running instances to another version can be undone (hours; 0: never).
    migration_undo_hours: int = 24
    # The photo-proof check (app/cases/photo_check.py): how far from the case a proof photo may be taken, and
    # how long before the dispatch (clocks drift) before it is flagged.
    photo_check_max_distance_meters: float = 300.0
    photo_check_early_minutes: int = 30
    # Engine guards (app/workflow/guards.py): how long one script, condition or expression may run, and how
    # many engine steps one run may take (a loop of script tasks counts each task and gateway it passes).
    engine_script_budget_seconds: float = 1.0
    engine_max_steps_per_run: int = 100_000
    # How many places one inspection campaign may target (each is an instance of its own; a launch starts them
    # all in one transaction, about 5 ms each).
    inspection_max_targets: int = 10_000
    # How long the job outbox keeps the rows of jobs that ran (failed ones stay until queued again).
    job_outbox_retention_hours: int = 72
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    # The dispatcher workbench's possible duplicates: open cases of the same category reported this close
    # (metres) and this near in time (hours, either side) to the report being triaged.
    duplicate_radius_meters: int = 200
    duplicate_window_hours: int = 72
    maps: MapSettings = field(default_factory=MapSettings)

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
            "working_hours": os.environ.get("WORKING_HOURS") or DEFAULT_WORKING_HOURS,
            "holiday_schedule_file": (
                Path(os.environ["HOLIDAY_SCHEDULE_FILE"]) if os.environ.get("HOLIDAY_SCHEDULE_FILE") else None
            ),
            "unknown_holiday_years": os.environ.get("UNKNOWN_HOLIDAY_YEARS") or "weekdays",
            "compress_responses": _bool("COMPRESS_RESPONSES", True),
            "default_time_limit_hours": _int("DEFAULT_TIME_LIMIT_HOURS", 24, minimum=1),
            "token_ttl_hours": _int("TOKEN_TTL_HOURS", 24 * 30, minimum=1),
            "password_hash_method": os.environ.get("PASSWORD_HASH_METHOD") or "scrypt",
            "mqtt_topics": _topics("MQTT_TOPICS", MQTT_DEFAULT_TOPICS),
            "mqtt_client_id": os.environ.get("MQTT_CLIENT_ID") or "gridcase-connector",
            "mqtt_share_group": os.environ.get("MQTT_SHARE_GROUP") or None,
            "mqtt_session_expiry_seconds": _int("MQTT_SESSION_EXPIRY_SECONDS", 86400, minimum=0),
            "sensors": SensorSettings.from_env(),
            "mediation": MediationSettings.from_env(),
            "security": SecuritySettings.from_env(),
            "migration_undo_hours": _int("MIGRATION_UNDO_HOURS", 24, minimum=0),
            "photo_check_max_distance_meters": _float("PHOTO_CHECK_MAX_DISTANCE_METERS", 300.0, 1.0, 1e6),
            "photo_check_early_minutes": _int("PHOTO_CHECK_EARLY_MINUTES", 30, minimum=0),
            "engine_script_budget_seconds": _float("ENGINE_SCRIPT_BUDGET_SECONDS", 1.0, 0.01, 600),
            "engine_max_steps_per_run": _int("ENGINE_MAX_STEPS_PER_RUN", 100_000, minimum=10),
            "inspection_max_targets": _int("INSPECTION_MAX_TARGETS", 10_000, minimum=1),
            "job_outbox_retention_hours": _int("JOB_OUTBOX_RETENTION_HOURS", 72, minimum=1),
            "observability": ObservabilitySettings.from_env(),
            "duplicate_radius_meters": _int("DUPLICATE_RADIUS_METERS", 200, minimum=1),
            "duplicate_window_hours": _int("DUPLICATE_WINDOW_HOURS", 72, minimum=1),
            "maps": MapSettings.from_env(),
        }
        values.update(overrides)
        if not values["secret_key"]:
            if values["redis_url"]:
                # Several processes (gunicorn workers, RQ workers) must sign sessions with one key: a key per
                # process sends users back to the sign-in page on every other request.
                raise ConfigError(
                    "SECRET_KEY must be set in stack mode (REDIS_URL is set): every web process must sign "
                    "sessions with the same key. Generate one with: "
                    "python -c 'import secrets; print(secrets.token_hex(32))'"
                )
            values["secret_key"] = embedded_secret_key(instance)
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
        self._validate_mqtt()
        if not self.password_hash_method.startswith(("scrypt", "pbkdf2:")):
            raise ConfigError(
                f"PASSWORD_HASH_METHOD must be scrypt or pbkdf2:…, got {self.password_hash_method!r}"
            )
        if not 0.05 <= self.warning_fraction <= 0.99:
            raise ConfigError(f"WARNING_FRACTION must be between 0.05 and 0.99, got {self.warning_fraction}")
        try:
            WorkingHours.parse(self.working_hours)
        except CalendarError as exc:
            raise ConfigError(f"WORKING_HOURS: {exc}") from exc
        if self.unknown_holiday_years not in UNKNOWN_YEAR_POLICIES:
            raise ConfigError(
                f"UNKNOWN_HOLIDAY_YEARS must be one of {', '.join(UNKNOWN_YEAR_POLICIES)}, "
                f"got {self.unknown_holiday_years!r}"
            )
        if self.holiday_schedule_file is not None:
            try:
                load_schedule(self.holiday_schedule_file, missing_ok=True)
            except CalendarError as exc:
                raise ConfigError(f"HOLIDAY_SCHEDULE_FILE: {exc}") from exc
        if not self.bpmn_folder.is_dir():
            raise ConfigError(f"BPMN_FOLDER {self.bpmn_folder} is not a folder")
        if not self.forms_folder.is_dir():
            raise ConfigError(f"FORMS_FOLDER {self.forms_folder} is not a folder")

    def _validate_mqtt(self) -> None:
        if not self.mqtt_topics:
            raise ConfigError("MQTT_TOPICS must name at least one topic filter")
        for topic in self.mqtt_topics:
            misplaced_hash = "#" in topic[:-1] or (topic.endswith("#") and topic[-2:-1] not in ("", "/"))
            if topic.startswith("$share/") or misplaced_hash:
                raise ConfigError(
                    f"MQTT_TOPICS: {topic!r} is not a topic filter ('#' only last; set MQTT_SHARE_GROUP "
                    "instead of writing $share/…)"
                )
        # MQTT 3.1.1 allows 23 characters at least; brokers accept more, but keep it portable and printable.
        if not (0 < len(self.mqtt_client_id) <= 64 and self.mqtt_client_id.isascii()):
            raise ConfigError(f"MQTT_CLIENT_ID must be 1-64 ASCII characters, got {self.mqtt_client_id!r}")
        group = self.mqtt_share_group
        if group is not None and (not group or any(c in group for c in "/+#")):
            raise ConfigError(f"MQTT_SHARE_GROUP must be a name without '/', '+' or '#', got {group!r}")

    def working_calendar(self) -> WorkingCalendar:
        """The calendar time limits are counted on: China's working days, these working hours."""
        path = self.holiday_schedule_file
        schedule = load_schedule(path, missing_ok=True) if path else None
        policy = cast(UnknownYears, self.unknown_holiday_years)
        workdays = ChinaWorkdays(schedule, policy, schedule_file=path)
        return WorkingCalendar(WorkingHours.parse(self.working_hours), is_workday=workdays)

    def flask_config(self) -> dict[str, Any]:
        url = self.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        # A database that does not answer (a dropped network) fails a connection in 5 s, not minutes:
        # readiness reports it, and a request waits no longer than that.
        engine_options: dict[str, Any] = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
        if url.startswith("sqlite"):
            # Threads share the file (scheduler thread, test races); wait for the write lock, don't fail.
            engine_options = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        return {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SECRET_KEY": self.secret_key,
            # The session cookie: never readable by scripts, not sent on cross-site sub-requests or posts,
            # and only over HTTPS when served over TLS (SESSION_COOKIE_SECURE).
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.security.session_cookie_secure,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "REMEMBER_COOKIE_SECURE": self.security.session_cookie_secure,
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
            # Pages: zh_CN first, English by the switch (app/web/i18n.py); one catalogue per web blueprint.
            "BABEL_DEFAULT_LOCALE": "zh_CN",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
            "BABEL_TRANSLATION_DIRECTORIES": ";".join(str(folder) for folder in TRANSLATION_FOLDERS),
            # A CSRF token lives as long as the session: a form filled slowly on a phone is not refused.
            "WTF_CSRF_TIME_LIMIT": None,
            **self.extra,
        }
