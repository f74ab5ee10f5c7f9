"""app.runtime: the app's parts, typed, with a clear error where there is no app; the engine's clock is the
current app's, per app, with no process-wide setting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from app import runtime
from app.clock import FrozenClock
from app.workflow.engine import SCRIPT_ENGINE


def test_outside_an_app_context_the_error_says_so() -> None:
    with pytest.raises(runtime.RuntimeUnavailable, match=r"gridcase settings: no app context"):
        runtime.settings()


def test_an_app_not_made_by_create_app_has_none() -> None:
    with (
        Flask("bare").app_context(),
        pytest.raises(runtime.RuntimeUnavailable, match=r"gridcase clock: .*create_app"),
    ):
        runtime.clock()


def test_swap_clock_returns_the_previous_one() -> None:
    app = Flask("bare")
    first, second = FrozenClock(), FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    app.extensions["gridcase.clock"] = first
    assert runtime.swap_clock(app, second) is first
    assert runtime.clock(app) is second


def test_scripts_read_the_clock_of_the_app_they_run_in() -> None:
    early, late = Flask("early"), Flask("late")
    early.extensions["gridcase.clock"] = FrozenClock(datetime(2026, 11, 2, 9, tzinfo=UTC))
    late.extensions["gridcase.clock"] = FrozenClock(datetime(2030, 1, 1, 8, tzinfo=UTC))
    with late.app_context():
        assert SCRIPT_ENGINE.environment.evaluate("now()", {}) == "2030-01-01T08:00:00+00:00"
        with early.app_context():
            assert SCRIPT_ENGINE.environment.evaluate("now()", {}) == "2026-11-02T09:00:00+00:00"
        assert SCRIPT_ENGINE.environment.evaluate("now()", {}) == "2030-01-01T08:00:00+00:00"
