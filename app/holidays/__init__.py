"""The holiday schedule file (HOLIDAY_SCHEDULE_FILE) as the admin pages edit it: one year at a time."""
