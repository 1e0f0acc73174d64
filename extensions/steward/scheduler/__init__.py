"""The scheduler: fit tasks into free calendar time, reschedule what slipped, and a daily plan."""
