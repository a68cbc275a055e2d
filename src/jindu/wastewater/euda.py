"""The EUDA/SCORE European multi-city study as an international comparison set (``jindu wastewater import-euda``),
and the figures the comparison page draws from it (docs/wastewater.md §7.6, wbe.md §1.5 and §5.2).

The four files of a release (here the 2025 release, 2011–2024 data, in ``data/euda_ww2025``):

* ``ww2025-site-info-table.csv`` → ``ReferenceSite`` (site id, city, coordinates, population, institution);
* ``ww2025-all-data.csv`` → ``ReferenceWeek``: per site, metabolite and year the daily values Wednesday to Tuesday
  (stored by Python weekday number, Monday = 0) and the published weekday, weekend and daily means. EUDA writes a
  value below the quantification limit as 0: such a day is listed in ``below_loq_days`` and its value stored as null,
  so that it never enters a mean as a number; an empty cell is no data (null, not listed). The published means are
  kept as published;
* ``ww2025-changes-all-substances.csv`` → ``ReferenceChange`` (year-on-year change and EUDA's label);
* ``ww2025-aggregated-trends.csv`` → ``ReferenceTrend`` (EUDA's aggregate series per metabolite and year).

EUDA's metabolites map to the catalogue's analytes: MDMA → MDMA, methamphetamine → METH, amphetamine → AMP,
cocaine → BE (EUDA reports benzoylecgonine as "cocaine"), ketamine → KET, cannabis → THCCOOH. Values are
uncorrected residue loads (mg/day/1000 inhabitants), the same quantity as this platform's load per 1000.

The load reads every file first and stores nothing if any line is malformed (each problem names the file and
line); then it writes in one transaction, creating what is new and updating what changed, so that running it
twice changes nothing. Sites of the data file missing from the site table are created from the changes file's
columns, or with code, country and city only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils.translation import gettext as _

from jindu.core.audit import audit_write
from jindu.core.errors import Forbidden, ServiceError
from jindu.core.models import AuditAction
from jindu.wastewater.models import (
    Analyte,
    AnalyteResult,
    ReferenceChange,
    ReferenceSite,
    ReferenceTrend,
    ReferenceWeek,
    ResultStatus,
)
from jindu.wastewater.periods import EUDA_2021_SPLIT, EUDA_SPLIT, DaySplit, WeekMeans, week_means

SOURCE = "EUDA-2025"
DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "data" / "euda_ww2025"
SITES_FILE = "ww2025-site-info-table.csv"
WEEKS_FILE = "ww2025-all-data.csv"
CHANGES_FILE = "ww2025-changes-all-substances.csv"
TRENDS_FILE = "ww2025-aggregated-trends.csv"
FILES = (SITES_FILE, WEEKS_FILE, CHANGES_FILE, TRENDS_FILE)
# EUDA metabolite → analyte code (EUDA's "cocaine" is benzoylecgonine, "cannabis" THC-COOH).
METABOLITE_ANALYTES = {
    "MDMA": "MDMA",
    "methamphetamine": "METH",
    "amphetamine": "AMP",
    "cocaine": "BE",
    "ketamine": "KET",
    "cannabis": "THCCOOH",
}
# The data file's day columns, Wednesday to Tuesday, and their Python weekday numbers.
DAY_COLUMNS = (
    ("Wednesday", 2),
    ("Thursday", 3),
    ("Friday", 4),
    ("Saturday", 5),
    ("Sunday", 6),
    ("Monday", 0),
    ("Tuesday", 1),
)
MISSING = frozenset({"", "NA", "N/A", "NaN"})
MAX_PROBLEMS = 50


class EudaFilesInvalid(ServiceError):
    """Files missing or malformed: every problem as ``file: line N: message``; nothing was stored."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        super().__init__(
            _("The EUDA files have %(count)s problem(s); nothing was stored.") % {"count": len(problems)},
            code="invalid_euda_files",
            fields={f"problem {number}": problem for number, problem in enumerate(shown, start=1)},
        )
        self.problems = shown
        self.total = len(problems)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class EudaReport:
    """What a load did, per kind of row, and the sites the site table lacked."""

    sites: Counts = field(default_factory=Counts)
    weeks: Counts = field(default_factory=Counts)
    changes: Counts = field(default_factory=Counts)
    trends: Counts = field(default_factory=Counts)
    sites_without_info: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.sites.changed + self.weeks.changed + self.changes.changed + self.trends.changed


# --- Reading ---------------------------------------------------------------------------------------------------


