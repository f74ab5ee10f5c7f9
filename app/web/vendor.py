"""Browser libraries from node_modules (npm installs them at set-up; never a CDN, nothing vendored in git).

Every dependency in package.json is servable at ``/vendor/<package>/<path>``, scoped ones included
(``/vendor/@json-editor/json-editor/dist/jsoneditor.js``). Templates call ``vendor_url(package, path)``,
which gives the fingerprinted URL (``?v=<content hash>``, cached for a year: app/web/assets.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import abort, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from werkzeug.security import safe_join

from app.config import PROJECT_ROOT
from app.web import assets
from app.web.blueprint import bp

NODE_MODULES = PROJECT_ROOT / "node_modules"


def _declared_packages() -> frozenset[str]:
    manifest = json.loads((PROJECT_ROOT / "package.json").read_text(encoding="utf-8"))
    return frozenset(manifest.get("dependencies", {}))


VENDOR_PACKAGES = _declared_packages()


def vendor_url(package: str, path: str) -> str:
    if package not in VENDOR_PACKAGES:
        raise ValueError(f"{package!r} is not a dependency in package.json")
    scope, _, name = package.rpartition("/")  # "@scope/name": the scope is the route's first segment
    first, rest = (scope, f"{name}/{path.lstrip('/')}") if scope else (package, path.lstrip("/"))
    return url_for("web.vendor", package=first, filename=rest)


def _package_and_file(package: str, filename: str) -> tuple[str, str]:
    if package.startswith("@"):  # a scoped package: its name is the first segment of the rest
        name, _, filename = filename.partition("/")
        package = f"{package}/{name}"
    return package, filename


def vendor_file(view_args: dict[str, Any]) -> Path | None:
    """The file of node_modules a /vendor/ URL names, or None (not a declared package, outside it)."""
    package, filename = _package_and_file(
        str(view_args.get("package", "")), str(view_args.get("filename", ""))
    )
    if package not in VENDOR_PACKAGES or not filename:
        return None
    joined = safe_join(str(NODE_MODULES / package), filename)
    return Path(joined) if joined is not None else None


assets.serves_files("web.vendor", vendor_file)


@bp.route("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> ResponseReturnValue:
    package, filename = _package_and_file(package, filename)
    if package not in VENDOR_PACKAGES or not filename:
        abort(404)
    folder: Path = NODE_MODULES / package
    if not folder.is_dir():
        abort(404, description=f"{package} is not installed: run 'make setup' (it runs npm ci)")
    return send_from_directory(folder, filename)  # its cache lifetime: app/web/assets.py


@bp.app_context_processor
def _vendor_context() -> dict[str, Any]:
    return {"vendor_url": vendor_url}


# --- bundles built at set-up -----------------------------------------------------------------------
# Libraries that ship only ES modules are bundled by esbuild (pinned in package.json) from an entry file of
# ours, by ``make setup`` (Makefile: BUNDLES), into this git-ignored folder; never committed, never a CDN.
BUNDLE_DIR = PROJECT_ROOT / "build" / "bundles"
BUNDLES = frozenset(
    {
        "properties-panel.js",  # bpmn-js-properties-panel + our provider: app/web/designer/panel/entry.js
    }
)


def bundle_url(filename: str) -> str:
    if filename not in BUNDLES:
        raise ValueError(f"{filename!r} is not a declared bundle")
    return url_for("web.bundle", filename=filename)


def bundle_file(view_args: dict[str, Any]) -> Path | None:
    filename = str(view_args.get("filename", ""))
    return BUNDLE_DIR / filename if filename in BUNDLES else None


assets.serves_files("web.bundle", bundle_file)


@bp.route("/vendor-bundles/<filename>")
def bundle(filename: str) -> ResponseReturnValue:
    if filename not in BUNDLES:
        abort(404)
    if not (BUNDLE_DIR / filename).is_file():
        abort(404, description=f"{filename} is not built: run 'make setup' (it runs esbuild)")
    return send_from_directory(BUNDLE_DIR, filename)


@bp.app_context_processor
def _bundle_context() -> dict[str, Any]:
    return {"bundle_url": bundle_url}
