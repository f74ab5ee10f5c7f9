"""Jobs are named by their function: the import path RQ stores comes from the function itself."""

from __future__ import annotations

import pytest

from app.cases.jobs import make_thumbnail
from app.devices.case_opening import open_case_job
from app.jobs import ENGINE_QUEUE, PHOTOS_QUEUE, QUEUES, job_path


def test_a_job_path_is_the_functions_own_import_path():
    assert job_path(make_thumbnail) == "app.cases.jobs.make_thumbnail"
    assert job_path(open_case_job) == "app.devices.case_opening.open_case_job"


def test_only_a_module_level_function_can_be_a_job():
    def nested() -> None:
        return None

    for func in (nested, lambda: None, str.upper):
        with pytest.raises(ValueError, match="module-level function"):
            job_path(func)


def test_the_queues_are_declared_once():
    assert QUEUES == {"engine": ENGINE_QUEUE, "photos": PHOTOS_QUEUE}
    assert (ENGINE_QUEUE.timeout_seconds, PHOTOS_QUEUE.timeout_seconds) == (120, 60)
