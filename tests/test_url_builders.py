"""The suite's shared URL builders (tests/url_builders.py) are the code werkzeug would compile for each rule
of a new app, bound to that app's own rules."""

from __future__ import annotations

from tests import url_builders


def _code(function):
    code = function.__code__
    return code.co_code, code.co_consts, code.co_varnames, code.co_names, function.__defaults__


def test_every_rule_of_a_second_app_builds_with_the_code_werkzeug_compiles_for_it(make_app):
    make_app("sqlite")  # the first app fills the cache
    app = make_app("sqlite")
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100
    for rule in rules:
        for append_unknown, bound in ((False, rule._build), (True, rule._build_unknown)):
            assert bound.__self__ is rule
            assert _code(bound.__func__) == _code(url_builders._compile(rule, append_unknown)), rule.rule


def test_a_second_app_builds_urls_with_its_converters_and_query_arguments(make_app):
    make_app("sqlite")
    adapter = make_app("sqlite").url_map.bind("localhost")
    [endpoint] = [r.endpoint for r in adapter.map.iter_rules() if r.rule == "/api/v1/tasks/<int:task_id>"]
    assert (
        adapter.build(endpoint, {"task_id": 7, "q": "积水 a&b"})
        == "/api/v1/tasks/7?q=%E7%A7%AF%E6%B0%B4+a%26b"
    )
