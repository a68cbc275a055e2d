"""The demo city's wastewater data: sites, samples in the standard panel, results, and the planted cases the
anomaly rules are to find (a small demo in the database; the full-size series without it)."""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import Decimal

import numpy as np
import pytest
from django.db.models import Count

from jindu.core.demo import synthetic_tree
from jindu.core.models import AuditRecord
from jindu.core.orgunits import orgunits_import
from jindu.wastewater.demo import (
    DEFAULT_DAYS,
    DISTRICTS,
    PLANTED,
    PROFILES,
    SITE_CODES,
    SITES,
    DemoAlreadyLoaded,
    build_series,
    generate_demo_wastewater,
    progress_steps,
)
from jindu.wastewater.models import (
    Analyte,
    AnalyteResult,
    Measurement,
    PopulationMethod,
    ResultStatus,
    SamplingSite,
    SiteKind,
    WastewaterSample,
)

TODAY = dt.date(2026, 6, 1)
LAST_DAY = TODAY - dt.timedelta(days=1)
DAYS = 120
# The planted cases' sites, a pumping-station-free drill-down manhole, and a plant serving two districts.
SMALL = ["NB-YZ-01", "NB-NH-01", "NB-CX-01", "NB-BL-01", "NB-JB-02", "NB-YZ-03"]
SPEC = {spec.code: spec for spec in SITES}


def days_back(days: int) -> dt.date:
    return LAST_DAY - dt.timedelta(days=days)


@pytest.fixture
def city(db) -> None:
    """The demo city down to its streets (enough for the sites' districts and drill-down streets)."""
    rows = [row for row in synthetic_tree() if row["level"] in ("province", "city", "district", "street")]
    assert not orgunits_import(actor=None, rows=rows).errors


@pytest.fixture
def demo(city):
    steps: list[int] = []
    report = generate_demo_wastewater(
        seed=11, today=TODAY, days=DAYS, site_codes=SMALL, progress=steps.append
    )
    return report, steps


def series_of(code: str, analyte: str) -> dict[dt.date, AnalyteResult]:
    """A site's computed results of one analyte by day (days blocked by QA left out)."""
    return {
        result.end_date: result
        for result in AnalyteResult.objects.filter(
            site__code=code, analyte__code=analyte, status=ResultStatus.COMPUTED
        )
    }


def concentration(code: str, analyte: str, day: dt.date) -> Decimal | None:
    return Measurement.objects.get(
        sample__site__code=code, sample__end_date=day, analyte__code=analyte
    ).ng_per_l


# --- The small demo in the database ---------------------------------------------------------------------------


def test_sites_have_served_areas_populations_and_catchments(demo):
    report, steps = demo
    assert report.sites == len(SMALL) and sum(steps) == progress_steps(SMALL) == 2 * len(SMALL)
    sites = {
        site.code: site for site in SamplingSite.objects.select_related("default_population", "org_unit")
    }
    assert set(sites) == set(SMALL)
    for code, site in sites.items():
        spec = SPEC[code]
        assert site.org_unit.code == spec.district and site.kind == spec.kind
        assert 29.2 <= float(site.latitude) <= 30.4 and 121.0 <= float(site.longitude) <= 122.2
        ring = site.catchment["coordinates"][0]
        assert site.catchment["type"] == "Polygon" and len(ring) == 9 and ring[0] == ring[-1]
        lons = [point[0] for point in ring]
        lats = [point[1] for point in ring]
        assert min(lons) < float(site.longitude) < max(lons) and min(lats) < float(site.latitude) < max(lats)
        methods = set(site.population_estimates.values_list("method", flat=True))
        expected = {PopulationMethod.REGISTERED, PopulationMethod.COTININE}
        if spec.kind != SiteKind.MANHOLE:
            expected.add(PopulationMethod.DESIGN_CAPACITY)
            assert site.design_capacity_m3_per_day > 0
        else:
            assert site.design_capacity_m3_per_day is None
        assert methods == expected
        assert site.default_population.method == spec.default_method
        shares = dict(site.served_areas.values_list("org_unit__code", "share"))
        assert sum(shares.values()) == 1
    # A plant serving two districts with shares, and a manhole serving one street (drilling down).
    assert dict(sites["NB-YZ-01"].served_areas.values_list("org_unit__code", "share")) == {
        "330212": Decimal("0.7000"),
        "330203": Decimal("0.3000"),
    }
    assert list(sites["NB-YZ-03"].served_areas.values_list("org_unit__code", flat=True)) == ["330212001"]
    assert SamplingSite.objects.get(code="NB-YZ-03").sampling_rsd == Decimal("0.300")


