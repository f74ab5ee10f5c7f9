"""The sensor pages (传感设备, desktop, ``/sensors/``): devices on a map and in a list with their status, a
device page with its alarms, the active alarms and incidents with their cases, the dead letters, and
registering a device or importing a CSV file, all on the services the devices API uses."""

from flask import Blueprint

bp = Blueprint(
    "sensors",
    __name__,
    url_prefix="/sensors",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.sensors import views as _views  # noqa: E402, F401  (registers the routes on bp)
