"""Probe diagrams: the small BPMN processes tests write to look at one behaviour of the engine or the API,
and deploying them (through the service, or uploaded as a designer would)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask.testing import FlaskClient

from app.extensions import db
from app.workflow import deploy
from tests.helpers import Auth


def definitions(definitions_id: str, body: str) -> str:
    """A BPMN document around ``body`` (its messages and processes), with the spiffworkflow namespace."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="{definitions_id}" targetNamespace="https://gridcase.example/bpmn">
{body}
</bpmn:definitions>
"""


def user_task(
    task_id: str, incoming: str, outgoing: str, properties: Mapping[str, str], name: str | None = None
) -> str:
    """A user task between the flows ``incoming`` and ``outgoing`` with spiffworkflow ``properties`` (form,
    candidate roles, ...; values go in as written, XML-escaped by the caller)."""
    lines = "\n".join(
        f'          <spiffworkflow:property name="{key}" value="{value}" />'
        for key, value in properties.items()
    )
    named = "" if name is None else f' name="{name}"'
    return f"""    <bpmn:userTask id="{task_id}"{named}>
      <bpmn:extensionElements>
        <spiffworkflow:properties>
{lines}
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
    </bpmn:userTask>"""


def one_task_bpmn(process_id: str, candidate_roles: str) -> bytes:
    """A process with one user task ``look`` (the review form) offered to ``candidate_roles``."""
    look = user_task(
        "look",
        "f1",
        "f2",
        {"formJsonSchemaFilename": "review.schema.json", "candidateRoles": candidate_roles},
        name="Look",
    )
    return definitions(
        f"{process_id}_definitions",
        f"""  <bpmn:process id="{process_id}" name="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="look" />
{look}
    <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>""",
    ).encode()


def deploy_diagram(file_name: str, content: bytes) -> Any:
    """Deploy one diagram through the service with the app's rules and commit; the deploy results."""
    results = deploy.deploy_file(file_name, content, current_app.extensions["gridcase.deploy_rules"]())
    db.session.commit()
    return results


def upload_diagram(client: FlaskClient, auth: Auth, who: str, content: bytes, file_name: str) -> Any:
    """``who`` uploads a diagram to the API, as the designer's page does; the response."""
    return client.post(
        "/api/v1/process-definitions",
        data={"file": (io.BytesIO(content), file_name)},
        headers=auth(who),
        content_type="multipart/form-data",
    )


def deploy_bpmn_folder() -> None:
    """Deploy every diagram of the app's bpmn folder with the app's rules and commit (into a database with
    no definition yet, the rows of the first such deploy of this process replayed: tests/deploy_replay.py)."""
    from tests.deploy_replay import deploy_shipped_folder

    deploy_shipped_folder()
