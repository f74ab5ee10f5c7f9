"""Operations pages (admins and designers): running instances and their incidents, an instance with its
diagram (the incident's element marked), variables and history, and a form for each repair (retry, skip,
move the token, suspend/resume, terminate, edit a variable), each with a reason.

Own templates, static file and message catalogue, like the supervisor and designer pages. The rules of who
may do what are app.processes.operations'; the repairs are app.workflow.operations'.
"""

from flask import Blueprint

bp = Blueprint(
    "operations",
    __name__,
    url_prefix="/operate",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.errors import register_page_errors  # noqa: E402

register_page_errors(bp)

from app.web.operations import timer_starts as _timer_starts  # noqa: E402,F401  (failed timer starts)
from app.web.operations import views as _views  # noqa: E402,F401  (registers the routes on bp)
