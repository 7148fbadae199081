"""Shift calendars: each site's shifts in its own time zone, with breaks and maintenance.

Shift ends are taken in local wall-clock time, so the night shift of a daylight-saving change
lasts 7 or 9 hours of real time, as it does on the shop floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from plant.config import SiteSpec


@dataclass(frozen=True)
class Shift:
    """One worked shift of one site; times are UTC epoch seconds."""

    site: str
    shift_id: str  # e.g. berlin-2026-03-02-early
    name: str
    local_date: date
    start_s: int
    end_s: int
    break_start_s: int
    break_end_s: int
    maintenance_end_s: int  # == start_s when the shift has no planned maintenance

    @property
    def planned_s(self) -> int:
        return self.end_s - self.start_s


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def site_shifts(site: SiteSpec, start_s: int, end_s: int) -> list[Shift]:
    """Every shift of `site` that starts in [start_s, end_s), in time order."""
    tz = ZoneInfo(site.timezone)
    first = datetime.fromtimestamp(start_s, UTC).astimezone(tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_s, UTC).astimezone(tz).date()
    shifts = []
    day = first
    while day <= last:
        if day.weekday() not in site.weekend:
            maintenance_day = (day.toordinal() % max(site.maintenance_every_days, 1)) == 0
            for i, spec in enumerate(site.shifts):
                local_start = datetime.combine(day, spec.start)
                wall_end = local_start + timedelta(hours=spec.hours)
                s = _epoch(local_start.replace(tzinfo=tz))
                e = _epoch(wall_end.replace(tzinfo=tz))
                if not start_s <= s < end_s:
                    continue
                mid = s + (e - s) // 2
                brk = site.break_minutes * 60
                maint = site.maintenance_minutes * 60 if maintenance_day and i == 0 else 0
                shifts.append(
                    Shift(
                        site.name,
                        f"{site.name}-{day.isoformat()}-{spec.name}",
                        spec.name,
                        day,
                        s,
                        e,
                        mid - brk // 2,
                        mid - brk // 2 + brk,
                        s + maint,
                    )
                )
        day += timedelta(days=1)
    return sorted(shifts, key=lambda sh: sh.start_s)
