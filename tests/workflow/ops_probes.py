"""The probe process of the operations tests: a person's step, then a script that fails until an operator
repairs it (``factor`` is missing), then a second person's step.

    start → look (supervisor, case status triage) → [wait: timer PT1H] → compute (total = factor * 2)
          → check (supervisor, case status handling) → end

``fail_at_compute`` leaves an instance as an engine failure leaves it (the state contract of incidents:
the work before the failing element kept, the failing task in SpiffWorkflow's ERROR state, an open
incident at it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.workflow import instances, operators, rows
from app.workflow.engine import EngineError
from app.workflow.models import HumanTask, IncidentKind, ProcessInstance, TaskStatus
from tests.probes import definitions, deploy_diagram, user_task

PROCESS_KEY = "ops_probe"
TIMER_PROCESS_KEY = "ops_probe_timer"


def _bpmn(process_id: str, with_timer: bool) -> bytes:
    look = user_task(
        "look",
        "f1",
        "f2",
        {
            "formJsonSchemaFilename": "review.schema.json",
            "candidateRoles": "supervisor",
            "caseStatus": "triage",
        },
        name="查看",
    )
    check = user_task(
        "check",
        "f4",
        "f5",
        {
            "formJsonSchemaFilename": "review.schema.json",
            "candidateRoles": "supervisor",
            "caseStatus": "handling",
        },
        name="核对",
    )
    wait = (
        """    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait" name="等待一小时">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_definition"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="compute" />"""
        if with_timer
        else """    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="compute" />"""
    )
    compute_in = "f3" if with_timer else "f2"
    return definitions(
        f"{process_id}_definitions",
        f"""  <bpmn:process id="{process_id}" name="运维探针" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="look" />
{look}
{wait}
    <bpmn:scriptTask id="compute" name="计算">
      <bpmn:incoming>{compute_in}</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>total = factor * 2</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f4" sourceRef="compute" targetRef="check" />
{check}
    <bpmn:sequenceFlow id="f5" sourceRef="check" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def deploy_probes() -> None:
    deploy_diagram(f"{PROCESS_KEY}.bpmn", _bpmn(PROCESS_KEY, with_timer=False))
    deploy_diagram(f"{TIMER_PROCESS_KEY}.bpmn", _bpmn(TIMER_PROCESS_KEY, with_timer=True))


def start_probe(process_key: str = PROCESS_KEY, case_id: int | None = None, **variables: Any) -> int:
    """A new probe instance waiting at ``look``; its id (committed)."""
    outcome = instances.start_instance(process_key, business_key=None, variables=variables, case_id=case_id)
    db.session.commit()
    return outcome.instance.id


def fail_at_compute(instance_id: int, actor: Any = None) -> None:
    """``look`` completed and the run failing at ``compute``: stored as the incidents contract says."""
    fail_step(instance_id, "look", {"review_decision": "approve"}, actor)


def fail_step(instance_id: int, element_id: str, data: dict[str, Any], actor: Any = None) -> str:
    """Complete the open task at ``element_id`` with ``data`` that makes a following element fail, and leave
    the instance as the incidents contract says (the work before the failure kept, the failing task in
    ERROR, an open incident at it); the failing element's id."""
    instance = instances.lock_instance(instance_id)
    task = db.session.execute(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id,
            HumanTask.element_id == element_id,
            HumanTask.status.in_(TaskStatus.OPEN),
        )
    ).scalar_one()
    rows.update(
        [task],
        {
            "status": TaskStatus.COMPLETED,
            "completed_at": now(),
            "completed_by_id": actor.id if actor is not None else None,
            "submitted_data": data,
        },
    )
    engine = instances._engine(instance)
    try:
        with operators.running_instance(instance_id, actor):
            engine.complete_user_task(task.spiff_task_id, data)
    except EngineError as exc:
        failure = exc
    else:
        raise AssertionError(f"nothing failed after {element_id}")
    # Stored as any failed step is: the failing task in ERROR, the incident opened by the persistence path.
    outcome = instances._persist(instance, engine, actor, failure=failure, kind=IncidentKind.STEP)
    assert outcome.incident is not None
    db.session.commit()
    assert failure.element_id is not None
    return failure.element_id


def instance_row(instance_id: int) -> ProcessInstance:
    db.session.expire_all()
    row = db.session.get(ProcessInstance, instance_id)
    assert row is not None
    return row
