"""Calendar arithmetic of wastewater series: periods, the EUDA weekday/weekend split, means that skip missing
days, and the year-on-year label (wbe.md §1.5).

A sample is labelled by the day its 24-hour composite ends (the Monday sample holds Sunday night). The
weekday/weekend split is configuration: EUDA/SCORE use weekday = Tuesday–Thursday and weekend = Friday–Monday,
except in the 2021 campaign (weekday Tuesday–Friday, weekend Saturday–Monday), which is why it is a value and
not a constant. Days without data are skipped, never counted as zero.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Python's weekday numbers (Monday = 0).
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)


@dataclass(frozen=True)
class DaySplit:
    """Which days of the week (by the day a composite ends) count as "weekday" and which as "weekend"."""

    weekday: frozenset[int]
    weekend: frozenset[int]

    def __post_init__(self) -> None:
        if not self.weekday or not self.weekend or self.weekday & self.weekend:
            raise ValueError("weekday and weekend days must be non-empty and disjoint")
        if not (self.weekday | self.weekend) <= set(range(7)):
            raise ValueError("days are numbered 0 (Monday) to 6 (Sunday)")

    @classmethod
    def from_days(cls, weekday: Iterable[int], weekend: Iterable[int]) -> DaySplit:
        return cls(frozenset(int(day) for day in weekday), frozenset(int(day) for day in weekend))


EUDA_SPLIT = DaySplit.from_days([TUESDAY, WEDNESDAY, THURSDAY], [FRIDAY, SATURDAY, SUNDAY, MONDAY])
EUDA_2021_SPLIT = DaySplit.from_days([TUESDAY, WEDNESDAY, THURSDAY, FRIDAY], [SATURDAY, SUNDAY, MONDAY])


def mean_of(values: Iterable[float | None]) -> float | None:
    """Mean of the values present (None = no data, skipped); None when there are none."""
    present = [value for value in values if value is not None]
    return math.fsum(present) / len(present) if present else None


@dataclass(frozen=True)
class WeekMeans:
    daily: float | None
    weekday: float | None
    weekend: float | None


def week_means(by_weekday: Mapping[int, float | None], split: DaySplit = EUDA_SPLIT) -> WeekMeans:
    """The daily, weekday and weekend means of one sampling week given as weekday → value (EUDA's columns)."""
    return WeekMeans(
        daily=mean_of(by_weekday.get(day) for day in range(7)),
        weekday=mean_of(by_weekday.get(day) for day in sorted(split.weekday)),
        weekend=mean_of(by_weekday.get(day) for day in sorted(split.weekend)),
    )


# --- Periods ---------------------------------------------------------------------------------------------------


class PeriodKind:
    DAY = "day"
    WEEK = "week"  # ISO week, Monday to Sunday (by end date)
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ALL = (DAY, WEEK, MONTH, QUARTER, YEAR)


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period: first and last day (inclusive) and its label (2025-03-04, 2025-W10, 2025-03, 2025Q1,
    2025)."""

    start: dt.date
    end: dt.date
    label: str
    kind: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous_year(self) -> Period:
        """The same period one year earlier (ISO week N of the previous year for weeks)."""
        if self.kind == PeriodKind.WEEK:
            year, week, _ = self.start.isocalendar()
            week = min(week, dt.date(year - 1, 12, 28).isocalendar()[1])
            return period_of(dt.date.fromisocalendar(year - 1, week, 1), PeriodKind.WEEK)
        if self.kind == PeriodKind.DAY:
            try:
                return period_of(self.start.replace(year=self.start.year - 1), PeriodKind.DAY)
            except ValueError:  # 29 February
                return period_of(self.start.replace(year=self.start.year - 1, day=28), PeriodKind.DAY)
        return period_of(self.start.replace(year=self.start.year - 1), self.kind)


def _month_end(year: int, month: int) -> dt.date:
    return (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)


def period_of(day: dt.date, kind: str) -> Period:
    """The period of ``kind`` holding ``day``."""
    if kind == PeriodKind.DAY:
        return Period(day, day, day.isoformat(), kind)
    if kind == PeriodKind.WEEK:
        year, week, weekday = day.isocalendar()
        start = day - dt.timedelta(days=weekday - 1)
        return Period(start, start + dt.timedelta(days=6), f"{year}-W{week:02d}", kind)
    if kind == PeriodKind.MONTH:
        return Period(day.replace(day=1), _month_end(day.year, day.month), f"{day:%Y-%m}", kind)
    if kind == PeriodKind.QUARTER:
        quarter = (day.month - 1) // 3 + 1
        first_month = 3 * (quarter - 1) + 1
        return Period(
            dt.date(day.year, first_month, 1),
            _month_end(day.year, first_month + 2),
            f"{day.year}Q{quarter}",
            kind,
        )
    if kind == PeriodKind.YEAR:
        return Period(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), str(day.year), kind)
    raise ValueError(f"unknown period kind {kind!r} (one of {', '.join(PeriodKind.ALL)})")


LABEL_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (PeriodKind.DAY, re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    (PeriodKind.WEEK, re.compile(r"^(\d{4})-W(\d{2})$")),
    (PeriodKind.MONTH, re.compile(r"^(\d{4})-(\d{2})$")),
    (PeriodKind.QUARTER, re.compile(r"^(\d{4})[Qq]([1-4])$")),
    (PeriodKind.YEAR, re.compile(r"^(\d{4})$")),
]


def parse_period(label: str) -> Period:
    """A period from its label (2025-03-04, 2025-W10, 2025-03, 2025Q1 or 2025); ValueError otherwise."""
    text = (label or "").strip()
    for kind, pattern in LABEL_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        numbers = [int(group) for group in match.groups()]
        try:
            if kind == PeriodKind.DAY:
                return period_of(dt.date(*numbers), kind)
            if kind == PeriodKind.WEEK:
                return period_of(dt.date.fromisocalendar(numbers[0], numbers[1], 1), kind)
            if kind == PeriodKind.MONTH:
                return period_of(dt.date(numbers[0], numbers[1], 1), kind)
            if kind == PeriodKind.QUARTER:
                return period_of(dt.date(numbers[0], 3 * numbers[1] - 2, 1), kind)
            return period_of(dt.date(numbers[0], 1, 1), kind)
        except ValueError:
            break
    raise ValueError(f"{label!r} is not a period (2025-03-04, 2025-W10, 2025-03, 2025Q1 or 2025)")


def periods_between(first: dt.date, last: dt.date, kind: str) -> list[Period]:
    """Every period of ``kind`` that overlaps [first, last], in order."""
    periods: list[Period] = []
    day = first
    while day <= last:
        period = period_of(day, kind)
        periods.append(period)
        day = period.end + dt.timedelta(days=1)
    return periods


# --- Year on year ----------------------------------------------------------------------------------------------


class Change:
    INCREASE = "increase"
    DECREASE = "decrease"
    STABLE = "stable"
    NO_PREVIOUS = "no_previous"


@dataclass(frozen=True)
class YearOnYear:
    percent: float | None  # None without a previous value, or when it was 0
    label: str


def year_on_year(current: float, previous: float | None, band_percent: float = 10.0) -> YearOnYear:
    """``(current − previous) / previous × 100`` labelled as EUDA does: "stable" inside ±band (strictly), an
    increase from 0 is an "increase" (infinite change), 0 to 0 is "stable", no previous value "no_previous"."""
    if previous is None:
        return YearOnYear(None, Change.NO_PREVIOUS)
    if previous == 0:
        return YearOnYear(None, Change.INCREASE if current > 0 else Change.STABLE)
    percent = (current - previous) / previous * 100.0
    if percent >= band_percent:
        label = Change.INCREASE
    elif percent <= -band_percent:
        label = Change.DECREASE
    else:
        label = Change.STABLE
    return YearOnYear(percent, label)
