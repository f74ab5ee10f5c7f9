"""Case time limits counted in working time on the Chinese calendar.

Limits such as "exposed garbage cleared within 4 working hours" or "illegal structure removed within 20
working days" cannot be computed with a plain ``timedelta``: China has public holidays, make-up working days
(调休) on weekends, and a lunch break inside the working day. :mod:`app.timelimits.calendar` turns a start
time, a limit and a severity into a :class:`~app.timelimits.calendar.Deadline`. Pure Python, no Flask or
database imports, so workers, the web app and tests can all use it.
"""
