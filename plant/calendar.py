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


def _first_worked_day_of_period(day: date, site: SiteSpec) -> bool:
    """Planned maintenance falls on the first worked day of each `maintenance_every_days`
    period (periods counted from a Monday; with 7, the first shift of the week). Not on a fixed
    ordinal: with 7 days that would always be the same weekday — a weekend day at every site."""
    every = max(site.maintenance_every_days, 1)
    first = day - timedelta(days=(day.toordinal() - 1) % every)  # date(1, 1, 1) is a Monday
    worked = (first + timedelta(days=i) for i in range(every))
    return next((d for d in worked if d.weekday() not in site.weekend), None) == day


def site_shifts(site: SiteSpec, start_s: int, end_s: int) -> list[Shift]:
    """Every shift of `site` that starts in [start_s, end_s), in time order."""
    tz = ZoneInfo(site.timezone)
    first = datetime.fromtimestamp(start_s, UTC).astimezone(tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_s, UTC).astimezone(tz).date()
    shifts = []
    day = first
    while day <= last:
        if day.weekday() not in site.weekend:
            maintenance_day = _first_worked_day_of_period(day, site)
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
