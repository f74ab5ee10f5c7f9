"""The automatic check of photo proof: was each photo taken where the case is, and while it was being handled?

Each photo's EXIF capture time and GPS position are read from the stored original once, at upload
(``app.cases.photos.inspect_image`` → ``Attachment.taken_at``/``gps_lat``/``gps_lon``; staff keep the original
with its EXIF). The check itself is computed on read, not stored: its other inputs change after the upload
(the completion that closes the time window comes after the photo, a rework opens a new window, a case's
location can be corrected, the limits are settings), and it is a few arithmetic operations per photo.

Flags: ``far`` (taken more than ``PHOTO_CHECK_MAX_DISTANCE_METERS`` from the case's location), ``early``
(taken before the dispatch, beyond ``PHOTO_CHECK_EARLY_MINUTES`` of slack for clocks that drift), ``late``
(taken after the handling task was completed, beyond the same slack), ``no_time`` and ``no_place`` (no EXIF
capture time or position: a screenshot, a picture sent through a chat app, or a camera with location off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app import runtime
from app.cases.models import Attachment, Case
from app.clock import as_utc
from app.extensions import db
from app.geodesy import distance_meters
from app.workflow.models import HumanTask, TaskStatus

FAR, EARLY, LATE, NO_TIME, NO_PLACE = "far", "early", "late", "no_time", "no_place"
# The tasks whose completion ends the handler's window: proof sent (or, before it, the handling itself).
WINDOW_END_ELEMENTS = ("photo_proof",)


@dataclass(frozen=True)
class Limits:
    max_distance_meters: float
    early_minutes: int


@dataclass(frozen=True)
class Window:
    """When the handler worked on the case: from the dispatch to the completion of the proof (None: open)."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class PhotoCheck:
    attachment_id: int
    taken_at: datetime | None
    distance_meters: float | None  # from the case's location; None without EXIF GPS or case location
    since_dispatch: timedelta | None  # capture time minus dispatch time: negative when taken before
    flags: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.flags




def check_photo(
    attachment: Attachment, place: tuple[float, float] | None, window: Window, limits: Limits
) -> PhotoCheck:
    """The check of one photo against the case's ``place`` (lat, lon) and the handler's ``window``."""
    flags: list[str] = []
    taken_at = as_utc(attachment.taken_at) if attachment.taken_at is not None else None
    distance: float | None = None
    if attachment.gps_lat is None or attachment.gps_lon is None:
        flags.append(NO_PLACE)
    elif place is not None:
        distance = distance_meters(place[0], place[1], attachment.gps_lat, attachment.gps_lon)
        if distance > limits.max_distance_meters:
            flags.append(FAR)
    since: timedelta | None = None
    if taken_at is None:
        flags.append(NO_TIME)
    else:
        slack = timedelta(minutes=limits.early_minutes)
        if window.start is not None:
            since = taken_at - window.start
            if since < -slack:
                flags.append(EARLY)
        if window.end is not None and taken_at > window.end + slack:
            flags.append(LATE)
    return PhotoCheck(attachment.id, taken_at, distance, since, tuple(flags))


def configured_limits() -> Limits:
    settings = runtime.settings()
    return Limits(settings.photo_check_max_distance_meters, settings.photo_check_early_minutes)


def handling_window(case: Case) -> Window:
    """From the dispatch to the latest completed proof (after a rework, the proof of the new round)."""
    end = db.session.execute(
        select(HumanTask.completed_at)
        .where(
            HumanTask.case_id == case.id,
            HumanTask.element_id.in_(WINDOW_END_ELEMENTS),
            HumanTask.status == TaskStatus.COMPLETED,
        )
        .order_by(HumanTask.completed_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return Window(
        as_utc(case.dispatched_at) if case.dispatched_at else None, as_utc(end) if end is not None else None
    )


def check_case_photos(case: Case, photos: list[Attachment]) -> dict[int, PhotoCheck]:
    """The checks of ``photos`` (of ``case``), by attachment id."""
    place = (case.lat, case.lon) if case.lat is not None and case.lon is not None else None
    window, limits = handling_window(case), configured_limits()
    return {photo.id: check_photo(photo, place, window, limits) for photo in photos}
