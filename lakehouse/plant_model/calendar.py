"""A site calendar of the plant model expanded to shifts and planned-downtime windows in UTC.

Shifts are worked on the calendar's workdays (or a shift's own days), not on holidays; a shift
ends at its local wall-clock end, so a night across a daylight-saving change lasts 7 or 9 hours.
Breaks and planned maintenance become windows clipped to the shift they fall in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from lakehouse.plant_model.schema import WEEKDAYS, PlantModel, Site


@dataclass(frozen=True)
class PlannedShift:
    site: str
    shift_id: str
    shift_name: str
    local_date: date
    start_time: datetime  # UTC, naive
    end_time: datetime


@dataclass(frozen=True)
class PlannedWindow:
    """Planned downtime inside one shift: a break or planned maintenance."""

    site: str
    shift_id: str
    equipment_id: str | None  # None: every equipment of the site
    kind: str  # break | planned_maintenance
    name: str
    start_time: datetime  # UTC, naive
    end_time: datetime


def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def site_shifts(site: Site, first: date, last: date) -> list[PlannedShift]:
    """Every shift of `site` whose local date is in [first, last]."""
    cal = site.calendar
    if cal is None:
        return []
    tz = ZoneInfo(site.timezone)
    holidays = set(cal.holidays)
    out = []
    day = first
    while day <= last:
        weekday = WEEKDAYS[day.weekday()]
        for spec in cal.shifts:
            days = spec.days or cal.workdays
            if weekday not in days or day in holidays:
                continue
            local_start = datetime.combine(day, spec.start)
            local_end = local_start + timedelta(minutes=spec.minutes)
            out.append(
                PlannedShift(
                    site.name,
                    f"{site.name}-{day.isoformat()}-{spec.name}",
                    spec.name,
                    day,
                    _utc(local_start, tz),
                    _utc(local_end, tz),
                )
            )
        day += timedelta(days=1)
    return sorted(out, key=lambda s: s.start_time)


def _clip(a: datetime, b: datetime, shift: PlannedShift) -> tuple[datetime, datetime] | None:
    s, e = max(a, shift.start_time), min(b, shift.end_time)
    return (s, e) if s < e else None


def site_windows(
    site: Site, shifts: list[PlannedShift], equipment_ids: dict[str, str]
) -> list[PlannedWindow]:
    """Breaks and planned maintenance of `site` inside its `shifts`.

    `equipment_ids` maps the names and ids a maintenance window may use to equipment ids.
    Windows of one kind that overlap inside a shift are merged, so no minute counts twice.
    """
    cal = site.calendar
    if cal is None:
        return []
    tz = ZoneInfo(site.timezone)
    out: list[PlannedWindow] = []
    for sh in shifts:
        for b in cal.breaks:
            if b.shifts is not None and sh.shift_name not in b.shifts:
                continue
            for offset in (0, 1):  # a night shift's break may fall on the next local day
                local = datetime.combine(sh.local_date + timedelta(days=offset), b.start)
                start = _utc(local, tz)
                span = _clip(start, start + timedelta(minutes=b.minutes), sh)
                if span and start >= sh.start_time:
                    out.append(PlannedWindow(site.name, sh.shift_id, None, "break", b.name, *span))
                    break
        for w in cal.planned_maintenance:
            span = _clip(_utc(w.start, tz), _utc(w.end, tz), sh)
            if span is None:
                continue
            targets = [None] if not w.equipment else [equipment_ids[e] for e in w.equipment]
            for eq in targets:
                out.append(
                    PlannedWindow(site.name, sh.shift_id, eq, "planned_maintenance", w.name, *span)
                )
    return _merged(out)


def _merged(windows: list[PlannedWindow]) -> list[PlannedWindow]:
    key = lambda w: (w.shift_id, w.equipment_id or "", w.kind)  # noqa: E731
    out: list[PlannedWindow] = []
    for w in sorted(windows, key=lambda w: (*key(w), w.start_time)):
        last = out[-1] if out else None
        if last is not None and key(last) == key(w) and w.start_time <= last.end_time:
            out[-1] = PlannedWindow(
                *(getattr(last, f) for f in ("site", "shift_id", "equipment_id", "kind", "name")),
                last.start_time,
                max(last.end_time, w.end_time),
            )
        else:
            out.append(w)
    return out


def model_calendar(
    model: PlantModel, first: date, last: date
) -> tuple[list[PlannedShift], list[PlannedWindow]]:
    """Every site's shifts with local dates in [first, last], and their planned windows."""
    shifts: list[PlannedShift] = []
    windows: list[PlannedWindow] = []
    declared = model.equipment()
    for site in model.sites:
        ids: dict[str, str] = {}
        for e in declared:
            if e.site.name == site.name:
                ids[e.spec.name] = ids[e.equipment_id] = e.equipment_id
        s = site_shifts(site, first, last)
        shifts += s
        windows += site_windows(site, s, ids)
    return shifts, windows
