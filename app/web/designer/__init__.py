"""Designer pages: processes and versions, the bpmn-js modeler, the form editor and the version diff."""

from flask import Blueprint

bp = Blueprint("designer", __name__, url_prefix="/design", template_folder="templates")
