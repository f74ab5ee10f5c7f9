"""The OpenAPI document is written by its first reader (app/extensions.py ``GridcaseApi``): readers that
arrive together all get the whole document, written once; a second app writes its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def test_first_readers_at_once_get_one_whole_document(make_app):
    app = make_app("sqlite")
    clients = [app.test_client() for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda client: client.get("/api/v1/openapi.json"), clients))
    assert [answer.status_code for answer in answers] == [200] * 4
    bodies = [answer.get_data() for answer in answers]
    assert bodies.count(bodies[0]) == 4  # byte for byte: nobody saw it half-written, nothing written twice
    document = answers[0].get_json()
    expected = {"/api/v1/tokens", "/api/v1/cases", "/api/v1/tasks/{task_id}/complete"}
    assert expected <= set(document["paths"])
    assert len(document["tags"]) == len({tag["name"] for tag in document["tags"]})


def test_a_new_app_gets_a_document_of_its_own_routes(make_app):
    first = make_app("sqlite").test_client().get("/api/v1/openapi.json").get_json()
    second = make_app("sqlite").test_client().get("/api/v1/openapi.json").get_json()
    assert second == first  # the same code documents the same API; the first app's entries are not doubled