class _File:
    """One CSV file read as dictionaries, with the problems found in it (``file: line N: message``)."""

    def __init__(self, directory: Path, name: str, required: Iterable[str], problems: list[str]) -> None:
        self.name = name
        self.problems = problems
        self.rows: list[tuple[int, dict[str, str]]] = []
        path = directory / name
        if not path.is_file():
            problems.append(f"{path}: no such file")
            return
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            problems.append(f"{name}: not UTF-8 text")
            return
        reader = csv.DictReader(io.StringIO(text))
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            problems.append(f"{name}: line 1: missing column(s) {', '.join(missing)}")
            return
        for row in reader:
            if None in row:
                self.problem(reader.line_num, "more cells than the header has columns")
                continue
            if any(value is None for value in row.values()):
                self.problem(reader.line_num, "fewer cells than the header has columns")
                continue
            self.rows.append((reader.line_num, {key: value.strip() for key, value in row.items()}))

    def problem(self, line: int, message: str) -> None:
        self.problems.append(f"{self.name}: line {line}: {message}")

    def number(self, line: int, column: str, text: str, *, required: bool = False) -> float | None:
        if text in MISSING:
            if required:
                self.problem(line, f"{column}: a number is required")
            return None
        try:
            value = float(text)
        except ValueError:
            self.problem(line, f"{column}: {text!r} is not a number")
            return None
        if not math.isfinite(value):
            self.problem(line, f"{column}: {text!r} is not a number")
            return None
        return value

    def year(self, line: int, column: str, text: str, *, required: bool = True) -> int | None:
        if text in MISSING and not required:
            return None
        if not text.isdigit() or not 2000 <= int(text) <= 2100:
            self.problem(line, f"{column}: {text!r} is not a year")
            return None
        return int(text)


def _site_values(
    source: _File, line: int, row: dict[str, str], columns: dict[str, str]
) -> dict[str, Any] | None:
    """ReferenceSite fields from a row (``columns`` maps field → the file's column name)."""
    code = row[columns["code"]]
    if not code:
        source.problem(line, f"{columns['code']}: a site id is required")
        return None
    population = source.number(line, columns["population"], row.get(columns["population"], ""))
    if population is not None and population < 0:
        source.problem(line, f"{columns['population']}: {population} is negative")
        population = None
    values: dict[str, Any] = {
        "code": code[:32],
        "country": row.get(columns["country"], "")[:8],
        "city": row.get(columns["city"], "")[:100],
        "location": row.get(columns.get("location", ""), "")[:200],
        "latitude": source.number(line, columns["latitude"], row.get(columns["latitude"], "")),
        "longitude": source.number(line, columns["longitude"], row.get(columns["longitude"], "")),
        "population": round(population) if population is not None else None,
        "institution": row.get(columns.get("institution", ""), "")[:200],
    }
    if values["location"] in MISSING:
        values["location"] = ""
    if values["institution"] in MISSING:
        values["institution"] = ""
    return values


SITE_COLUMNS = {
    "code": "SiteID",
    "country": "Country",
    "city": "City",
    "location": "Location",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "population": "Population",
    "institution": "Institution",
}
CHANGE_SITE_COLUMNS = {
    "code": "SiteID",
    "country": "country",
    "city": "city",
    "location": "location",
    "latitude": "latitude",
    "longitude": "longitude",
    "population": "population",
    "institution": "institution",
}
WEEK_COLUMNS = ("Year", "Metabolite", "Site ID", "Country", "City", *(day for day, _number in DAY_COLUMNS))
MEAN_COLUMNS = ("Weekday mean", "Weekend mean", "Daily mean")
CHANGE_COLUMNS = (
    "country",
    "city",
    "metabolite",
    "value_current",
    "value_previous",
    "year_current",
    "year_previous",
    "change_percent",
    "change_percent2",
    "SiteID",
    "location",
    "latitude",
    "longitude",
    "population",
    "institution",
)


@dataclass
class EudaData:
    """The four files as model field values, keyed as the models' unique constraints are."""

    sites: dict[str, dict[str, Any]] = field(default_factory=dict)
    weeks: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)
    changes: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    trends: dict[tuple[str, int], float] = field(default_factory=dict)
    sites_without_info: list[str] = field(default_factory=list)


