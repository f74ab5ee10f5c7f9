"""Validating and deploying a diagram edited in the modeler: the same checks and the same service as the API.

``deploy.validate_file`` is exactly what ``deploy.deploy_file`` runs before storing anything, so the
validate button and the deploy button can never disagree. The edited XML is deployed under the file name of
the process's newest version (a file may define several processes; all of them get their next version).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from app import runtime
from app.errors import InvalidInput
from app.workflow import deploy
from app.workflow.models import ProcessDefinition


@dataclass(frozen=True)
class DiagramProblem:
    """One reason a diagram cannot be deployed; ``element_id`` is the BPMN element to mark, if known."""

    message: str
    element_id: str | None = None
    line: int | None = None
    element_name: str | None = None
    severity: str = "error"  # error: refuses the deploy | warning: reported only
    reason: str | None = None  # the stable English reason (the properties panel maps it to its field)
    original: str | None = None  # SpiffWorkflow's own text, when its parser refused the diagram

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DiagramRejected(InvalidInput):
    """The diagram fails deploy validation; ``problems`` are what the page lists and marks on the canvas."""

    def __init__(self, problems: list[DiagramProblem]) -> None:
        super().__init__(
            problems[0].message if len(problems) == 1 else f"{len(problems)} problems in the diagram",
            {"problems": [p.as_dict() for p in problems]},
        )
        self.problems = problems


@dataclass(frozen=True)
class DiagramDeployed:
    key: str
    version: int
    created: bool  # False: the same bytes as an existing version, which is returned unchanged


def _problem(details: dict[str, Any]) -> DiagramProblem:
    line = details.get("line")
    return DiagramProblem(
        message=str(details.get("message") or details["reason"]),
        element_id=details.get("element_id") or None,
        line=line if isinstance(line, int) else None,
        element_name=details.get("element_name") or None,
        severity=str(details.get("severity") or "error"),
        reason=str(details["reason"]) if details.get("reason") else None,
        original=str(details["original"]) if details.get("original") else None,
    )


def _problems_from(exc: InvalidInput) -> list[DiagramProblem]:
    """``deploy`` errors carry every problem (``problems``: ``{element_id, element_name, line, severity,
    reason, message}``), one problem (``{file, element_id, line, reason}``) or ``{file: …}``."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if isinstance(details.get("problems"), list):
        return [_problem(p) for p in details["problems"]]
    if "reason" in details:
        return [_problem(details)]
    reason = details.get("file")
    return [DiagramProblem(message=f"{exc.message}: {reason}" if reason else exc.message)]


def warnings_of(parsed: list[Any]) -> list[DiagramProblem]:
    """The warnings of a diagram that passed: shown in the modeler, never refusing."""
    return [_problem(w.as_dict()) for p in parsed for w in p.warnings]


def _encode(xml: str) -> bytes:
    if not xml.strip():
        raise DiagramRejected([DiagramProblem("the diagram is empty")])
    return xml.encode("utf-8")


def validate_diagram(definition: ProcessDefinition, xml: str) -> tuple[list[str], list[DiagramProblem]]:
    """Run deploy validation on ``xml`` edited from ``definition``: the process keys it defines and its
    warnings.

    Raises DiagramRejected. The edited file must still define ``definition.key``: renaming the process id in
    the modeler would otherwise deploy a different process and leave this one as it was.
    """
    return validate_file_xml(definition.file_name, definition.key, xml)


def validate_file_xml(file_name: str, key: str, xml: str) -> tuple[list[str], list[DiagramProblem]]:
    """``validate_diagram`` for a file name and the process key it must define (a new process has no
    definition yet)."""
    content = _encode(xml)
    rules = runtime.deploy_rules()
    try:
        parsed = deploy.validate_file(file_name, content, rules)
    except InvalidInput as exc:
        raise DiagramRejected(_problems_from(exc)) from exc
    keys = [p.key for p in parsed]
    if key not in keys:
        raise DiagramRejected(
            [
                DiagramProblem(
                    f"the diagram no longer defines process '{key}' "
                    f"(it defines {', '.join(keys) or 'no executable process'}); keep the process id",
                    element_id=keys[0] if keys else None,
                )
            ]
        )
    return keys, warnings_of(parsed)


def deploy_diagram(definition: ProcessDefinition, xml: str, actor: Any) -> DiagramDeployed:
    """Validate, then deploy through ``deploy.deploy_file`` (versioned by content, audited as
    ``process.deployed``) as a draft: new instances start on it once it is published. The caller
    commits."""
    return deploy_file_xml(definition.file_name, definition.key, xml, actor)


def deploy_file_xml(file_name: str, key: str, xml: str, actor: Any) -> DiagramDeployed:
    """``deploy_diagram`` for a file name and the process key it must define."""
    validate_file_xml(file_name, key, xml)
    rules = runtime.deploy_rules()
    results = deploy.deploy_file(file_name, _encode(xml), rules, actor=actor, publish=False)  # a draft
    mine = next(r for r in results if r.definition.key == key)
    return DiagramDeployed(key, mine.definition.version, mine.created)
