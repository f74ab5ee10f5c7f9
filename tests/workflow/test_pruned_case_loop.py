"""The real case process through many rework rounds: deep enough that finished rounds are pruned from the
task tree (app/workflow/history.py), and it still behaves as the diagram says."""

from __future__ import annotations

from app.workflow import history, instances
from app.workflow.engine import EngineInstance
from tests.factories import create_case
from tests.helpers import case_row, complete, fire_next_timer, handle_and_prove, instance, open_ids

ROUNDS = 25


def test_a_case_reworked_many_times_is_pruned_and_closes(app, client, auth, users, deployed, clock):
    key = create_case(client, auth, "review")
    for number in range(ROUNDS):
        step = complete(
            client,
            auth,
            "supervisor",
            key,
            "review",
            {"review_decision": "reject", "review_comment": f"第{number + 1}次返工"},
        )
        assert step["case_status"] == "handling"
        if number == ROUNDS // 2:
            fire_next_timer(clock, key)  # the due warning of this round's handling, mid-way
            assert case_row(key).warned_at is not None
        assert "handle" in open_ids(key)
        handle_and_prove(client, auth, "worker", key, f"第{number + 1}次处置")
    row = instance(key)
    engine = EngineInstance.restore(instances._loaded_spec(row.definition_id), row.state)
    pruned = history.completed_history(engine._workflow)
    print(f"\n{ROUNDS} rework rounds: stored state {len(row.state)} bytes; pruned elements {pruned}")
    assert {"triage", "dispatch", "review"} <= set(pruned)  # the early rounds were pruned...
    highlighted = instances.instance_state(row)
    assert {"triage", "dispatch"} <= set(highlighted["completed_element_ids"])  # ...and still show as done
    assert "review" in highlighted["active_element_ids"]

    step = complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert step["case_status"] == "closed"
    closed = case_row(key)
    assert closed.status == "closed"
    assert closed.rework_count == ROUNDS
    assert instance(key).status == "completed"
    assert open_ids(key) == []