def read_euda(directory: Path) -> EudaData:
    """Read and check the four files; EudaFilesInvalid with every problem (file and line) if any."""
    problems: list[str] = []
    data = EudaData()
    site_file = _File(directory, SITES_FILE, SITE_COLUMNS.values(), problems)
    for line, row in site_file.rows:
        site_values = _site_values(site_file, line, row, SITE_COLUMNS)
        if site_values is None:
            continue
        if site_values["code"] in data.sites:
            site_file.problem(line, f"site {site_values['code']} is listed twice")
            continue
        data.sites[site_values["code"]] = site_values

    week_file = _File(directory, WEEKS_FILE, (*WEEK_COLUMNS, *MEAN_COLUMNS), problems)
    first_line: dict[tuple[str, int, str], int] = {}
    week_sites: dict[str, dict[str, Any]] = {}
    for line, row in week_file.rows:
        year = week_file.year(line, "Year", row["Year"])
        metabolite, code = row["Metabolite"], row["Site ID"]
        if not metabolite or not code:
            week_file.problem(line, "Metabolite and Site ID are required")
            continue
        values: dict[str, float | None] = {}
        below: list[int] = []
        for day, number in DAY_COLUMNS:
            value = week_file.number(line, day, row[day])
            if value is not None and value < 0:
                week_file.problem(line, f"{day}: {value} is negative")
                value = None
            if value == 0:
                below.append(number)  # EUDA's 0: below the quantification limit
                value = None
            values[str(number)] = value
        means = [week_file.number(line, column, row[column]) for column in MEAN_COLUMNS]
        if year is None:
            continue
        key = (code, year, metabolite)
        if key in first_line:
            week_file.problem(line, f"repeats line {first_line[key]} ({code}, {metabolite}, {year})")
            continue
        first_line[key] = line
        data.weeks[key] = {
            "values": {str(number): values[str(number)] for number in range(7)},
            "below_loq_days": sorted(below),
            "analyte_code": METABOLITE_ANALYTES.get(metabolite),
            "published_weekday": means[0],
            "published_weekend": means[1],
            "published_daily": means[2],
        }
        week_sites.setdefault(
            code,
            {
                "code": code[:32],
                "country": row["Country"][:8],
                "city": row["City"][:100],
                "location": "",
                "latitude": None,
                "longitude": None,
                "population": None,
                "institution": "",
            },
        )

    change_file = _File(directory, CHANGES_FILE, CHANGE_COLUMNS, problems)
    change_sites: dict[str, dict[str, Any]] = {}
    for line, row in change_file.rows:
        year = change_file.year(line, "year_current", row["year_current"])
        previous_year = change_file.year(line, "year_previous", row["year_previous"], required=False)
        current = change_file.number(line, "value_current", row["value_current"], required=True)
        previous = change_file.number(line, "value_previous", row["value_previous"])
        # EUDA writes Inf for a change from 0: there is no percentage (periods.year_on_year gives None too).
        infinite = row["change_percent"] in ("Inf", "-Inf") and previous == 0
        percent = None if infinite else change_file.number(line, "change_percent", row["change_percent"])
        label = row["change_percent2"]
        if not label:
            change_file.problem(line, "change_percent2: the label is required")
        site = _site_values(change_file, line, row, CHANGE_SITE_COLUMNS)
        if year is None or current is None or site is None or not label:
            continue
        change_key = (site["code"], row["metabolite"], year)
        if change_key in data.changes:
            change_file.problem(line, f"repeats {site['code']} {row['metabolite']} {year}")
            continue
        change_sites.setdefault(site["code"], site)
        data.changes[change_key] = {
            "year_previous": previous_year,
            "value_current": current,
            "value_previous": previous,
            "change_percent": percent,
            "label": label[:32],
        }

    trend_file = _File(directory, TRENDS_FILE, ("metabolite",), problems)
    for line, row in trend_file.rows:
        for column, text in row.items():
            if column == "metabolite":
                continue
            year = trend_file.year(line, f"column {column}", column)
            value = trend_file.number(line, column, text)
            if year is not None and value is not None:
                data.trends[(row["metabolite"], year)] = value

    if problems:
        raise EudaFilesInvalid(problems)
    # Sites of the data or changes file missing from the site table: from the changes file's columns if it has
    # them, else code, country and city only (no population: the comparison draws them without it).
    for code in sorted(set(week_sites) | set(change_sites)):
        if code not in data.sites:
            data.sites[code] = change_sites.get(code) or week_sites[code]
            data.sites_without_info.append(code)
    return data


# --- Writing -----------------------------------------------------------------------------------------------------


