"""Parallel runs (pytest-xdist): the resources each worker derives from the base URLs never collide with each
other nor with a plain run on the base URLs."""

from __future__ import annotations

import pytest

from tests.conftest import worker_postgres_url, worker_redis_url

BASE_PG = "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_test?connect_timeout=5"


def test_a_plain_run_keeps_the_base_urls():
    assert worker_postgres_url(BASE_PG, None) == BASE_PG
    assert worker_redis_url("redis://127.0.0.1:6379/15", None) == "redis://127.0.0.1:6379/15"


def test_each_worker_has_its_own_postgres_database_on_the_same_server():
    assert worker_postgres_url(BASE_PG, "gw0") == (
        "postgresql://gridcase:gridcase@127.0.0.1:5432/gridcase_test_gw0?connect_timeout=5"
    )
    assert worker_postgres_url(BASE_PG, "gw3").split("?")[0].endswith("/gridcase_test_gw3")


def test_redis_dbs_count_down_from_the_base_and_wrap_past_zero():
    dbs = [worker_redis_url("redis://127.0.0.1:6379/15", f"gw{i}") for i in range(4)]
    assert dbs == [f"redis://127.0.0.1:6379/{n}" for n in (14, 13, 12, 11)]
    assert worker_redis_url("redis://127.0.0.1:6379/1", "gw1") == "redis://127.0.0.1:6379/15"
    assert worker_redis_url("redis://127.0.0.1:6379", "gw0") == "redis://127.0.0.1:6379/15"  # no db: 0


def test_named_redis_dbs_replace_the_derived_ones():
    assert worker_redis_url("redis://127.0.0.1:6379/6", "gw1", "9,10,11") == "redis://127.0.0.1:6379/10"
    with pytest.raises(RuntimeError, match="none for gw3"):
        worker_redis_url("redis://127.0.0.1:6379/6", "gw3", "9,10,11")


def test_a_worker_never_shares_the_base_redis_db():
    with pytest.raises(RuntimeError, match="base db 6"):
        worker_redis_url("redis://127.0.0.1:6379/6", "gw15")  # 16 dbs: the 16th worker would wrap to it
    with pytest.raises(RuntimeError, match="base db 6"):
        worker_redis_url("redis://127.0.0.1:6379/6", "gw0", "6,7")
