from tests.helpers import case, complete, report, upload_photo


def test_whole_loop_smoke(client, auth, users, deployed):
    created = report(client, auth)
    key = created["key"]
    assert created["status"] == "triage"
    complete(client, auth, "dispatcher", key, "triage", {"triage_decision": "accept"})
    complete(client, auth, "dispatcher", key, "dispatch", {"handler_user": "worker", "time_limit_hours": 24})
    complete(
        client, auth, "worker", key, "handle", {"handle_result": "resolved", "handle_description": "已清理"}
    )
    photo = upload_photo(client, auth, "worker", key)
    complete(client, auth, "worker", key, "photo_proof", {"after_photos": [photo["id"]]})
    complete(client, auth, "supervisor", key, "review", {"review_decision": "approve"})
    assert case(client, auth, key)["status"] == "closed"
