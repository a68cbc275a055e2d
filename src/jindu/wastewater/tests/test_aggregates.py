"""Period aggregates against hand-checked numbers: population-weighted district means with shares, the EUDA
weekday/weekend filters, below-LOQ days counted and bounded (never averaged), year-on-year labels, and Monte
Carlo intervals that contain the point, are reproducible and are those of ``uncertainty.period_per_1000``."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from jindu.core.testing.helpers import assert_max_queries
from jindu.wastewater import aggregates
from jindu.wastewater.aggregates import (
    ALL_DAYS,
    WEEKDAY,
    WEEKEND,
    load_rows,
    org_unit_subject,
    period_range,
    request_context,
    series_for_request,
    site_subject,
)
from jindu.wastewater.models import Analyte
from jindu.wastewater.periods import Change, parse_period, period_of
from jindu.wastewater.services import MeasurementEntry, SampleEntry, samples_store, served_areas_set
from jindu.wastewater.uncertainty import SiteDays, derive_seed, period_per_1000

pytestmark = pytest.mark.django_db

FLOW = 50_000  # m³/d: C ng/L gives a load of 50 × C mg/day


def store(site: str, values: dict[dt.date, float | str | None], *, analyte: str = "METH", **extra) -> None:
    """One sample per day; a value "<LOQ" is stored below an LOQ of 5 ng/L, "QA" fails its recovery."""
    entries = []
    for day, value in values.items():
        if value == "<LOQ":
            measurement = MeasurementEntry(analyte=analyte, ng_per_l=None, below_loq=True, loq=5)
        elif value == "QA":
            measurement = MeasurementEntry(analyte=analyte, ng_per_l=100, recovery_percent=40)
        else:
            measurement = MeasurementEntry(analyte=analyte, ng_per_l=value)
        entries.append(
            SampleEntry(
                site=site, end_date=day, flow_m3_per_day=extra.get("flow", FLOW), measurements=[measurement]
            )
        )
    samples_store(actor=None, entries=entries)


def days(first: dt.date, values: list[float | str | None]) -> dict[dt.date, float | str | None]:
    return {
        first + dt.timedelta(days=offset): value for offset, value in enumerate(values) if value is not None
    }


def meth() -> Analyte:
    return Analyte.objects.get(code="METH")


def series(user, subject, kind, first, last, day_filter=ALL_DAYS, cf_set=""):
    context = request_context(user, subject.org_unit, on=last, cf_set=cf_set)
    found = period_range(kind, first, last, last)
    return context, series_for_request(context, subject, meth(), found, day_filter)


def test_a_district_of_two_sites_is_population_weighted_with_shares(users, sites):
    """Plant HS-01 (200,000) serves district A 60 % and district B 40 %; FH-01 (80,000) serves district B. In
    March 2026 HS-01 averages 150 ng/L (7,500 mg/day) and FH-01 40 ng/L (2,000 mg/day)."""
    served_areas_set(actor=None, site=sites["a"], areas=[("330203", 0.6), ("330213", 0.4)])
    store("HS-01", days(dt.date(2026, 3, 2), [100, 200, 150]))
    store("FH-01", days(dt.date(2026, 3, 10), [30, 50]))
    subject = org_unit_subject(users["city"], "330213")
    assert {(site.code, site.share) for site in subject.sites} == {("HS-01", 0.4), ("FH-01", 1.0)}
    _context, result = series(users["city"], subject, "month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    [march] = result.values
    expected = 1000 * (0.4 * 7500 + 1.0 * 2000) / (0.4 * 200_000 + 1.0 * 80_000)
    assert march.point == pytest.approx(expected)  # 31.25 mg/day/1000
    assert march.point == pytest.approx(31.25)
    assert march.quantified_days == 5 and march.sites_reporting == 2 and march.below_loq_days == 0
    # District A sees only its share of HS-01, which cancels out: HS-01's own value.
    [district_a] = series(
        users["city"],
        org_unit_subject(users["city"], "330203"),
        "month",
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 31),
    )[1].values
    assert district_a.point == pytest.approx(1000 * 7500 / 200_000)
    # The city: both plants whole (HS-01's shares add up to 1).
    city = org_unit_subject(users["city"], "330200")
    assert {(site.code, site.share) for site in city.sites} == {("HS-01", 1.0), ("FH-01", 1.0)}
    [whole] = series(users["city"], city, "month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))[1].values
    assert whole.point == pytest.approx(1000 * (7500 + 2000) / 280_000)


def test_the_interval_is_period_per_1000_with_the_population_drawn_once(users, sites):
    served_areas_set(actor=None, site=sites["a"], areas=[("330203", 0.6), ("330213", 0.4)])
    store("HS-01", days(dt.date(2026, 3, 2), [100, 200, 150]))
    store("FH-01", days(dt.date(2026, 3, 10), [30, 50]))
    subject = org_unit_subject(users["city"], "330213")
    context, result = series(users["city"], subject, "month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    [march] = result.values
    interval = march.interval
    assert interval.p2_5 < march.point < interval.p97_5
    assert len(march.draws) == 10_000
    # The same figures through uncertainty.period_per_1000, with the seeds the aggregate documents.
    rows = load_rows(subject.site_ids, [meth().pk], dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    reference = []
    for site in subject.sites:
        found = rows[(site.site_id, meth().pk)]
        estimate = found.estimate[-1]
        reference.append(
            SiteDays(
                loads=list(found.load),
                day_seeds=[
                    derive_seed(found.seed[i], found.dates[i].isoformat()) for i in range(len(found.dates))
                ],
                day_sigma=float(found.day_sigma[0]),
                population=float(found.population[0]),
                population_rsd=float(found.population_rsd[0]),
                population_seed=derive_seed(
                    context.settings.seed, site.code, "population", estimate, float(found.population_rsd[0])
                ),
                share=site.share,
            )
        )
    expected = period_per_1000(reference)
    assert march.point == pytest.approx(expected.point, rel=1e-12)
    np.testing.assert_allclose(march.draws, expected.draws, rtol=1e-12)
    # Reproducible, with or without the cache of site reductions.
    aggregates.SITE_PERIOD_CACHE.clear()
    again = series(users["city"], subject, "month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))[1].values[0]
    assert np.array_equal(again.draws, march.draws)
    # Consumption: the point times the factor (China-Du2020: METH 43 %), a wider interval.
    consumption = march.consumption
    assert consumption.point == pytest.approx(march.point / 0.43)
    low, high = consumption.interval.p2_5, consumption.interval.p97_5
    assert low < consumption.point < high
    assert high / low > interval.p97_5 / interval.p2_5


def test_a_day_keeps_its_draws_whatever_period_it_is_in(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), [100]))
    subject = site_subject(users["district_a"], "HS-01")
    week = series(users["district_a"], subject, "week", dt.date(2026, 3, 2), dt.date(2026, 3, 2))[1].values[0]
    year = series(users["district_a"], subject, "year", dt.date(2026, 3, 2), dt.date(2026, 3, 2))[1].values[0]
    assert week.period.label == "2026-W10" and year.period.label == "2026"
    assert np.array_equal(week.draws, year.draws)


def test_weekday_and_weekend_filters_pick_the_euda_days(users, sites):
    """Week 2026-W10: Monday 2 March … Sunday 8 March, one value per day. EUDA: weekday Tue–Thu, weekend
    Fri–Mon (by the day a composite ends)."""
    values = [10, 20, 30, 40, 50, 60, 70]  # Mon … Sun (ng/L)
    store("HS-01", days(dt.date(2026, 3, 2), values))
    subject = site_subject(users["district_a"], "HS-01")
    per_1000 = {v: 1000 * v * 50 / 200_000 for v in values}

    def week(day_filter):
        return series(
            users["district_a"], subject, "week", dt.date(2026, 3, 2), dt.date(2026, 3, 8), day_filter
        )[1].values[0]

    everything, weekday, weekend = week(ALL_DAYS), week(WEEKDAY), week(WEEKEND)
    assert everything.point == pytest.approx(sum(per_1000.values()) / 7)
    assert weekday.point == pytest.approx((per_1000[20] + per_1000[30] + per_1000[40]) / 3)
    assert weekend.point == pytest.approx((per_1000[10] + per_1000[50] + per_1000[60] + per_1000[70]) / 4)
    assert (everything.quantified_days, weekday.quantified_days, weekend.quantified_days) == (7, 3, 4)


def test_below_loq_days_are_counted_and_bounded_never_averaged(users, sites):
    """100 and 200 ng/L quantified, one day below an LOQ of 5 ng/L, one blocked by QA: the mean is over the two
    quantified days only; the bounds put the third day at 0 and at its LOQ."""
    store("HS-01", days(dt.date(2026, 3, 2), [100, 200, "<LOQ", "QA"]))
    subject = site_subject(users["district_a"], "HS-01")
    [march] = series(users["district_a"], subject, "month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))[
        1
    ].values
    assert march.point == pytest.approx(1000 * 7500 / 200_000)  # 37.5, not (5000 + 10000 + x) / 3
    assert (march.quantified_days, march.below_loq_days, march.blocked_days) == (2, 1, 1)
    assert march.bounds.if_zero == pytest.approx(1000 * (15_000 / 3) / 200_000)  # 25.0
    assert march.bounds.if_at_loq == pytest.approx(1000 * ((15_000 + 250) / 3) / 200_000)  # 25.417
    payload = aggregates.value_payload(march)
    assert payload["below_loq_bounds"]["if_zero"] == pytest.approx(25.0)
    assert payload["below_loq_bounds"]["note"]


def test_a_period_with_only_below_loq_days_has_bounds_and_no_value(users, sites):
    store("HS-01", days(dt.date(2026, 3, 2), ["<LOQ", "<LOQ"]))
    subject = site_subject(users["district_a"], "HS-01")
    [march] = series(users["district_a"], subject, "month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))[
        1
    ].values
    assert march.point is None and march.draws is None and march.yoy is None
    assert march.below_loq_days == 2
    assert march.bounds.if_zero == 0
    assert march.bounds.if_at_loq == pytest.approx(1000 * 250 / 200_000)


def test_year_on_year_labels_against_the_same_period_a_year_earlier(users, sites):
    store(
        "HS-01",
        {
            dt.date(2025, 1, 15): 100,
            dt.date(2026, 1, 15): 120,  # +20 %: increase
            dt.date(2025, 2, 15): 100,
            dt.date(2026, 2, 15): 95,  # −5 %: stable
            dt.date(2025, 3, 15): 100,
            dt.date(2026, 3, 15): 89,  # −11 %: decrease
            dt.date(2026, 4, 15): 100,  # nothing in April 2025
        },
    )
    subject = site_subject(users["district_a"], "HS-01")
    values = series(users["district_a"], subject, "month", dt.date(2026, 1, 1), dt.date(2026, 4, 30))[
        1
    ].values
    labels = [(value.period.label, value.yoy.label) for value in values]
    assert labels == [
        ("2026-01", Change.INCREASE),
        ("2026-02", Change.STABLE),
        ("2026-03", Change.DECREASE),
        ("2026-04", Change.NO_PREVIOUS),
    ]
    assert values[0].yoy.percent == pytest.approx(20.0)
    assert values[0].previous == pytest.approx(1000 * 5000 / 200_000)
    assert values[3].previous is None
    # The same rule by quarter: Q1 2026 averages (120 + 95 + 89) / 3 against 100.
    [q1] = series(users["district_a"], subject, "quarter", dt.date(2026, 1, 1), dt.date(2026, 3, 31))[
        1
    ].values
    assert q1.yoy.percent == pytest.approx(((120 + 95 + 89) / 3 - 100) / 100 * 100)
    assert q1.yoy.label == Change.STABLE


def test_periods_cover_whole_periods_and_bad_ranges_are_refused(users, sites):
    found = period_range("month", dt.date(2026, 1, 20), dt.date(2026, 3, 2), dt.date(2026, 12, 1))
    assert [period.label for period in found] == ["2026-01", "2026-02", "2026-03"]
    assert found[0].start == dt.date(2026, 1, 1) and found[-1].end == dt.date(2026, 3, 31)
    default = period_range("quarter", None, None, dt.date(2026, 12, 7))
    assert default[-1] == period_of(dt.date(2026, 12, 7), "quarter") and len(default) == 5
    with pytest.raises(aggregates.ServiceError) as error:
        period_range("month", dt.date(2026, 3, 1), dt.date(2026, 1, 1), dt.date(2026, 12, 1))
    assert "from" in error.value.fields
    with pytest.raises(aggregates.ServiceError):
        period_range("week", dt.date(2000, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 12, 1))
    assert aggregates.parse_period("2026Q1") == parse_period("2026Q1")
    with pytest.raises(aggregates.ServiceError) as error:
        aggregates.parse_period("2026-03-04")
    assert "period" in error.value.fields


def test_out_of_scope_subjects_are_not_found(users, sites):
    with pytest.raises(aggregates.NotFound):
        site_subject(users["district_b"], "HS-01")
    with pytest.raises(aggregates.NotFound):
        org_unit_subject(users["district_b"], "330203")
    with pytest.raises(aggregates.NotFound):
        org_unit_subject(users["district_a"], "999999")
    assert org_unit_subject(users["police_a"], "330213").code == "330213"  # police search the whole city


def test_three_years_by_month_read_the_results_in_one_query(users, sites):
    first = dt.date(2023, 1, 1)
    store("HS-01", {first + dt.timedelta(days=offset): 100 + offset % 50 for offset in range(0, 1096, 3)})
    subject = site_subject(users["district_a"], "HS-01")
    context = request_context(users["district_a"], subject.org_unit, on=dt.date(2025, 12, 31))
    found = period_range("month", first, dt.date(2025, 12, 31), dt.date(2025, 12, 31))
    with assert_max_queries(2):  # the results, and the analyte list's lookup is not needed here
        result = series_for_request(context, subject, meth(), found, ALL_DAYS)
    assert len(result.values) == 36
    assert all(value.point is not None for value in result.values)
    assert sum(value.quantified_days for value in result.values) == 366
