"""The photo-proof check (app/cases/photo_check.py): distance from the case, time against the handling
window, and the flags, on JPEGs carrying real EXIF (read back by the upload's own EXIF reader)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.cases import photo_check
from app.cases.models import Attachment
from app.cases.photos import inspect_image
from app.geodesy import distance_meters
from tests.cases.exif import camera_jpeg

CASE = (30.7589, 103.9718)
DISPATCHED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
COMPLETED = DISPATCHED + timedelta(hours=2)
WINDOW = photo_check.Window(DISPATCHED, COMPLETED)
LIMITS = photo_check.Limits(max_distance_meters=300, early_minutes=30)


def _photo(data: bytes) -> Attachment:
    info = inspect_image(data, 10 * 1024 * 1024)
    return Attachment(id=1, taken_at=info.taken_at, gps_lat=info.gps_lat, gps_lon=info.gps_lon)


def test_distance_matches_known_distances():
    # one degree of latitude is ~111.2 km; Tianfu Square to Pidu's Wangcong shrine is ~23.4 km
    assert distance_meters(30.0, 104.0, 31.0, 104.0) == pytest.approx(111_195, rel=1e-3)
    tianfu, wangcong = (30.6570, 104.0657), (30.8120, 103.8960)
    assert distance_meters(*tianfu, *wangcong) == pytest.approx(23_400, rel=0.02)
    assert distance_meters(*CASE, *CASE) == 0


def test_a_photo_taken_on_the_spot_during_handling_passes():
    check = photo_check.check_photo(
        _photo(camera_jpeg(DISPATCHED + timedelta(minutes=40), (30.7592, 103.9720))), CASE, WINDOW, LIMITS
    )
    assert check.flags == () and check.passed
    assert check.distance_meters == pytest.approx(38, abs=3)
    assert check.since_dispatch == timedelta(minutes=40)
    assert check.taken_at == DISPATCHED + timedelta(minutes=40)


def test_a_photo_taken_far_away_is_flagged_with_its_distance():
    check = photo_check.check_photo(
        _photo(camera_jpeg(DISPATCHED + timedelta(minutes=10), (30.7697, 103.9718))), CASE, WINDOW, LIMITS
    )
    assert check.flags == (photo_check.FAR,)
    assert check.distance_meters == pytest.approx(1200, rel=0.01)


def test_a_photo_taken_before_the_dispatch_is_flagged_beyond_the_slack():
    slack = photo_check.check_photo(
        _photo(camera_jpeg(DISPATCHED - timedelta(minutes=29), CASE)), CASE, WINDOW, LIMITS
    )
    assert slack.flags == ()  # a phone clock a little off is not a finding
    early = photo_check.check_photo(
        _photo(camera_jpeg(DISPATCHED - timedelta(days=2), CASE)), CASE, WINDOW, LIMITS
    )
    assert early.flags == (photo_check.EARLY,)
    assert early.since_dispatch == -timedelta(days=2)


def test_a_photo_taken_after_completion_is_flagged():
    check = photo_check.check_photo(
        _photo(camera_jpeg(COMPLETED + timedelta(hours=3), CASE)), CASE, WINDOW, LIMITS
    )
    assert check.flags == (photo_check.LATE,)
    open_window = photo_check.Window(DISPATCHED, None)  # proof not sent yet: no end to be late for
    assert (
        photo_check.check_photo(
            _photo(camera_jpeg(COMPLETED + timedelta(hours=3), CASE)), CASE, open_window, LIMITS
        ).flags
        == ()
    )


def test_a_photo_without_exif_has_no_time_and_no_place():
    check = photo_check.check_photo(_photo(camera_jpeg()), CASE, WINDOW, LIMITS)
    assert check.flags == (photo_check.NO_PLACE, photo_check.NO_TIME)
    assert check.distance_meters is None and check.since_dispatch is None and check.taken_at is None


def test_a_case_without_location_gives_no_distance_and_no_far_flag():
    check = photo_check.check_photo(
        _photo(camera_jpeg(DISPATCHED + timedelta(minutes=5), (31.5, 104.5))), None, WINDOW, LIMITS
    )
    assert check.distance_meters is None and check.flags == ()


def test_the_limits_come_from_the_settings(make_app):
    app = make_app(photo_check_max_distance_meters=50.0, photo_check_early_minutes=0)
    with app.app_context():
        assert photo_check.configured_limits() == photo_check.Limits(50.0, 0)
