"""The EUDA/SCORE files loaded as the international comparison set, and the comparison page built on them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from django.utils import translation

from jindu.cli import main
from jindu.core.errors import Forbidden
from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import assert_max_queries, ui_client
from jindu.wastewater import euda
from jindu.wastewater.euda import EudaFilesInvalid, euda_import, stored_week_means
from jindu.wastewater.models import ReferenceChange, ReferenceSite, ReferenceTrend, ReferenceWeek
from jindu.wastewater.services import MeasurementEntry, SampleEntry, samples_store

pytestmark = pytest.mark.django_db
DATA = euda.DEFAULT_DIRECTORY
DAYS = [day for day, _number in euda.DAY_COLUMNS]

# wbe.md §5.2 (verbatim from ww2025-all-data.csv, 2024): Wed … Tue, weekday, weekend, daily.
PUBLISHED = {
    ("AT001", "MDMA"): "8.82,12.87,12.45,28.11,26.8,10.5,9.13,10.27,19.47,15.53",
    ("CZ006", "methamphetamine"): "382.16,420.06,341.33,505.46,403.05,409.78,397.93,400.05,414.9,408.54",
    ("US002", "methamphetamine"): "926.73,951.69,962.7,933.72,930.66,982.91,862.87,913.76,952.5,935.9",
    ("BE002", "cocaine"): "1744.35,2176.28,2478.85,2739.28,1648.74,1778.56,1412.75,1777.8,2161.36,1996.98",
    ("NL001", "ketamine"): "147.57,144.54,155.5,121.16,120.79,129.77,106.13,132.75,131.8,132.21",
    ("CY001", "methamphetamine"): "2.74,,0.78,5.75,3.83,7.76,9.62,6.18,4.53,5.08",
}


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def file_rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "euda"
    shutil.copytree(DATA, target)
    return target


def replace_cell(path: Path, number: int, column: str, value: str) -> None:
    """Set one cell of line ``number`` (the header is line 1) of a CSV file."""
    import io

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    index = rows[0].index(column)
    rows[number - 1][index] = value
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def replace_line(path: Path, number: int, transform) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[number - 1] = transform(lines[number - 1])
    path.write_text("".join(lines), encoding="utf-8")


def test_the_files_load_with_their_counts_and_the_reference_rows():
    report = euda_import()
    weeks, changes = file_rows(euda.WEEKS_FILE), file_rows(euda.CHANGES_FILE)
    site_codes = {row["SiteID"] for row in file_rows(euda.SITES_FILE)}
    assert (
        report.sites.created
        == ReferenceSite.objects.count()
        == len(site_codes | {r["Site ID"] for r in weeks})
    )
    assert report.weeks.created == ReferenceWeek.objects.count() == len(weeks)
    assert report.changes.created == ReferenceChange.objects.count() == len(changes)
    trend_values = sum(
        1
        for row in file_rows(euda.TRENDS_FILE)
        for key, value in row.items()
        if key != "metabolite" and value
    )
    assert report.trends.created == ReferenceTrend.objects.count() == trend_values
    assert report.sites_without_info == []
    graz = ReferenceSite.objects.get(source="EUDA-2025", code="AT001")
    assert (graz.city, graz.country, graz.population) == ("Graz", "AT", 425_000)
    assert graz.latitude == pytest.approx(47.070713)
    assert ReferenceSite.objects.get(code="CZ006").population == 1_212_000
    # Populations written as 3e+05 in the site table.
    assert ReferenceSite.objects.get(code="BE004").population == 300_000
    week = ReferenceWeek.objects.select_related("analyte").get(site=graz, year=2024, metabolite="MDMA")
    assert week.values == {"0": 10.5, "1": 9.13, "2": 8.82, "3": 12.87, "4": 12.45, "5": 28.11, "6": 26.8}
    assert (week.published_weekday, week.published_weekend, week.published_daily) == (10.27, 19.47, 15.53)
    assert week.analyte.code == "MDMA" and week.below_loq_days == []
    # EUDA's "cocaine" is benzoylecgonine, "cannabis" THC-COOH.
    assert (
        ReferenceWeek.objects.filter(metabolite="cocaine")
        .values_list("analyte__code", flat=True)
        .distinct()
        .get()
        == "BE"
    )
    assert (
        ReferenceWeek.objects.filter(metabolite="cannabis")
        .values_list("analyte__code", flat=True)
        .distinct()
        .get()
        == "THCCOOH"
    )
    # Agia Napa has no Thursday: no data, not below the LOQ.
    napa = ReferenceWeek.objects.get(site__code="CY001", year=2024, metabolite="methamphetamine")
    assert napa.values["3"] is None and napa.below_loq_days == []
    change = ReferenceChange.objects.get(site=graz, metabolite="MDMA", year_current=2024)
    assert (change.value_current, change.value_previous, change.year_previous, change.label) == (
        15.53,
        23.73,
        2023,
        "decrease",
    )
    assert change.change_percent == pytest.approx(-34.5554, abs=1e-4)
    antwerp = ReferenceChange.objects.get(site__code="BE002", metabolite="methamphetamine", year_current=2024)
    assert antwerp.label == "increase" and antwerp.change_percent == pytest.approx(111.58, abs=0.01)
    new_site = ReferenceChange.objects.filter(label="no previous data").first()
    assert (
        new_site.value_previous is None and new_site.year_previous is None and new_site.change_percent is None
    )
    # EUDA writes Inf for an increase from 0: no percentage, EUDA's label kept.
    from_zero = ReferenceChange.objects.filter(value_previous=0).first()
    assert from_zero.change_percent is None and from_zero.label == "increase"
    assert ReferenceTrend.objects.get(metabolite="Benzoylecgonine", year=2011).value == pytest.approx(
        340.93358925
    )
    assert ReferenceTrend.objects.get(metabolite="Benzoylecgonine", year=2024).value == pytest.approx(
        848.147748699737
    )
    record = AuditRecord.objects.filter(object_type="wastewater.referenceweek").get()
    assert record.actor_username == "cli" and record.detail["weeks"].startswith(f"{len(weeks)} created")


def test_zeros_become_below_loq_days_and_never_values():
    euda_import()
    zero_days = 0
    example = None
    for row in file_rows(euda.WEEKS_FILE):
        zeros = [
            number for day, number in euda.DAY_COLUMNS if row[day] not in ("", "NA") and float(row[day]) == 0
        ]
        zero_days += len(zeros)
        if (
            zeros
            and example is None
            and any(row[day] not in ("", "NA", "0") and float(row[day]) > 0 for day in DAYS)
        ):
            example = (row, zeros)
    stored = sum(len(days) for days in ReferenceWeek.objects.values_list("below_loq_days", flat=True))
    assert stored == zero_days > 1000
    row, zeros = example
    week = ReferenceWeek.objects.get(
        site__code=row["Site ID"], year=int(row["Year"]), metabolite=row["Metabolite"]
    )
    assert week.below_loq_days == sorted(zeros)
    assert all(week.values[str(number)] is None for number in zeros)
    # The recomputed daily mean skips those days: it is the mean of the quantified days only.
    quantified = [float(row[day]) for day in DAYS if row[day] not in ("", "NA") and float(row[day]) > 0]
    assert stored_week_means(week).daily == pytest.approx(sum(quantified) / len(quantified))


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_the_reference_rows_reproduce_their_published_means_from_the_stored_values(key):
    euda_import()
    week = ReferenceWeek.objects.get(site__code=key[0], year=2024, metabolite=key[1])
    weekday, weekend, daily = (float(cell) for cell in PUBLISHED[key].split(",")[7:])
    means = stored_week_means(week)
    assert means.daily == pytest.approx(daily, abs=0.01)
    assert means.weekday == pytest.approx(weekday, abs=0.01)
    assert means.weekend == pytest.approx(weekend, abs=0.01)
    assert (week.published_daily, week.published_weekday, week.published_weekend) == (daily, weekday, weekend)


def test_the_2021_campaign_uses_its_own_split():
    euda_import()
    weeks = ReferenceWeek.objects.filter(year=2021, published_weekday__isnull=False).order_by("pk")[:80]
    checked = 0
    for week in weeks:
        if week.below_loq_days or any(value is None for value in week.values.values()):
            continue
        assert stored_week_means(week).weekday == pytest.approx(week.published_weekday, abs=0.011), week
        checked += 1
    assert checked > 10


def test_a_second_run_changes_nothing_and_a_changed_value_is_updated(tmp_path):
    euda_import()
    snapshot = list(
        ReferenceWeek.objects.order_by("pk").values_list("pk", "values", "below_loq_days", "published_daily")
    )
    audit = AuditRecord.objects.count()
    again = euda_import()
    assert again.changed == 0
    assert again.weeks.unchanged == len(snapshot) and again.sites.unchanged == ReferenceSite.objects.count()
    assert AuditRecord.objects.count() == audit
    assert (
        list(
            ReferenceWeek.objects.order_by("pk").values_list(
                "pk", "values", "below_loq_days", "published_daily"
            )
        )
        == snapshot
    )
    # A corrected release: Graz MDMA 2024's Wednesday (line 2) changes; only that week is updated.
    directory = copy_data(tmp_path)
    replace_cell(directory / euda.WEEKS_FILE, 2, "Wednesday", "8.9")
    third = euda_import(directory=directory)
    assert (third.weeks.updated, third.weeks.created, third.sites.changed, third.changes.changed) == (
        1,
        0,
        0,
        0,
    )
    assert ReferenceWeek.objects.get(site__code="AT001", year=2024, metabolite="MDMA").values["2"] == 8.9
    assert AuditRecord.objects.count() == audit + 1


def test_a_malformed_file_names_file_and_line_and_stores_nothing(tmp_path):
    directory = copy_data(tmp_path)
    replace_cell(directory / euda.WEEKS_FILE, 57, "Wednesday", "abc")
    replace_cell(directory / euda.CHANGES_FILE, 3, "year_current", "20x4")
    with pytest.raises(EudaFilesInvalid) as caught:
        euda_import(directory=directory)
    problems = caught.value.problems
    assert "ww2025-all-data.csv: line 57: Wednesday: 'abc' is not a number" in problems
    assert "ww2025-changes-all-substances.csv: line 3: year_current: '20x4' is not a year" in problems
    assert not ReferenceSite.objects.exists() and not ReferenceWeek.objects.exists()
    (directory / euda.TRENDS_FILE).unlink()
    (directory / euda.SITES_FILE).write_text('"SiteID","City"\n"X1","Nowhere"\n', encoding="utf-8")
    with pytest.raises(EudaFilesInvalid) as caught:
        euda_import(directory=directory)
    assert any(
        problem.endswith("ww2025-aggregated-trends.csv: no such file") for problem in caught.value.problems
    )
    assert any(
        problem.startswith("ww2025-site-info-table.csv: line 1: missing column(s) Country")
        for problem in caught.value.problems
    )
    assert not ReferenceSite.objects.exists()


def test_sites_missing_from_the_site_table_are_created_from_the_other_files(tmp_path):
    changes = file_rows(euda.CHANGES_FILE)
    with_changes = {row["SiteID"] for row in changes}
    without_changes = sorted({row["Site ID"] for row in file_rows(euda.WEEKS_FILE)} - with_changes)[0]
    directory = copy_data(tmp_path)
    path = directory / euda.SITES_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(line for line in lines if not line.startswith(('"AT001"', f'"{without_changes}"'))),
        encoding="utf-8",
    )
    report = euda_import(directory=directory)
    assert report.sites_without_info == sorted(["AT001", without_changes])
    graz = ReferenceSite.objects.get(code="AT001")
    assert (graz.city, graz.population, graz.location) == (
        "Graz",
        425_000,
        "ARA Graz",
    )  # from the changes file
    bare = ReferenceSite.objects.get(code=without_changes)
    assert bare.population is None and bare.city
    assert ReferenceWeek.objects.filter(site=bare).exists()


def test_only_the_operator_loads_the_set(users):
    with pytest.raises(Forbidden):
        euda_import(actor=users["city"])
    assert not ReferenceSite.objects.exists()


def test_cli_import_euda(tmp_path, capsys):
    assert main(["wastewater", "import-euda"]) == 0
    out = capsys.readouterr().out
    assert f"weeks: {ReferenceWeek.objects.count()} created, 0 updated, 0 unchanged" in out
    assert main(["wastewater", "import-euda", str(DATA)]) == 0
    assert "nothing changed" in capsys.readouterr().out
    directory = copy_data(tmp_path)
    replace_line(directory / euda.WEEKS_FILE, 10, lambda line: line + "extra,cells\n")
    assert main(["wastewater", "import-euda", str(directory)]) == 2
    err = capsys.readouterr().err
    assert "ww2025-all-data.csv: line 11:" in err and "nothing was loaded" in err
    assert main(["wastewater", "import-euda", str(tmp_path / "none")]) == 2
    assert "no such directory" in capsys.readouterr().err


# --- The comparison page ------------------------------------------------------------------------------------------


def _samples(users):
    """HS-01 (200,000 people): 2024-03-05 and -06 quantified (5,000 and 10,000 mg/day), -07 below the LOQ;
    FH-01 (80,000 people): 2024-03-05 quantified (1,000 mg/day)."""
    samples_store(
        actor=users["city"],
        entries=[
            SampleEntry("HS-01", dt.date(2024, 3, 5), 50_000, [MeasurementEntry("METH", 100)]),
            SampleEntry("HS-01", dt.date(2024, 3, 6), 50_000, [MeasurementEntry("METH", 200)]),
            SampleEntry("HS-01", dt.date(2024, 3, 7), 50_000, [MeasurementEntry("METH", None, True, 5)]),
            SampleEntry("FH-01", dt.date(2024, 3, 5), 20_000, [MeasurementEntry("METH", 50)]),
        ],
    )


def _chart(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="comparison-chart" type="application/json">') + len(
        '<script id="comparison-chart" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_the_comparison_page_without_the_set(users):
    page = ui_client(users["city"]).get("/wastewater/comparison/")
    assert page.status_code == 200 and 'data-testid="not-loaded"' in page.content.decode()


def test_the_comparison_page_highlights_this_platforms_weighted_mean(users, sites):
    euda_import()
    _samples(users)
    url = "/wastewater/comparison/?metabolite=methamphetamine&year=2024"
    client = ui_client(users["city"])
    client.get(url)
    with assert_max_queries(12):
        page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    chart = _chart(page)
    published = sorted(
        (
            week.published_daily
            for week in ReferenceWeek.objects.filter(metabolite="methamphetamine", year=2024)
            if week.published_daily
        ),
        reverse=True,
    )
    # The city: 1000 × (mean(5,000, 10,000) + 1,000) / (200,000 + 80,000); the day below the LOQ is not a number.
    expected = 1000 * ((5_000 + 10_000) / 2 + 1_000) / (200_000 + 80_000)
    assert chart["highlight"].count(True) == 1
    index = chart["highlight"].index(True)
    assert chart["values"][index] == pytest.approx(expected, abs=0.005)
    assert "宁波市" in chart["labels"][index]
    assert chart["values"] == sorted(chart["values"], reverse=True)
    assert [value for value, mine in zip(chart["values"], chart["highlight"], strict=True) if not mine] == [
        pytest.approx(value, abs=0.005) for value in published
    ]
    assert 'data-testid="platform-figure"' in html and 'data-testid="below-loq-days"' in html
    assert html.count("<tr data-site=") == len(published)
    all_below = ReferenceWeek.objects.filter(
        metabolite="methamphetamine", year=2024, published_daily=0
    ).count()
    assert ('data-testid="all-below"' in html) == (all_below > 0)
    figure = page.context["figure"]
    assert (figure.sites, figure.quantified, figure.below_loq) == (2, 3, 1)
    # District A sees its own plant only: 1000 × 7,500 / 200,000.
    district = ui_client(users["district_a"]).get(url)
    assert district.context["figure"].value == pytest.approx(37.5)
    assert "海曙区" in _chart(district)["labels"][_chart(district)["highlight"].index(True)]
    # A street office without a site: no platform figure, the EUDA bars only.
    street = ui_client(users["street_a"]).get(url)
    assert street.context["figure"].value is None and True not in _chart(street)["highlight"]
    assert 'data-testid="no-platform-figure"' in street.content.decode()
    # Another residue and year; an unknown one falls back to a valid choice.
    cocaine = ui_client(users["city"]).get("/wastewater/comparison/?metabolite=cocaine&year=2023")
    assert cocaine.context["analyte"].code == "BE" and cocaine.context["year"] == 2023
    fallback = ui_client(users["city"]).get("/wastewater/comparison/?metabolite=heroin&year=1999")
    assert fallback.context["metabolite"] == "methamphetamine" and fallback.context["year"] == 2024


def test_who_may_open_the_comparison(users):
    anonymous = ui_client(None).get("/wastewater/comparison/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    for user in (users["sysadmin"], users["enterprise"], users["worker_a"]):
        assert ui_client(user).get("/wastewater/comparison/").status_code == 403
    for user in (users["city"], users["district_b"], users["police_a"], users["street_a"]):
        assert ui_client(user).get("/wastewater/comparison/").status_code == 200
