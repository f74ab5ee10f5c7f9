"""A case sent back for rework 30 times: the stored state does not grow with the rounds (issue #19).

Each round (review → rework → handle → proof → review) adds its tasks below the last round's; the finished
rounds are pruned from the task tree (app/workflow/history.py) and only their element ids are kept, so the
state the 30th review is stored with is about the size of the first's, and a step on it costs the same."""

from __future__ import annotations

from app.workflow import instances
from tests.factories import create_case
from tests.helpers import complete, handle_and_prove, instance, open_ids

ROUNDS = 30


def _review_state_size(key: str) -> int:
    row = instance(key)
    assert "review" in open_ids(key)
    return len(row.state)


def test_thirty_rework_rounds_do_not_grow_the_stored_state(app, client, auth, users, deployed, clock):
    key = create_case(client, auth, "review")
    sizes = [_review_state_size(key)]
    for number in range(ROUNDS):
        complete(
            client,
            auth,
            "supervisor",
            key,
            "review",
            {"review_decision": "reject", "review_comment": f"第{number + 1}次返工"},
        )
        handle_and_prove(client, auth, "worker", key, f"第{number + 1}次处置")
        sizes.append(_review_state_size(key))
    print(f"\nstored state at each review (bytes): {sizes}")
    first, thirtieth = sizes[0], sizes[ROUNDS]  # the first review, and the review after the 30th rework
    assert thirtieth <= 1.5 * first, sizes
    assert max(sizes) <= 1.5 * first, sizes  # bounded all the way, not only at the end
    assert max(sizes[-10:]) <= 1.01 * min(sizes[-10:]), sizes  # flat: no growth per round at all

    # the pruned history still highlights the diagram and the case closes as the diagram says
    highlighted = instances.instance_state(instance(key))
    assert {"triage", "dispatch", "handle", "photo_proof"} <= set(highlighted["completed_element_ids"])
    assert highlighted["active_element_ids"] == ["review"]
    step = complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert step["case_status"] == "closed"
    assert instance(key).status == "completed"
