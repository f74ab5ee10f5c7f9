"""Browser libraries from node_modules (npm installs them at set-up; never a CDN, nothing vendored in git).

Every dependency in package.json is servable at ``/vendor/<package>/<path>``, scoped ones included
(``/vendor/@json-editor/json-editor/dist/jsoneditor.js``). Templates call ``vendor_url(package, path)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import abort, send_from_directory
from flask.typing import ResponseReturnValue

from app.config import PROJECT_ROOT
from app.web.blueprint import bp

NODE_MODULES = PROJECT_ROOT / "node_modules"


def _declared_packages() -> frozenset[str]:
    manifest = json.loads((PROJECT_ROOT / "package.json").read_text(encoding="utf-8"))
    return frozenset(manifest.get("dependencies", {}))


VENDOR_PACKAGES = _declared_packages()


def vendor_url(package: str, path: str) -> str:
    if package not in VENDOR_PACKAGES:
        raise ValueError(f"{package!r} is not a dependency in package.json")
    return f"/vendor/{package}/{path.lstrip('/')}"


@bp.route("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> ResponseReturnValue:
    if package.startswith("@"):  # a scoped package: its name is the first segment of the rest
        name, _, filename = filename.partition("/")
        package = f"{package}/{name}"
    if package not in VENDOR_PACKAGES or not filename:
        abort(404)
    folder: Path = NODE_MODULES / package
    if not folder.is_dir():
        abort(404, description=f"{package} is not installed: run 'make setup' (it runs npm ci)")
    return send_from_directory(folder, filename, max_age=86400)


@bp.app_context_processor
def _vendor_context() -> dict[str, Any]:
    return {"vendor_url": vendor_url}
