"""Parsing remembered per process (app/workflow/parse_memo.py): the same file, documents and rules parse once;
other bytes, another document, other rules or a form that appeared or vanished parse again; refusals are
raised every time; every caller gets its own copy."""

from __future__ import annotations

from typing import Any

import pytest

from app.workflow import engine, parse_memo
from app.workflow.engine import DeploymentRejected, ValidationRules
from tests.probes import one_task_bpmn


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The main files actually parsed (the memo starts empty)."""
    seen: list[str] = []
    real = engine.parse_documents

    def counting(main_file: str, documents: dict[str, bytes], rules: ValidationRules) -> Any:
        seen.append(main_file)
        return real(main_file, documents, rules)

    monkeypatch.setattr(parse_memo, "parse_documents", counting)
    monkeypatch.setattr(parse_memo, "_memo", type(parse_memo._memo)())
    return seen


def _rules(forms: set[str], roles: frozenset[str] = frozenset({"supervisor"})) -> ValidationRules:
    return ValidationRules(
        operator_names=set(), form_exists=lambda name: name in forms, known_roles=set(roles)
    )


def test_the_same_inputs_parse_once_and_give_equal_answers(parses):
    documents = {"probe.bpmn": one_task_bpmn("probe", "supervisor")}
    first = parse_memo.parsed_documents("probe.bpmn", documents, _rules({"review.schema.json"}))
    again = parse_memo.parsed_documents("probe.bpmn", dict(documents), _rules({"review.schema.json"}))
    assert parses == ["probe.bpmn"]
    assert again == first
    assert [p.key for p in again] == ["probe"]
    assert [t.properties["formJsonSchemaFilename"] for t in again[0].user_tasks] == ["review.schema.json"]


def test_each_caller_gets_its_own_copy(parses):
    documents = {"probe.bpmn": one_task_bpmn("probe", "supervisor")}
    rules = _rules({"review.schema.json"})
    [first] = parse_memo.parsed_documents("probe.bpmn", documents, rules)
    first.spec_document["spec"]["name"] = "changed by a caller"
    first.user_tasks[0].properties["candidateRoles"] = "changed"
    [again] = parse_memo.parsed_documents("probe.bpmn", documents, rules)
    assert again.spec_document["spec"]["name"] == "probe"
    assert again.user_tasks[0].properties["candidateRoles"] == "supervisor"
    assert parses == ["probe.bpmn"]


def test_other_bytes_documents_or_rules_parse_again(parses):
    documents = {"probe.bpmn": one_task_bpmn("probe", "supervisor")}
    forms = {"review.schema.json"}
    parse_memo.parsed_documents("probe.bpmn", documents, _rules(forms))
    changed = {"probe.bpmn": one_task_bpmn("probe", "supervisor ")}
    parse_memo.parsed_documents("probe.bpmn", changed, _rules(forms))
    parse_memo.parsed_documents(
        "probe.bpmn", {**documents, "other.bpmn": one_task_bpmn("other", "supervisor")}, _rules(forms)
    )
    parse_memo.parsed_documents("probe.bpmn", documents, _rules(forms, frozenset({"supervisor", "admin"})))
    assert len(parses) == 4


def test_a_form_that_vanished_is_refused_and_one_that_appeared_is_accepted(parses):
    documents = {"probe.bpmn": one_task_bpmn("probe", "supervisor")}
    forms = {"review.schema.json"}
    parse_memo.parsed_documents("probe.bpmn", documents, _rules(forms))
    forms.clear()
    for _ in range(2):  # refused each time: a refusal is never remembered
        with pytest.raises(DeploymentRejected, match=r"form 'review\.schema\.json' does not exist"):
            parse_memo.parsed_documents("probe.bpmn", documents, _rules(forms))
    forms.add("review.schema.json")
    [parsed] = parse_memo.parsed_documents("probe.bpmn", documents, _rules(forms))
    assert parsed.key == "probe"
    assert parses == ["probe.bpmn"] * 3  # the first answer again, once its form exists again