def test_daily_samples_carry_the_standard_panel_with_flags_under_the_loq(demo):
    report, _steps = demo
    assert report.first_day == LAST_DAY - dt.timedelta(days=DAYS - 1) and report.last_day == LAST_DAY
    assert report.samples == WastewaterSample.objects.count() == len(SMALL) * DAYS
    panel = set(Analyte.objects.filter(standard_panel=True).values_list("code", flat=True))
    assert len(panel) == 13 and set(PROFILES) == panel
    assert report.measurements == Measurement.objects.count() == len(SMALL) * DAYS * 13
    for code in SMALL:
        days = sorted(WastewaterSample.objects.filter(site__code=code).values_list("end_date", flat=True))
        assert days == [report.first_day + dt.timedelta(days=i) for i in range(DAYS)]
    sample = WastewaterSample.objects.filter(site__code="NB-YZ-01").first()
    assert (sample.lab, sample.method) == ("宁波大学", "JD/YJY02.10-2021") and sample.flow_m3_per_day > 0
    assert sample.analysed_on > sample.end_date and sample.org_path == sample.site.org_path
    assert set(sample.measurements.values_list("analyte__code", flat=True)) == panel
    below = Measurement.objects.filter(below_loq=True)
    assert below.exists() and not below.filter(ng_per_l__isnull=False).exists()
    assert not below.filter(loq__isnull=True).exists()
    quantified = Measurement.objects.filter(below_loq=False)
    assert all(m.ng_per_l >= m.loq for m in quantified.only("ng_per_l", "loq")[:5000])
    share_below = {
        code: Measurement.objects.filter(analyte__code=code, below_loq=True).count() / (len(SMALL) * DAYS)
        for code in PROFILES
    }
    assert share_below["METH"] == share_below["AMP"] == share_below["COT"] == 0
    assert share_below["MDA"] > 0.9 and share_below["6MAM"] > 0.9  # usually not detected in China
    assert 0.05 < share_below["THCCOOH"] < 0.99 and 0.02 < share_below["COC"] < 0.95
    # Sampling mode by kind: composites at plants are flow-proportional, at manholes time-proportional.
    assert set(
        WastewaterSample.objects.filter(site__code="NB-YZ-03").values_list("sampling_mode", flat=True)
    ) == {"time"}


def test_every_measurement_has_a_result_and_a_few_fail_qa(demo):
    report, _steps = demo
    assert report.results == AnalyteResult.objects.count() == Measurement.objects.count()
    statuses = dict(AnalyteResult.objects.values_list("status").order_by().annotate(n=Count("pk")))
    assert set(statuses) == {ResultStatus.COMPUTED, ResultStatus.BELOW_LOQ, ResultStatus.QA_FAILED}
    assert statuses[ResultStatus.QA_FAILED] == report.qa_failures == 3  # a handful: one in 20,000, at least 3
    assert not AnalyteResult.objects.filter(status=ResultStatus.BELOW_LOQ, loq_per_1000__isnull=True).exists()
    assert not AnalyteResult.objects.filter(status=ResultStatus.BELOW_LOQ, per_1000__isnull=False).exists()
    failed = AnalyteResult.objects.filter(status=ResultStatus.QA_FAILED)
    assert all("recovery" in result.reason or "replicate RSD" in result.reason for result in failed)
    # Methamphetamine loads per 1000 are tens of mg/day/1000 at the plants (wbe.md §4).
    medians = {
        code: statistics.median(r.per_1000 for r in series_of(code, "METH").values()) for code in SMALL
    }
    assert all(15 < value < 250 for value in medians.values()), medians
    record = AuditRecord.objects.filter(object_type="wastewater.demo").get()
    assert record.detail["measurements"] == report.measurements and record.detail["seed"] == 11