def _sync(
    existing: dict[Any, Any],
    wanted: dict[Any, dict[str, Any]],
    make: Callable[[Any, dict[str, Any]], Any],
    fields: list[str],
    counts: Counts,
) -> tuple[list[Any], list[Any]]:
    """New objects to create and changed ones to update (their fields set), counting both and the unchanged."""
    created, updated = [], []
    for key, values in wanted.items():
        current = existing.get(key)
        if current is None:
            created.append(make(key, values))
            counts.created += 1
            continue
        if any(getattr(current, name) != values[name] for name in fields):
            for name in fields:
                setattr(current, name, values[name])
            updated.append(current)
            counts.updated += 1
        else:
            counts.unchanged += 1
    return created, updated


SITE_FIELDS = ["country", "city", "location", "latitude", "longitude", "population", "institution"]
WEEK_FIELDS = [
    "analyte_id",
    "values",
    "below_loq_days",
    "published_daily",
    "published_weekday",
    "published_weekend",
]
CHANGE_FIELDS = ["year_previous", "value_current", "value_previous", "change_percent", "label"]


def euda_import(*, actor: Any = None, directory: Path | str = DEFAULT_DIRECTORY) -> EudaReport:
    """Load a release of the EUDA files as the comparison set ``EUDA-2025``: everything or nothing, new rows
    created, changed rows updated, nothing else touched (a second run changes nothing and writes no audit
    record). Only the server operator (``actor=None``) loads it."""
    if actor is not None:
        raise Forbidden(
            _("Only the server operator loads the EUDA comparison set (jindu wastewater import-euda).")
        )
    data = read_euda(Path(directory))
    report = EudaReport(sites_without_info=data.sites_without_info)
    analytes = dict(Analyte.objects.values_list("code", "pk"))
    with transaction.atomic():
        sites = {site.code: site for site in ReferenceSite.objects.filter(source=SOURCE)}
        created, updated = _sync(
            sites,
            {code: {name: values[name] for name in SITE_FIELDS} for code, values in data.sites.items()},
            lambda code, values: ReferenceSite(source=SOURCE, code=code, **values),
            SITE_FIELDS,
            report.sites,
        )
        ReferenceSite.objects.bulk_create(created, batch_size=1000)
        if updated:
            ReferenceSite.objects.bulk_update(updated, SITE_FIELDS, batch_size=1000)
        sites = {site.code: site for site in ReferenceSite.objects.filter(source=SOURCE)}

        weeks = {
            (week.site.code, week.year, week.metabolite): week
            for week in ReferenceWeek.objects.filter(site__source=SOURCE).select_related("site")
        }
        wanted_weeks = {
            key: {
                "analyte_id": analytes.get(values["analyte_code"]) if values["analyte_code"] else None,
                **{name: values[name] for name in WEEK_FIELDS if name != "analyte_id"},
            }
            for key, values in data.weeks.items()
        }
        created, updated = _sync(
            weeks,
            wanted_weeks,
            lambda key, values: ReferenceWeek(site=sites[key[0]], year=key[1], metabolite=key[2], **values),
            WEEK_FIELDS,
            report.weeks,
        )
        ReferenceWeek.objects.bulk_create(created, batch_size=1000)
        if updated:
            ReferenceWeek.objects.bulk_update(updated, WEEK_FIELDS, batch_size=1000)

        changes = {
            (change.site.code, change.metabolite, change.year_current): change
            for change in ReferenceChange.objects.filter(site__source=SOURCE).select_related("site")
        }
        created, updated = _sync(
            changes,
            data.changes,
            lambda key, values: ReferenceChange(
                site=sites[key[0]], metabolite=key[1], year_current=key[2], **values
            ),
            CHANGE_FIELDS,
            report.changes,
        )
        ReferenceChange.objects.bulk_create(created, batch_size=1000)
        if updated:
            ReferenceChange.objects.bulk_update(updated, CHANGE_FIELDS, batch_size=1000)

        trends = {
            (trend.metabolite, trend.year): trend for trend in ReferenceTrend.objects.filter(source=SOURCE)
        }
        created, updated = _sync(
            trends,
            {key: {"value": value} for key, value in data.trends.items()},
            lambda key, values: ReferenceTrend(source=SOURCE, metabolite=key[0], year=key[1], **values),
            ["value"],
            report.trends,
        )
        ReferenceTrend.objects.bulk_create(created, batch_size=1000)
        if updated:
            ReferenceTrend.objects.bulk_update(updated, ["value"], batch_size=1000)

        if report.changed:
            audit_write(
                action=AuditAction.UPDATE
                if report.sites.updated or report.weeks.updated
                else AuditAction.CREATE,
                actor=actor,
                object_type="wastewater.referenceweek",
                object_repr=f"{SOURCE} comparison set",
                detail={
                    "source": SOURCE,
                    "sites": str(report.sites),
                    "weeks": str(report.weeks),
                    "changes": str(report.changes),
                    "trends": str(report.trends),
                    "sites_without_info": report.sites_without_info[:100],
                },
            )
    return report


