"""``make stack``: the whole stack on this machine, from ``deploy/Procfile`` (honcho).

Against PostgreSQL and Redis as ``.ci/services`` starts them, with a Mosquitto of its own (the shipped
``connectors/mosquitto.conf`` on STACK_MQTT_PORT; ``STACK_BROKER=external`` uses MQTT_URL's broker instead).
Before any process starts: the database is created if missing and migrated, the diagrams, categories and
emergency plans are deployed, the metrics folder is emptied. Then N gunicorn workers, M RQ workers, the
scheduler and the MQTT listener run until SIGTERM or Ctrl-C, which each of them takes as "finish what you
are doing": gunicorn lets requests in flight finish, an RQ worker its job, the scheduler its round, the
listener its batch. What has not exited after STACK_STOP_TIMEOUT seconds is killed.

Every setting is an environment variable (README, "Running the stack"); none is needed on this machine.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: flask, gunicorn, honcho
PROCFILE = ROOT / "deploy" / "Procfile"
# Lines of the shipped broker configuration that a local stack replaces (port, folders, user, access).
REPLACED_BROKER_LINES = ("listener", "allow_anonymous", "password_file", "persistence_location", "user")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _positive(name: str, default: int) -> int:
    raw = _env(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"stack: {name} must be a positive integer, got {raw!r}")
    return int(raw)


def stack_environment() -> dict[str, str]:
    """The variables every process of the stack gets (the caller's environment, with the stack's defaults)."""
    folder = Path(_env("STACK_DIR", str(ROOT / "instance" / "stack"))).resolve()
    env = dict(os.environ)
    env.update(
        STACK_DIR=str(folder),
        STACK_HOST=_env("STACK_HOST", "127.0.0.1"),
        STACK_PORT=str(_positive("STACK_PORT", 8000)),
        STACK_WEB_WORKERS=str(_positive("STACK_WEB_WORKERS", 2)),
        DATABASE_URL=_env("DATABASE_URL", "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase"),
        REDIS_URL=_env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        UPLOAD_FOLDER=_env("UPLOAD_FOLDER", str(folder / "uploads")),
        PROMETHEUS_MULTIPROC_DIR=_env("PROMETHEUS_MULTIPROC_DIR", str(folder / "metrics")),
        MQTT_HEALTH_FILE=_env("MQTT_HEALTH_FILE", str(folder / "listener-health.json")),
        GRIDCASE_METRICS_PREPARED="1",  # emptied here, before any process writes there (not by gunicorn)
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    if _env("STACK_BROKER", "own") == "own":
        env["MQTT_URL"] = f"mqtt://127.0.0.1:{_positive('STACK_MQTT_PORT', 1883)}"
        # Debian installs it in /usr/sbin, which is not on every PATH.
        env["MOSQUITTO"] = _env("MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    elif not env.get("MQTT_URL"):
        sys.exit("stack: STACK_BROKER=external needs MQTT_URL")
    env["SECRET_KEY"] = env.get("SECRET_KEY") or _secret_key(folder)
    return env


def _secret_key(folder: Path) -> str:
    """One key for every web worker (a key per worker signs sessions the others refuse), kept across
    restarts of this stack in its folder."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if it does not exist (the role must be allowed to)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(maintenance, autocommit=True, connect_timeout=10) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"stack: created database {name}", flush=True)
    except psycopg.OperationalError as exc:
        sys.exit(
            f"stack: PostgreSQL at {parts.hostname}:{parts.port or 5432} is not reachable ({exc});"
            " start it with .ci/services"
        )


def check_redis(url: str) -> None:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(url, socket_connect_timeout=5).ping()
    except RedisError as exc:
        sys.exit(f"stack: Redis at {url} is not reachable ({exc}); start it with .ci/services")


def write_broker_config(folder: Path, port: int) -> None:
    """The shipped Mosquitto configuration on ``port`` of this machine, persisting in the stack's folder."""
    data = folder / "mosquitto"
    data.mkdir(parents=True, exist_ok=True)
    shipped = (ROOT / "connectors" / "mosquitto.conf").read_text().splitlines()
    kept = [
        line
        for line in shipped
        if line.strip() and not line.startswith("#") and line.split()[0] not in REPLACED_BROKER_LINES
    ]
    # Loopback only and anonymous: a development stack. Put a password_file back for anything else.
    own = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        f"user {getpass.getuser()}",
        f"persistence_location {data}/",
    ]
    (folder / "mosquitto.conf").write_text("\n".join(own + kept) + "\n")


def prepare(env: dict[str, str]) -> None:
    """Everything that must be done once before the processes start, in order."""
    folder = Path(env["STACK_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    if env["DATABASE_URL"].startswith("postgresql"):
        ensure_database(env["DATABASE_URL"])
    check_redis(env["REDIS_URL"])
    flask = [str(BIN / "flask"), "--app", "app"]
    # The one-off commands count nothing the stack's metrics should show.
    once = {key: value for key, value in env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    for step in (["db", "upgrade"], ["deploy"], ["categories", "import"], ["emergency", "plans", "import"]):
        print(f"stack: flask {' '.join(step)}", flush=True)
        subprocess.run([*flask, *step], env=once, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    metrics = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    if metrics.exists():
        for stale in metrics.glob("*.db"):
            stale.unlink()  # counts of a previous run would be summed into this one's
    metrics.mkdir(parents=True, exist_ok=True)
    Path(env["MQTT_HEALTH_FILE"]).unlink(
        missing_ok=True
    )  # a stale file would say "ok" for a listener not yet up
    if _env("STACK_BROKER", "own") == "own":
        write_broker_config(folder, urlsplit(env["MQTT_URL"]).port or 1883)


def run(env: dict[str, str]) -> int:
    """Start the Procfile's processes (N web workers inside one gunicorn, M RQ workers) and wait."""
    from honcho import manager as honcho_manager
    from honcho.environ import parse_procfile
    from honcho.manager import Manager
    from honcho.printer import Printer

    # How long honcho waits after SIGTERM before it kills what is left (its own default is 5 s, shorter
    # than a request or a job may take to finish).
    honcho_manager.KILL_WAIT = _positive("STACK_STOP_TIMEOUT", 30)  # type: ignore[attr-defined]
    procfile = parse_procfile(PROCFILE.read_text())
    counts = {"worker": _positive("STACK_RQ_WORKERS", 2)}
    names = [name for name in procfile.processes if name != "broker" or _env("STACK_BROKER", "own") == "own"]
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # each line as it comes
    manager = Manager(Printer(sys.stdout, colour=False))
    for name in names:
        for index in range(1, counts.get(name, 1) + 1):
            label = f"{name}.{index}"
            manager.add_process(
                label, procfile.processes[name], env={**env, "STACK_PROCESS": label}, cwd=str(ROOT)
            )
    print(
        f"stack: http://{env['STACK_HOST']}:{env['STACK_PORT']} ({env['STACK_WEB_WORKERS']} web workers, "
        f"{counts['worker']} RQ workers, scheduler, listener on {env['MQTT_URL']});"
        " Ctrl-C or SIGTERM stops it",
        flush=True,
    )
    manager.loop()
    codes = [process.get("returncode") for process in manager._processes.values()]
    if manager.returncode in (130, 143) and all(code == 0 for code in codes):
        return 0  # asked to stop (Ctrl-C, SIGTERM), and every process finished cleanly
    return int(manager.returncode or 0)


def main() -> int:
    env = stack_environment()
    prepare(env)
    return run(env)


if __name__ == "__main__":
    sys.exit(main())