def test_the_planted_cases_are_in_the_data(demo):
    report, _steps = demo
    kinds = {(event.kind, event.site) for event in report.planted}
    assert {("spike", "NB-YZ-01"), ("dumping", "NB-NH-01"), ("shift", "NB-CX-01")} <= kinds
    assert {("population", "NB-BL-01"), ("heroin", "NB-JB-02")} <= kinds
    assert {site for kind, site in kinds if kind == "rain"} == set(SMALL)

    # Dumping: methamphetamine about 20 times its usual load, amphetamine not following (AMP/METH < 0.01).
    dumping_day = days_back(75)
    meth = series_of("NB-NH-01", "METH")
    median = statistics.median(r.per_1000 for r in meth.values())
    assert meth[dumping_day].per_1000 > 10 * median
    ratio = concentration("NB-NH-01", "AMP", dumping_day) / concentration("NB-NH-01", "METH", dumping_day)
    assert ratio < Decimal("0.01")

    # Spike: methamphetamine about 8 times, amphetamine following (the usual AMP/METH ratio).
    spike_day = days_back(45)
    meth = series_of("NB-YZ-01", "METH")
    median = statistics.median(r.per_1000 for r in meth.values())
    assert meth[spike_day].per_1000 > 5 * median
    ratio = concentration("NB-YZ-01", "AMP", spike_day) / concentration("NB-YZ-01", "METH", spike_day)
    assert Decimal("0.05") <= ratio <= Decimal("0.15")

    # Sustained shift: the last 100 days about 60 % above the days before.
    meth = series_of("NB-CX-01", "METH")
    start = days_back(100)
    before = [r.per_1000 for day, r in meth.items() if day < start]
    after = [r.per_1000 for day, r in meth.items() if day >= start]
    assert 1.35 < statistics.mean(after) / statistics.mean(before) < 1.9

    # Nothing else looks like a spike or dumping: no other day is three times the site's median, and the
    # AMP/METH ratio stays within its usual 0.05–0.15 on every other day.
    planted_days = {
        (event.site, day) for event in report.planted for day in event.days() if event.kind != "rain"
    }
    for code in SMALL:
        meth = series_of(code, "METH")
        amp = series_of(code, "AMP")
        median = statistics.median(r.per_1000 for r in meth.values())
        for day, result in meth.items():
            if (code, day) in planted_days or code == "NB-CX-01" and day >= start or day not in amp:
                continue
            assert result.per_1000 < 3 * median, (code, day)
            assert 0.05 <= amp[day].load_mg_per_day / result.load_mg_per_day <= 0.15, (code, day)

    # Rain: the typhoon days are flagged at every site, with flow above the design capacity; no other day is.
    typhoon = {days_back(30), days_back(29)}
    for site in SamplingSite.objects.filter(code__in=SMALL):
        samples = {s.end_date: s for s in site.samples.all()}
        assert all(samples[day].rain for day in typhoon)
        if site.design_capacity_m3_per_day:
            over = {day for day, s in samples.items() if s.flow_m3_per_day > site.design_capacity_m3_per_day}
            storm = {days_back(90)} if site.code == "NB-CX-01" else set()
            assert over == typhoon | storm, site.code
        # Loads are unchanged by the rain: cotinine's concentration is diluted, its load is not.
        cot = series_of(site.code, "COT")
        usual = statistics.median(r.load_mg_per_day for r in cot.values())
        assert all(0.7 < cot[day].load_mg_per_day / usual < 1.3 for day in typhoon if day in cot)
        usual_concentration = statistics.median(
            Measurement.objects.filter(sample__site=site, analyte__code="COT").values_list(
                "ng_per_l", flat=True
            )
        )
        assert all(
            concentration(site.code, "COT", day) < usual_concentration * Decimal("0.9") for day in typhoon
        )

    # Population: cotinine implies 1.7 times the registered (default) population at NB-BL-01 only.
    for site in SamplingSite.objects.filter(code__in=SMALL).select_related("default_population"):
        registered = site.population_estimates.get(method=PopulationMethod.REGISTERED).population
        cotinine = site.population_estimates.get(method=PopulationMethod.COTININE).population
        if site.code == "NB-BL-01":
            assert site.default_population.method == PopulationMethod.REGISTERED
            assert cotinine / registered > 1.5
        else:
            assert 0.8 < cotinine / registered < 1.2, site.code

    # Heroin: 6-MAM quantified on the five planted days only, with morphine up.
    heroin_days = {days_back(60 - offset) for offset in range(5)}
    quantified = set(
        Measurement.objects.filter(
            sample__site__code="NB-JB-02", analyte__code="6MAM", below_loq=False
        ).values_list("sample__end_date", flat=True)
    )
    assert quantified == heroin_days
    assert (
        not Measurement.objects.filter(analyte__code="6MAM", below_loq=False)
        .exclude(sample__site__code="NB-JB-02")
        .exists()
    )


