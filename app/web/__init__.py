"""The web pages: one blueprint per audience, all on the same services as the REST API.

- ``app.web.views``: sign-in, shared layout, language and security, grid worker (phone) and resident pages;
- ``app.web.supervisor``: case list, case page with timeline and diagram, the one-screen dashboard;
- ``app.web.designer``: processes, versions, the bpmn-js modeler, form editor and version diff;
- ``app.web.operations``: running instances, incidents and their repairs (admins, designers);
- ``app.web.workbench``: the dispatcher's triage and dispatch workbench (desktop);
- ``app.web.mediation``: disputes, the dispute page, filing on a resident's behalf (desktop);
- ``app.web.sensors``: sensor devices, alarms and incidents, dead letters, registering and importing;
- ``app.web.command``: the emergency command centre: plan library, launch, live board (desktop);
- ``app.web.admin_data``: the admin console's grids, units, categories, plans and holidays (``/admin/...``).
"""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from app.web.admin import bp as admin_bp
    from app.web.admin import reset_bp as password_reset_bp
    from app.web.admin_data import bp as admin_data_bp
    from app.web.assets import init_assets
    from app.web.command import bp as command_bp
    from app.web.designer import bp as designer_bp
    from app.web.inspections import bp as inspections_bp
    from app.web.mediation import bp as mediation_bp
    from app.web.operations import bp as operations_bp
    from app.web.sensors import bp as sensors_bp
    from app.web.supervisor import bp as supervisor_bp
    from app.web.views import bp
    from app.web.workbench import bp as workbench_bp

    app.register_blueprint(bp)
    app.register_blueprint(supervisor_bp)
    app.register_blueprint(designer_bp)
    app.register_blueprint(operations_bp)
    app.register_blueprint(workbench_bp)
    app.register_blueprint(inspections_bp)
    app.register_blueprint(sensors_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(password_reset_bp)
    app.register_blueprint(mediation_bp)
    app.register_blueprint(command_bp)
    app.register_blueprint(admin_data_bp)
    init_assets(app)  # static files' URLs fingerprinted, and cached for a year (app/web/assets.py)
