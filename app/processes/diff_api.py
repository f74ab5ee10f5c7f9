"""What changed between two versions of a process (designers, admins): the elements added, removed, changed
(with the changed properties) and only moved, and how many XML lines changed, normalized and as stored."""

from __future__ import annotations

import difflib
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.roles import DESIGNERS
from app.errors import InvalidInput, NotFound
from app.http import require_roles
from app.inputs import BoundedInt
from app.processes import services
from app.processes.bpmn_diff import KINDS, semantic_diff
from app.processes.canonical_xml import canonical_xml
from app.workflow import deploy

blp = Blueprint(
    "process_diffs",
    __name__,
    url_prefix="/api/v1",
    description="流程版本差异 What changed between two versions of a process",
)


class DiffQuery(Schema):
    a = BoundedInt(
        load_default=None, validate=validate.Range(min=1), metadata={"description": "from version"}
    )
    b = BoundedInt(load_default=None, validate=validate.Range(min=1), metadata={"description": "to version"})


class PropertyChangeSchema(Schema):
    property = fields.Str(metadata={"description": "name, condition, source, target, property:<name>, …"})
    old = fields.Str(allow_none=True, metadata={"description": "null: the property is new"})
    new = fields.Str(allow_none=True, metadata={"description": "null: the property was removed"})


class ElementChangeSchema(Schema):
    kind = fields.Str(metadata={"description": " | ".join(KINDS)})
    element_id = fields.Str()
    type = fields.Str(metadata={"description": "the BPMN element: userTask, sequenceFlow, …"})
    name = fields.Str()
    changes = fields.List(fields.Nested(PropertyChangeSchema))


class LineCountSchema(Schema):
    added = fields.Int()
    removed = fields.Int()


class DiffSchema(Schema):
    key = fields.Str()
    a = fields.Int()
    b = fields.Int()
    counts = fields.Dict(keys=fields.Str(), values=fields.Int())
    entries = fields.List(fields.Nested(ElementChangeSchema))
    normalized_lines = fields.Nested(
        LineCountSchema, metadata={"description": "XML lines changed once both files are written one way"}
    )
    stored_lines = fields.Nested(
        LineCountSchema, metadata={"description": "lines changed in the stored bytes"}
    )


def line_counts(old: str, new: str) -> dict[str, int]:
    added = removed = 0
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return {"added": added, "removed": removed}


@blp.route("/process-definitions/<key>/diff")
class DefinitionDiff(MethodView):
    @blp.arguments(DiffQuery, location="query")
    @blp.response(200, DiffSchema)
    def get(self, query: dict[str, Any], key: str) -> dict[str, Any]:
        """Compare version ``a`` with version ``b`` of a BPMN process (default: the newest against the one
        before it). Entries: changed first, then added, removed, moved (layout only), in document order."""
        require_roles(DESIGNERS)
        kinds = {v.version: v.kind for v in services.definition_versions(key)}
        b = query["b"] or max(kinds)
        a = query["a"] or max(b - 1, 1)
        for version in (a, b):
            if version not in kinds:
                raise NotFound(f"process '{key}' has no version {version}")
            if kinds[version] != "bpmn":
                raise InvalidInput("not a BPMN version", {"a" if version == a else "b": "only BPMN versions"})
        old, new = deploy.definition_xml(key, a), deploy.definition_xml(key, b)
        return {
            "key": key,
            "a": a,
            "b": b,
            **semantic_diff(old, new).as_dict(),
            "normalized_lines": line_counts(canonical_xml(old), canonical_xml(new)),
            "stored_lines": line_counts(old, new),
        }
