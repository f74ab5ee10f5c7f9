"""The emergency command centre (指挥中心, desktop, ``/command/``): the plan library and launching a plan,
the emergencies in the user's scope, and one live board per emergency (responders reporting in with their
countdowns, the escalation level, on-scene updates with photos, the timings, and the control, close and
复盘 steps), all on the services the emergency API uses."""

from flask import Blueprint

bp = Blueprint(
    "command",
    __name__,
    url_prefix="/command",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.command import views as _views  # noqa: E402, F401  (registers the routes on bp)