# --- Reading back: the comparison ------------------------------------------------------------------------------


def split_of_year(year: int) -> DaySplit:
    """EUDA's weekday/weekend split of a campaign year (2021 used Tuesday–Friday / Saturday–Monday)."""
    return EUDA_2021_SPLIT if year == 2021 else EUDA_SPLIT


def stored_week_means(week: ReferenceWeek) -> WeekMeans:
    """The means recomputed from a stored week (days below the LOQ skipped, like days without data)."""
    values = {int(day): value for day, value in (week.values or {}).items()}
    return week_means(values, split_of_year(week.year))


def comparison_choices() -> dict[str, list[int]]:
    """Metabolites of the comparison set with the years that have data, newest first."""
    choices: dict[str, set[int]] = {}
    for metabolite, year in (
        ReferenceWeek.objects.filter(site__source=SOURCE).values_list("metabolite", "year").distinct()
    ):
        choices.setdefault(metabolite, set()).add(year)
    return {metabolite: sorted(years, reverse=True) for metabolite, years in sorted(choices.items())}


@dataclass(frozen=True)
class ReferenceBar:
    """One EUDA site's published daily mean of a year."""

    code: str
    city: str
    country: str
    population: int | None
    daily_mean: float
    below_loq_days: int


def comparison_bars(metabolite: str, year: int) -> tuple[list[ReferenceBar], int]:
    """The sites' published daily means, largest first, and how many sites had no day above the LOQ (EUDA's
    mean 0; not drawn as a value)."""
    bars: list[ReferenceBar] = []
    all_below = 0
    weeks = ReferenceWeek.objects.filter(
        site__source=SOURCE, metabolite=metabolite, year=year
    ).select_related("site")
    for week in weeks:
        if week.published_daily is None:
            continue
        if week.published_daily == 0:
            all_below += 1
            continue
        bars.append(
            ReferenceBar(
                code=week.site.code,
                city=week.site.city,
                country=week.site.country,
                population=week.site.population,
                daily_mean=week.published_daily,
                below_loq_days=len(week.below_loq_days or []),
            )
        )
    bars.sort(key=lambda bar: (-bar.daily_mean, bar.city))
    return bars, all_below


@dataclass(frozen=True)
class PlatformFigure:
    """This platform's population-weighted mean load per 1000 over a year, with the days behind it."""

    value: float | None
    sites: int
    quantified: int
    below_loq: int
    blocked: int
    no_population: int


def platform_figure(user: Any, analyte: Analyte, year: int) -> PlatformFigure:
    """The population-weighted mean load per 1000 (mg/day/1000) of the user's jurisdiction over the year's samples:
    ``1000 × Σ_sites mean daily load / Σ_sites mean population`` over the quantified days of each site (wbe.md
    §1.2). Days below the LOQ never enter it as numbers: they are counted, as are days blocked by QA and days
    without a population estimate."""
    rows = (
        AnalyteResult.objects.for_user(user)
        .filter(analyte=analyte, end_date__gte=dt.date(year, 1, 1), end_date__lte=dt.date(year, 12, 31))
        .values("site_id")
        .annotate(
            load=Avg("load_mg_per_day", filter=Q(status=ResultStatus.COMPUTED)),
            population=Avg("population", filter=Q(status=ResultStatus.COMPUTED)),
            quantified=Count("pk", filter=Q(status=ResultStatus.COMPUTED)),
            below=Count("pk", filter=Q(status=ResultStatus.BELOW_LOQ)),
            blocked=Count("pk", filter=Q(status=ResultStatus.QA_FAILED)),
            no_population=Count("pk", filter=Q(status=ResultStatus.NO_POPULATION)),
        )
        .order_by()
    )
    load = population = 0.0
    sites = quantified = below = blocked = no_population = 0
    for row in rows:
        below += row["below"]
        blocked += row["blocked"]
        no_population += row["no_population"]
        if row["quantified"] and row["population"]:
            sites += 1
            quantified += row["quantified"]
            load += row["load"]
            population += row["population"]
    value = 1000.0 * load / population if population else None
    return PlatformFigure(value, sites, quantified, below, blocked, no_population)
