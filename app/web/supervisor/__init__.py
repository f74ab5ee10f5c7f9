"""Supervisor pages: case list, case page (timeline, highlighted diagram, photos) and the dashboard."""

from flask import Blueprint

bp = Blueprint("supervisor", __name__, url_prefix="/supervise", template_folder="templates")
