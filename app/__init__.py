"""gridcase: case management for urban grid governance. ``create_app`` is the table of contents."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import runtime
from app.clock import Clock, SystemClock
from app.config import Settings
from app.inputs import BoundedIntConverter


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()
    # No app-wide static folder: the `web` blueprint serves /static/ from app/web/static/.
    app = Flask(__name__, instance_path=str(settings.upload_folder.parent.resolve()), static_folder=None)
    app.config.update(settings.flask_config())
    app.url_map.converters["int"] = BoundedIntConverter  # before any route: path ids within INTEGER
    runtime.install_core(app, settings, clock)  # settings, clock and the working calendar time limits count
    init_logging(settings)

    init_extensions(app)
    init_database(app)
    init_workflow(app)
    init_jobs_for(app)
    register_errors(app)
    register_api(app)
    register_pages(app)
    register_ops(app)
    register_cli(app)
    init_security(app)
    return app


def init_security(app: Flask) -> None:
    """Rate limits (they wrap the registered views, so after every blueprint) and the proxies trusted for
    the client's address and scheme (TRUSTED_PROXIES: how many sit in front; none by default)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.ratelimits import init_rate_limits

    init_rate_limits(app)
    proxies = runtime.settings(app).security.trusted_proxies
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )


def init_logging(settings: Settings) -> None:
    from app.logs import configure_logging

    configure_logging(settings.observability.log_format, settings.observability.log_level)


def init_extensions(app: Flask) -> None:
    from app.compression import init_compression
    from app.extensions import api, babel, csrf, db, login_manager, migrate
    from app.web.i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_folder()))
    api.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    init_compression(app)  # first of the after-request hooks, so it runs last (see init_compression)


def _migrations_folder() -> Any:
    from app.config import PROJECT_ROOT

    return PROJECT_ROOT / "migrations"


def init_database(app: Flask) -> None:
    from app.db_setup import configure_engine

    # Import every model so metadata (and Alembic) see all tables.
    from app.models import ALL_MODELS  # noqa: F401

    with app.app_context():
        configure_engine()


def init_workflow(app: Flask) -> None:
    from app.auth.roles import ALL_ROLES
    from app.cases import escalation as _escalation_operators  # noqa: F401  (registers case.escalate, …)
    from app.cases import operators as _case_operators  # noqa: F401  (registers case.* operators)
    from app.cases import simulations as _case_simulations  # noqa: F401  (case.* in test runs)
    from app.cases.status import close_case_of_terminated_instance, mirror_case_status
    from app.devices import operators as _sensor_operators  # noqa: F401  (registers sensor.* operators)
    from app.devices.case_opening import open_pending_cases
    from app.devices.maintenance import scheduled_sweep
    from app.devices.silence import scheduled_silence
    from app.emergency import operators as _emergency_operators  # noqa: F401  (registers emergency.*)
    from app.inspections import operators as _inspection_operators  # noqa: F401  (inspection.*, forms)
    from app.jobs import on_instance_job_failed
    from app.mediation import operators as _mediation_operators  # noqa: F401  (registers mediation.*)
    from app.workflow import call_binding, children, deploy, instances, migration_undo, operations, scheduler
    from app.workflow.callees import DeployedCallees
    from app.workflow.engine import SpecCache
    from app.workflow.forms import FormRegistry

    # No clock here: workflow timers and script now() ask runtime.clock() (app/workflow/engine.py).
    forms = FormRegistry(runtime.settings(app).forms_folder)
    runtime.install_workflow(
        app, SpecCache(), forms, lambda: deploy.default_rules(forms.exists, set(ALL_ROLES))
    )
    call_binding.use_resolver(DeployedCallees())  # call activities bound to the callee's published version
    instances.on_step(mirror_case_status)
    operations.on_terminated(close_case_of_terminated_instance)
    on_instance_job_failed(scheduler.park_on_job_failure)  # a job's last failure parks its instance
    scheduler.register_periodic("devices.silence", scheduled_silence)  # before maintenance: it may follow
    scheduler.register_periodic("devices.maintenance", scheduled_sweep)
    scheduler.register_periodic("devices.pending_cases", open_pending_cases)
    scheduler.register_periodic("workflow.migration_undo_expiry", migration_undo.expire_undo_states)
    scheduler.register_periodic("workflow.children_queued", children.deliver_all_queued)  # a lost job's


def init_jobs_for(app: Flask) -> None:
    from app.jobs import init_jobs

    init_jobs(app)


def register_errors(app: Flask) -> None:
    from app.errors import register_error_handlers

    register_error_handlers(app)


def register_api(app: Flask) -> None:
    from app.auth.api import blp as auth_blp
    from app.cases.api import attachments_blp
    from app.cases.api import blp as cases_blp
    from app.categories.api import blp as categories_blp
    from app.devices.api import blp as devices_blp
    from app.devices.api import dead_letters_blp, incidents_blp
    from app.emergency.api import blp as emergencies_blp
    from app.emergency.api import plans_blp as emergency_plans_blp
    from app.extensions import api, csrf
    from app.grids.api import blp as grids_blp
    from app.grids.api import user_grids_blp
    from app.http import authenticate_api_request
    from app.inspections.api import blp as inspections_blp
    from app.jobs.api import blp as jobs_blp
    from app.kpi.api import blp as kpi_blp
    from app.mediation.api import blp as disputes_blp
    from app.mediation.api import mediators_blp
    from app.processes.api import blp as processes_blp
    from app.processes.diff_api import blp as process_diffs_blp
    from app.processes.migration_api import blp as migrations_blp
    from app.processes.operations_api import blp as process_operations_blp
    from app.processes.publish_api import blp as process_publication_blp
    from app.tasks.api import blp as tasks_blp
    from app.tasks.startable_api import blp as startable_processes_blp
    from app.tasks.supervision_api import blp as case_supervision_blp
    from app.units.api import blp as units_blp

    blueprints = (
        auth_blp,
        user_grids_blp,
        cases_blp,
        attachments_blp,
        tasks_blp,
        case_supervision_blp,
        processes_blp,
        process_diffs_blp,
        process_publication_blp,
        process_operations_blp,
        migrations_blp,
        startable_processes_blp,
        grids_blp,
        categories_blp,
        kpi_blp,
        units_blp,
        inspections_blp,
        devices_blp,
        dead_letters_blp,
        incidents_blp,
        disputes_blp,
        mediators_blp,
        emergencies_blp,
        emergency_plans_blp,
        jobs_blp,
    )
    for blueprint in blueprints:
        if authenticate_api_request not in blueprint.before_request_funcs.get(None, []):
            blueprint.before_request(authenticate_api_request)
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # bearer tokens; page sessions may only read the API
    register_ingest(app)


def register_ingest(app: Flask) -> None:
    """Device ingestion authenticates devices by their own tokens, not users: no user check before it."""
    from app.extensions import api, csrf
    from connectors.http_ingest import blp as ingest_blp

    api.register_blueprint(ingest_blp)
    csrf.exempt(ingest_blp)


def register_pages(app: Flask) -> None:
    from app.web import register_web

    register_web(app)


def register_ops(app: Flask) -> None:
    from app.ops import init_ops

    init_ops(app)


def register_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
