"""Chronos: distributed cron with ISO 8601 schedules, job dependencies, retries and cron jobs."""