def test_the_database_holds_what_the_generator_built(demo):
    """The generator is deterministic: the same seed and day give the same series, and they are what is stored."""
    series = build_series(last_day=LAST_DAY, days=DAYS, seed=11, site_codes=SMALL)
    again = build_series(last_day=LAST_DAY, days=DAYS, seed=11, site_codes=SMALL)
    other = build_series(last_day=LAST_DAY, days=DAYS, seed=12, site_codes=SMALL)
    for first, second, third in zip(series.sites, again.sites, other.sites, strict=True):
        assert np.array_equal(first.flow, second.flow)
        assert np.array_equal(first.concentration["METH"], second.concentration["METH"], equal_nan=True)
        assert not np.array_equal(first.concentration["METH"], third.concentration["METH"], equal_nan=True)
    for site in series.sites:
        stored = dict(
            Measurement.objects.filter(sample__site__code=site.spec.code, analyte__code="KET").values_list(
                "sample__end_date", "ng_per_l"
            )
        )
        flows = dict(
            WastewaterSample.objects.filter(site__code=site.spec.code).values_list(
                "end_date", "flow_m3_per_day"
            )
        )
        for index in range(site.days):
            value = site.concentration["KET"][index]
            expected = None if np.isnan(value) else pytest.approx(float(value))
            got = stored[site.day(index)]
            assert (None if got is None else float(got)) == expected
            assert float(flows[site.day(index)]) == site.flow[index]


def test_a_second_demo_is_refused_and_changes_nothing(demo):
    counts = (SamplingSite.objects.count(), WastewaterSample.objects.count(), AnalyteResult.objects.count())
    with pytest.raises(DemoAlreadyLoaded):
        generate_demo_wastewater(seed=11, today=TODAY, days=DAYS, site_codes=SMALL)
    assert counts == (
        SamplingSite.objects.count(),
        WastewaterSample.objects.count(),
        AnalyteResult.objects.count(),
    )


@pytest.mark.django_db
def test_the_demo_needs_the_demo_city():
    with pytest.raises(RuntimeError, match="build the demo city first"):
        generate_demo_wastewater(today=TODAY, days=30, site_codes=["NB-HS-01"])
    assert not SamplingSite.objects.exists()


# --- The full-size series (pure, no database) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def full():
    return build_series(last_day=dt.date(2026, 12, 6))


def test_eighteen_sites_in_the_ten_districts_for_three_years(full):
    assert len(full.sites) == len(SITE_CODES) == 18
    assert {s.spec.district for s in full.sites} == set(DISTRICTS)
    assert sum(s.days for s in full.sites) * len(PROFILES) == 18 * DEFAULT_DAYS * 13 == 256_230
    kinds = {s.spec.kind for s in full.sites}
    assert kinds == {SiteKind.TREATMENT_PLANT, SiteKind.PUMPING_STATION, SiteKind.MANHOLE}
    assert sum(s.spec.kind == SiteKind.TREATMENT_PLANT for s in full.sites) >= 12
    assert sum(len(s.spec.served) == 2 for s in full.sites) >= 3
    for s in full.sites:
        assert 29.2 <= s.spec.latitude <= 30.4 and 121.0 <= s.spec.longitude <= 122.2
    assert len(full.planted) == len(PLANTED) - 2 + 18 + 4  # rain: the typhoon everywhere, the storm at four
    assert 9 <= full.qa_failures <= 20


def test_loads_have_realistic_magnitudes_and_weekly_patterns(full):
    weekend = {4, 5, 6, 0}  # by the day a composite ends (EUDA: Fri–Mon), Monday = 0
    ratios: dict[str, list[float]] = {"METH": [], "MDMA": [], "BE": []}
    for s in full.sites:
        population = s.true_population / 1000
        per_1000 = {
            code: s.concentration[code] * s.flow / 1000 / population
            for code in ("METH", "AMP", "KET", "MDMA", "COT")
        }
        meth = float(np.nanmedian(per_1000["METH"]))
        assert 20 < meth < 150, s.spec.code
        assert float(np.nanmedian(per_1000["KET"])) < meth / 5
        assert float(np.nanmedian(per_1000["MDMA"])) < 2
        assert 300 < float(np.nanmedian(per_1000["COT"])) < 420  # 2.5 cigarettes × 0.14 mg a day
        days = np.array([(s.first_day + dt.timedelta(days=i)).weekday() for i in range(s.days)])
        is_weekend = np.isin(days, list(weekend))
        is_weekday = np.isin(days, [1, 2, 3])
        for code in ratios:
            load = s.concentration[code] * s.flow
            ratios[code].append(float(np.nanmean(load[is_weekend]) / np.nanmean(load[is_weekday])))
    assert 0.95 < statistics.median(ratios["METH"]) < 1.05  # no weekly pattern (wbe.md §6.1)
    assert 1.4 < statistics.median(ratios["MDMA"]) < 2.1  # EUDA median 1.75
    assert 1.15 < statistics.median(ratios["BE"]) < 1.5  # cocaine: EUDA median 1.33


