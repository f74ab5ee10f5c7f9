"""Designer pages: processes and versions, the bpmn-js modeler, the form editor and the version diff.

Designers and admins only. Own static files at ``/design/static/`` (modeler.js, form_editor.js, designer.css),
own message catalogue in ``translations/``.
"""

from flask import Blueprint

bp = Blueprint(
    "designer",
    __name__,
    url_prefix="/design",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

from app.web.errors import register_page_errors  # noqa: E402

register_page_errors(bp)  # HTML error pages; JSON for requests that accept only JSON (the editors' fetch)

from app.web.designer import diff_views as _diff_views  # noqa: E402,F401  (version diff page)
from app.web.designer import dmn_views as _dmn_views  # noqa: E402,F401  (decision tables)
from app.web.designer import importing as _importing  # noqa: E402,F401  (import page)
from app.web.designer import migration_views as _migration_views  # noqa: E402,F401  (migration page)
from app.web.designer import new_process, vocabulary  # noqa: E402,F401  (new process; the panel's pickers)
from app.web.designer import publish_views as _publish_views  # noqa: E402,F401  (publish, rollback)
from app.web.designer import testrun_views as _testrun_views  # noqa: E402,F401  (test runs)
from app.web.designer import timer_starts as _timer_starts  # noqa: E402,F401  (process list: timer starts)
from app.web.designer import views as _views  # noqa: E402,F401  (registers the routes on bp)