def test_jindu_demo_writes_the_wastewater_data_after_the_precursors(city, monkeypatch, settings, tmp_path):
    """``jindu demo`` runs the wastewater step last, with its progress bar (the other steps stubbed out here, and the
    series shortened to 30 days: the whole demo runs end to end in ``core/tests/test_cli.py``)."""
    import argparse

    from jindu import cli
    from jindu.core import demo as core_demo
    from jindu.people import demo as people_demo
    from jindu.precursors import demo as precursors_demo
    from jindu.wastewater import demo as wastewater_demo

    steps: list[str] = []
    monkeypatch.setattr(core_demo, "generate_demo", lambda **kwargs: steps.append("city") or [])
    monkeypatch.setattr(people_demo, "generate_demo_persons", lambda **kwargs: steps.append("people"))
    monkeypatch.setattr(
        precursors_demo, "generate_demo_precursors", lambda **kwargs: steps.append("precursors")
    )
    original = wastewater_demo.generate_demo_wastewater

    def shortened(**kwargs):
        steps.append("wastewater")
        return original(today=TODAY, days=30, **kwargs)

    monkeypatch.setattr(wastewater_demo, "generate_demo_wastewater", shortened)
    settings.VAR_DIR = tmp_path
    assert cli.command_demo(argparse.Namespace(reset=False, port=None, no_serve=True)) == 0
    assert steps == ["city", "people", "precursors", "wastewater"]
    assert SamplingSite.objects.count() == 18
    assert WastewaterSample.objects.count() == 18 * 30
    assert AnalyteResult.objects.count() == Measurement.objects.count() == 18 * 30 * 13


def test_the_api_reads_the_results_as_plain_rows_with_the_same_items(demo):
    """``result_payloads`` (the results endpoint) gives, item for item, what ``result_payload`` gives for each
    stored result, consumption included: computed, below the LOQ and blocked by QA alike."""
    from jindu.wastewater.models import CorrectionFactorSet
    from jindu.wastewater.results import factor_inputs, result_payload, result_payloads
    from jindu.wastewater.selectors import results_for_site

    factors = factor_inputs(CorrectionFactorSet.objects.get(name="China-Du2020", version=1), 0.26)
    codes = dict(Analyte.objects.values_list("pk", "code"))
    statuses = set()
    for site in SamplingSite.objects.all():
        results = results_for_site(site, first=days_back(99), last=LAST_DAY)
        items = result_payloads(results, codes, factors)
        assert items == [result_payload(r, codes[r.analyte_id], factors.get(r.analyte_id)) for r in results]
        assert len(items) == 100 * 13
        statuses |= {item["status"] for item in items}
    assert statuses >= {ResultStatus.COMPUTED, ResultStatus.BELOW_LOQ}


def test_the_anomaly_rules_find_the_planted_cases_when_the_demo_is_written(demo):
    from jindu.wastewater.models import WastewaterAnomaly

    report, _steps = demo
    assert report.anomalies["findings"] == WastewaterAnomaly.objects.count() > 0
    found = {
        (flag.rule, flag.site.code, flag.day) for flag in WastewaterAnomaly.objects.select_related("site")
    }
    assert ("meth_dumping", "NB-NH-01", days_back(75)) in found
    assert ("robust_z", "NB-YZ-01", days_back(45)) in found
    assert any(rule == "heroin_marker" and site == "NB-JB-02" for rule, site, _day in found)
    dumping = WastewaterAnomaly.objects.get(rule="meth_dumping")
    assert dumping.level == "alert" and dumping.status == "new"
    # Besides the planted cases the statistical rules stay rare: 6 sites × 13 analytes × about 90 judged days is
    # some 7,000 series-days, of which at most 15 may be flagged (measured: 13, 4 of them the planted days).
    assert WastewaterAnomaly.objects.filter(rule__in=["robust_z", "cusum"]).count() <= 15
