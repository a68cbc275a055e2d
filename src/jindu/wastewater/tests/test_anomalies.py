"""The anomaly rules (wbe.md §6.3) on planted series stored through the sample service: each rule fires on its
planted case with the numbers that explain it and stays silent on clean data; days under the LOQ are never
numbers; reruns never duplicate; thresholds come from the settings in force; the review lifecycle."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from jindu.core.errors import NotFound, ServiceError
from jindu.core.models import AuditRecord, Job, JobStatus
from jindu.wastewater import services
from jindu.wastewater.anomalies import (
    RULE_FUNCTIONS,
    AnomalyConflict,
    AnomalyContext,
    anomalies_after_store,
    anomalies_run_start,
    anomaly_explanation,
    anomaly_review,
    cotinine_population,
    rule_precision,
    run_anomalies,
)
from jindu.wastewater.anomaly_settings import DEFAULT_ANOMALY_SETTINGS
from jindu.wastewater.models import AnalyteResult, WastewaterAnomaly, WastewaterSample
from jindu.wastewater.policies import validate_settings

# Explanations and labels are checked in their English source wording.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

AS_OF = dt.date(2025, 6, 30)


@dataclass(frozen=True)
class Below:
    """A value reported under the LOQ (stored as the flag plus the LOQ)."""

    loq: float


Values = dict[str, "float | Below"]


def days_before(count: int, end: dt.date = AS_OF) -> dt.date:
    return end - dt.timedelta(days=count)


def noise(rng: random.Random, sigma: float, clip: float = 2.0) -> float:
    """A lognormal-ish factor 10^(σ·ε), ε standard normal cut at ±clip (a clean series has no outliers)."""
    return float(10 ** (sigma * max(-clip, min(clip, rng.gauss(0, 1)))))


def meth_and_amp(
    rng: random.Random, meth: float = 100.0, sigma: float = 0.05, ratio: float = 0.09, clip: float = 2.0
) -> Values:
    value = meth * noise(rng, sigma, clip)
    return {"METH": value, "AMP": value * ratio * noise(rng, 0.03)}


def store_series(
    site: str,
    count: int,
    make: Callable[[int, random.Random], Values],
    *,
    end: dt.date = AS_OF,
    seed: int = 1,
    flow: Callable[[int, random.Random], float] | None = None,
    rain: set[int] | frozenset[int] = frozenset(),
) -> list[int]:
    """``count`` daily samples ending on ``end``; ``make(i, rng)`` gives day i's values (i = 0 is the first)."""
    rng = random.Random(seed)
    entries = []
    for index in range(count):
        values = make(index, rng)
        measurements = [
            services.MeasurementEntry(analyte=code, below_loq=True, loq=value.loq)
            if isinstance(value, Below)
            else services.MeasurementEntry(analyte=code, ng_per_l=round(value, 4))
            for code, value in values.items()
        ]
        entries.append(
            services.SampleEntry(
                site=site,
                end_date=end - dt.timedelta(days=count - 1 - index),
                flow_m3_per_day=round(flow(index, rng), 2) if flow else 50_000,
                rain=index in rain,
                measurements=measurements,
            )
        )
    return services.samples_store(actor=None, entries=entries).created


def flags(rule: str | None = None, **filters: Any) -> list[WastewaterAnomaly]:
    anomalies = WastewaterAnomaly.objects.all()
    if rule:
        anomalies = anomalies.filter(rule=rule)
    return list(anomalies.filter(**filters).select_related("analyte", "sample").order_by("day", "pk"))


def expected_score(site: Any, code: str, day: dt.date, history: int = 365) -> tuple[float, float, float, int]:
    """(z, median, MAD) of log10(load per 1000) computed here from the stored results: the quantified days of
    the window before ``day``."""
    values = list(
        AnalyteResult.objects.filter(
            site=site,
            analyte__code=code,
            status="computed",
            end_date__lt=day,
            end_date__gte=day - dt.timedelta(days=history),
        ).values_list("per_1000", flat=True)
    )
    logs = np.log10(values)
    median = float(np.median(logs))
    mad = float(np.median(np.abs(logs - median)))
    value = AnalyteResult.objects.get(site=site, analyte__code=code, end_date=day).per_1000
    return 0.6745 * (math.log10(value) - median) / mad, median, mad, len(values)


def figure_value(anomaly: WastewaterAnomaly, label: str) -> Any:
    return next(item["value"] for item in anomaly.evidence if item.get("label") == label)


# --- Robust z and the dumping check -----------------------------------------------------------------------------


def test_a_meth_spike_with_little_amphetamine_is_a_spike_and_possible_dumping(sites):
    spike = 65

    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        if index == spike:
            return {"METH": values["METH"] * 10, "AMP": values["METH"] * 10 * 0.01}
        return values

    store_series("HS-01", 70, make)
    summary = run_anomalies(as_of=AS_OF)
    assert summary["by_rule"] == {"robust_z": 1, "meth_dumping": 1}
    assert summary["created"] == 2
    day = days_before(70 - 1 - spike)
    [z_flag] = flags("robust_z")
    z, median, mad, count = expected_score(sites["a"], "METH", day)
    assert z > 3.5
    assert z_flag.day == day and z_flag.level == "warning" and z_flag.analyte.code == "METH"
    assert z_flag.sample.end_date == day and z_flag.site == sites["a"]
    assert z_flag.params["z"] == f"{z:.1f}" and z_flag.params["count"] == count == spike
    assert figure_value(z_flag, "Robust z") == pytest.approx(z, rel=1e-5)
    assert figure_value(z_flag, "MAD of log10 values") == pytest.approx(mad, rel=1e-5)
    assert figure_value(z_flag, "Median of the baseline") == pytest.approx(10**median, rel=1e-5)
    text = anomaly_explanation(z_flag)
    assert text.startswith("Spike: METH on " + day.isoformat())
    assert f"Robust z of the log10 value = {z:.1f}" in text and "above the threshold of 3.5" in text
    [dumping] = flags("meth_dumping")
    assert dumping.level == "alert" and dumping.sample_id == z_flag.sample_id and dumping.day == day
    assert figure_value(dumping, "AMP/METH ratio") == pytest.approx(0.01, rel=1e-3)
    text = anomaly_explanation(dumping)
    assert "AMP/METH was 0.01, far below the 0.05–0.25 (median 0.09)" in text
    assert "the threshold is 0.03" in text and "dumping" in text
    samples = {item["analyte"]: item for item in dumping.evidence if item["kind"] == "sample"}
    assert samples["METH"]["sample"] == samples["AMP"]["sample"] == dumping.sample_id
    assert samples["AMP"]["ng_per_l"] / samples["METH"]["ng_per_l"] == pytest.approx(0.01, rel=1e-3)


def test_a_meth_spike_with_the_usual_amphetamine_share_is_not_dumping(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {code: value * 10 for code, value in values.items()} if index == 65 else values

    store_series("HS-01", 70, make)
    summary = run_anomalies(as_of=AS_OF)
    # METH and AMP both spiked (a consumption event: the ratio is that of use).
    assert summary["by_rule"] == {"robust_z": 2}
    assert {flag.analyte.code for flag in flags("robust_z")} == {"METH", "AMP"}


def test_amphetamine_under_its_loq_bounds_the_ratio(sites):
    """AMP under the LOQ is no number, but its LOQ bounds the ratio: 5/1000 is below the dumping threshold, a LOQ
    of 50 would allow 0.05 and says nothing."""

    def make(loq: float) -> Callable[[int, random.Random], Values]:
        def values(index: int, rng: random.Random) -> Values:
            regular = meth_and_amp(rng)
            return {"METH": 1000.0, "AMP": Below(loq)} if index == 65 else regular

        return values

    store_series("HS-01", 70, make(5))
    store_series("FH-01", 70, make(50))
    run_anomalies(as_of=AS_OF)
    [dumping] = flags("meth_dumping")
    assert dumping.site == sites["a"] and dumping.level == "alert"
    text = anomaly_explanation(dumping)
    assert "AMP was under its LOQ, so AMP/METH was at most 0.005" in text
    # Both METH spikes are flagged by the z-score; only site A's is called dumping.
    assert {flag.site.code for flag in flags("robust_z", analyte__code="METH")} == {"HS-01", "FH-01"}


def test_a_drop_is_a_notice_and_regional_settings_can_leave_drops_out(sites, users):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] / 10, "AMP": values["AMP"]} if index == 50 else values

    store_series("HS-01", 60, make)
    run_anomalies(as_of=AS_OF)
    [drop] = flags("robust_z")
    assert drop.level == "notice" and drop.analyte.code == "METH"
    assert anomaly_explanation(drop).startswith("Drop: METH on")
    assert float(drop.params["z"]) < -3.5
    WastewaterAnomaly.objects.all().delete()
    services.settings_publish(
        actor=users["district_a"],
        region_code="330203",
        effective_from=dt.date(2024, 1, 1),
        label="no drops",
        payload={"anomalies": {"robust_z": {"drops": False}}},
    )
    # Without drops only the ratio of that day is left: AMP as usual against a tenth of the METH.
    assert run_anomalies(as_of=AS_OF)["by_rule"] == {"amp_ratio_high": 1}


def test_no_day_is_judged_before_four_weeks_of_history(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 20, "AMP": values["AMP"]} if index == 20 else values

    store_series("HS-01", 40, make)
    assert run_anomalies(as_of=AS_OF)["findings"] == 0
    ctx = AnomalyContext(AS_OF)
    points = ctx.points(sites["a"].pk, "METH")
    assert ctx.score(sites["a"].pk, "METH", points[20]) is None
    assert ctx.score(sites["a"].pk, "METH", points[28]).count == 28


def weekly_mdma(spike_day: dt.date | None = None) -> Callable[[int, random.Random], Values]:
    """METH and AMP as usual, and MDMA with a weekly rhythm: 2.5 times as high on Friday to Monday (EUDA's
    weekend) as on Tuesday to Thursday; ``spike_day`` five times its weekend level."""

    def make(index: int, rng: random.Random) -> Values:
        day = days_before(120 - 1 - index)
        values = meth_and_amp(rng)
        mdma = 20.0 * noise(rng, 0.03) * (2.5 if day.weekday() in (4, 5, 6, 0) else 1.0)
        values["MDMA"] = mdma * 5 if day == spike_day else mdma
        return values

    return make


def test_a_weekly_rhythm_is_judged_against_days_of_the_same_type(sites, users):
    saturday = next(days_before(n) for n in range(10, 20) if days_before(n).weekday() == 5)
    store_series("HS-01", 120, weekly_mdma(spike_day=saturday))
    summary = run_anomalies(as_of=AS_OF)
    # MDMA is judged weekend against weekend, weekday against weekday (the shipped settings): only the spike.
    [spike] = flags("robust_z", analyte__code="MDMA")
    assert spike.day == saturday and spike.level == "warning" and summary["by_rule"] == {"robust_z": 1}
    text = anomaly_explanation(spike)
    assert "weekend days of the previous 365 days" in text and "weekend days only" in text
    ctx = AnomalyContext(AS_OF)
    score = ctx.score(
        sites["a"].pk, "MDMA", next(p for p in ctx.points(sites["a"].pk, "MDMA") if p.day == saturday)
    )
    earlier = [days_before(n) for n in range(119, -1, -1) if days_before(n) < saturday]
    assert score.day_type == "weekend"
    assert score.count == sum(1 for day in earlier if day.weekday() in (4, 5, 6, 0)) < len(earlier)
    # The weekend level: 50 ng/L × 50,000 m³/d for 200,000 inhabitants = 12.5 mg/day/1000 (weekdays: 5).
    assert figure_value(spike, "Median of the baseline") == pytest.approx(12.5, rel=0.05)
    # A region that judges MDMA against every day sees its weekly rhythm as drops on Tuesdays to Thursdays.
    WastewaterAnomaly.objects.all().delete()
    services.settings_publish(
        actor=None,
        region_code="330203",
        effective_from=dt.date(2020, 1, 1),
        label="one baseline for every day",
        payload={"anomalies": {"robust_z": {"day_type_baseline": []}}},
    )
    run_anomalies(as_of=AS_OF)
    drops = [flag for flag in flags("robust_z", analyte__code="MDMA") if flag.level == "notice"]
    assert len(drops) > 20 and {flag.day.weekday() for flag in drops} <= {1, 2, 3}
    assert "same type" not in anomaly_explanation(drops[0])


def test_days_under_the_loq_are_never_numbers(sites):
    """Every third day METH is under its LOQ (5 ng/L, far below the usual 100). Used as numbers (LOQ, LOQ/2 or
    0) they would drag the median down and the quantified days up to "spikes"; the LOQ days themselves would be
    "drops". They are neither judged nor part of a baseline."""

    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": Below(5), "AMP": Below(2)} if index % 3 == 0 else values

    store_series("HS-01", 90, make)
    assert run_anomalies(as_of=AS_OF)["findings"] == 0
    ctx = AnomalyContext(AS_OF)
    points = ctx.points(sites["a"].pk, "METH", days_before(89))
    scored = [ctx.score(sites["a"].pk, "METH", point) for point in points]
    assert all(score is None for point, score in zip(points, scored, strict=True) if point.below_loq)
    last = points[-1]
    assert not last.below_loq
    score = scored[-1]
    assert score is not None and abs(score.z) < 3.5
    # The baseline holds the quantified days only, and its median is theirs.
    quantified = [point for point in points[:-1] if point.quantified]
    assert score.count == len(quantified) == 59
    assert score.median_value == pytest.approx(
        float(np.median([point.value for point in quantified])), rel=1e-9
    )
    loq_bound = AnalyteResult.objects.filter(
        site=sites["a"], analyte__code="METH", status="below_loq"
    ).first()
    assert loq_bound.per_1000 is None and loq_bound.loq_per_1000 < score.median_value / 10


# --- CUSUM ----------------------------------------------------------------------------------------------------


def shifted(start: int, factor: float = 1.6) -> Callable[[int, random.Random], Values]:
    """METH with day-to-day noise σ = 0.12 log10 (cut at ±1.2σ) and a sustained shift from day ``start``."""

    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng, sigma=0.12, clip=1.2)
        if index >= start:
            values = {code: value * factor for code, value in values.items()}
        return values

    return make


def test_cusum_finds_a_sustained_rise_that_no_single_day_shows(sites):
    store_series("HS-01", 90, shifted(60))
    shift_day = days_before(29)
    summary = run_anomalies(as_of=AS_OF)
    ups = flags("cusum", analyte__code="METH")
    assert len(ups) == 1 and ups[0].params["direction"] == "up"
    flag = ups[0]
    start = dt.date.fromisoformat(flag.params["start"])
    # The start is the last day the sum was 0 before the alarm: a few days of noise may come first.
    assert shift_day - dt.timedelta(days=7) <= start <= shift_day
    assert shift_day + dt.timedelta(days=2) <= flag.day <= shift_day + dt.timedelta(days=10)
    assert float(flag.params["sum"]) > 8 and flag.level == "warning"
    assert 1.3 < float(flag.params["ratio"]) < 1.9
    assert flag.dedup_key == f"cusum:{sites['a'].pk}:METH:up:{start.isoformat()}"
    text = anomaly_explanation(flag)
    assert f"Sustained rise of METH from {start.isoformat()}" in text and "passed 8 σ on" in text
    # No day of the shift is extreme on its own: the z-score stays silent on METH.
    assert not flags("robust_z", analyte__code="METH")
    assert summary["by_rule"].get("robust_z", 0) == len(flags("robust_z"))


def test_cusum_is_silent_on_a_clean_series_and_one_spike_is_not_a_shift(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = shifted(10_000)(index, rng)
        return {"METH": values["METH"] * 10, "AMP": values["METH"] * 10 * 0.09} if index == 70 else values

    store_series("HS-01", 90, make)
    run_anomalies(as_of=AS_OF)
    assert not flags("cusum")
    assert [flag.day for flag in flags("robust_z")] == [days_before(19)] * 2


def test_a_later_run_updates_the_shifts_flag_instead_of_adding_one(sites):
    store_series("HS-01", 90, shifted(60))
    first = run_anomalies(as_of=days_before(15))
    [flag] = flags("cusum", analyte__code="METH")
    assert first["by_rule"]["cusum"] >= 1
    second = run_anomalies(as_of=AS_OF)
    [again] = flags("cusum", analyte__code="METH")
    assert again.pk == flag.pk and again.params["start"] == flag.params["start"]
    assert again.params["last"] > flag.params["last"] and again.params["days"] > flag.params["days"]
    assert second["updated"] >= 1 and second["created"] == 0


# --- Ratios and markers ---------------------------------------------------------------------------------------


def test_a_high_amphetamine_ratio_is_one_notice_per_month(sites):
    store_series("HS-01", 60, lambda i, rng: meth_and_amp(rng, ratio=0.4))
    summary = run_anomalies(as_of=AS_OF)
    assert summary["by_rule"] == {"amp_ratio_high": 2}
    may, june = flags("amp_ratio_high")
    assert may.params["month"] == "2025-05" and june.params["month"] == "2025-06"
    assert may.params["days"] == 30 and june.params["days"] == 30
    assert may.day == days_before(59) and may.level == "notice"
    assert len([item for item in june.evidence if item["kind"] == "sample"]) == 30
    ratios = [item["ratio"] for item in june.evidence if item["kind"] == "sample"]
    assert june.params["ratio"] == f"{float(np.median(ratios)):.3g}"
    text = anomaly_explanation(june)
    assert "AMP/METH was above 0.25 on 30 days" in text and "selegiline" in text


def test_methcathinone_with_ephedrine_is_an_artefact_without_it_a_warning(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        if index < 35:
            values.update(MCAT=5 * noise(rng, 0.05), EPH=300 * noise(rng, 0.05), PSE=100 * noise(rng, 0.05))
        elif index == 35:
            values.update(MCAT=20, EPH=Below(10), PSE=Below(10))
        elif index == 36:
            values.update(MCAT=20, EPH=40, PSE=10)
        elif index == 37:
            values.update(MCAT=15)
        return values

    store_series("HS-01", 38, make)
    run_anomalies(as_of=AS_OF)
    found = flags("mcat_ephedrine")
    artefacts = [flag for flag in found if flag.level == "notice"]
    assert [flag.params["month"] for flag in artefacts] == ["2025-05", "2025-06"]
    assert sum(flag.params["days"] for flag in artefacts) == 35
    assert "likely formed from ephedrine" in anomaly_explanation(artefacts[0])
    assert float(artefacts[1].params["ratio"]) >= 10
    warnings = {flag.day: flag for flag in found if flag.level == "warning"}
    assert sorted(warnings) == [days_before(2), days_before(1), days_before(0)]
    assert "under their LOQ" in anomaly_explanation(warnings[days_before(2)])
    assert "only 2.5× as much (50 ng/L" in anomaly_explanation(warnings[days_before(1)])
    assert "were not measured" in anomaly_explanation(warnings[days_before(0)])


def test_6mam_proves_heroin_and_morphine_spikes_are_explained_by_their_codeine_share(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        values.update(MOR=20 * noise(rng, 0.05), COD=30 * noise(rng, 0.05), **{"6MAM": Below(1)})
        if index == 36:
            values.update(MOR=160, COD=300)
        elif index == 37:
            values.update(MOR=160, COD=10)
        elif index == 38:
            values.update(MOR=160, **{"6MAM": 3.0})
        elif index == 39:
            values.update(MOR=160, COD=Below(5))
        return values

    store_series("HS-01", 40, make)
    run_anomalies(as_of=AS_OF)
    [heroin] = flags("heroin_marker")
    assert heroin.day == days_before(1) and heroin.level == "warning" and heroin.analyte.code == "6MAM"
    assert "6-MAM, which only heroin leaves, was quantified on" in anomaly_explanation(heroin)
    assert "3.00 ng/L" not in anomaly_explanation(heroin) and "3 ng/L" in anomaly_explanation(heroin)
    sources = {flag.day: flag for flag in flags("morphine_sources")}
    # The 6-MAM day is heroin's, not a question of sources.
    assert sorted(sources) == [days_before(3), days_before(2), days_before(0)]
    explained = sources[days_before(3)]
    assert explained.level == "notice" and explained.params["share"] == f"{300 / 460:.3g}"
    assert "likely codeine, medical morphine or poppy-shell products" in anomaly_explanation(explained)
    unexplained = sources[days_before(2)]
    assert unexplained.level == "warning" and unexplained.params["share"] == f"{10 / 170:.3g}"
    assert "codeine does not explain it" in anomaly_explanation(unexplained)
    bounded = sources[days_before(0)]
    assert bounded.level == "warning" and "at most 0.0303" in anomaly_explanation(bounded)


def test_rain_high_flow_and_design_capacity_ask_for_loads(sites):
    site_c = services.site_create(
        actor=None,
        code="HS-02",
        name="海曙第二污水处理厂",
        org_unit_code="330203",
        population=100_000,
        design_capacity_m3_per_day=60_000,
    )

    def flow(index: int, rng: random.Random) -> float:
        return 50_000 * noise(rng, 0.01)

    store_series("HS-01", 40, lambda i, rng: meth_and_amp(rng), flow=flow, rain={30, 38})
    # Day 38 rained hard (its flow far above the site's 95th percentile); day 30 rained lightly.
    WastewaterSample.objects.filter(site=sites["a"], end_date=days_before(1)).update(flow_m3_per_day=80_000)
    store_series(
        "HS-02",
        40,
        lambda i, rng: meth_and_amp(rng),
        flow=lambda index, rng: 65_000.0 if index == 35 else flow(index, rng),
    )
    summary = run_anomalies(as_of=AS_OF)
    assert summary["by_rule"] == {"flow": 2}
    [rain] = flags("flow", site=sites["a"])
    assert rain.day == days_before(1) and rain.level == "notice" and rain.sample.rain
    text = anomaly_explanation(rain)
    assert "Rain was reported." in text and "judge this day on loads, not concentrations" in text
    assert "the 95th percentile of the site's flows" in text
    [high] = flags("flow", site=site_c)
    assert high.day == days_before(4) and high.sample_id == high.evidence[0]["sample"]
    text = anomaly_explanation(high)
    assert "Influent flow on" in text and "65,000 m³/d" in text
    assert "the 95th percentile of the site's flows" in text and "plus 10 %" in text
    assert "above the design capacity of 60,000 m³/d" in text
    assert "Rain" not in text


def test_a_light_rain_day_is_flagged_only_when_the_region_asks(sites):
    store_series(
        "HS-01",
        40,
        lambda i, rng: meth_and_amp(rng),
        flow=lambda i, rng: 50_000 * noise(rng, 0.01),
        rain={38},
    )
    run_anomalies(as_of=AS_OF)
    assert not flags("flow")
    services.settings_publish(
        actor=None,
        region_code="330203",
        effective_from=dt.date(2020, 1, 1),
        label="rain days",
        payload={"anomalies": {"flow": {"rain_alone": True}}},
    )
    run_anomalies(as_of=AS_OF)
    [rain] = flags("flow")
    assert rain.day == days_before(1) and "Rain was reported." in anomaly_explanation(rain)
    assert "percentile" not in anomaly_explanation(rain)


def test_cusum_ignores_shifts_smaller_than_the_minimum_effect(sites):
    def make(index: int, rng: random.Random) -> Values:
        # Quiet noise (σ = 0.03 log10) and a +15 % shift from day 60: about 2σ, sustained.
        values = meth_and_amp(rng, sigma=0.03, clip=1.2)
        return {code: value * 1.15 for code, value in values.items()} if index >= 60 else values

    store_series("HS-01", 90, make)
    services.settings_publish(
        actor=None,
        region_code="330203",
        effective_from=dt.date(2020, 1, 1),
        label="tight noise",
        payload={"anomalies": {"cusum": {"min_shift_percent": 25}}},
    )
    run_anomalies(as_of=AS_OF)
    assert not flags("cusum", analyte__code="METH")
    services.settings_publish(
        actor=None,
        region_code="330203",
        effective_from=dt.date(2021, 1, 1),
        label="every shift",
        payload={"anomalies": {"cusum": {"min_shift_percent": 0}}},
    )
    run_anomalies(as_of=AS_OF)
    [flag] = flags("cusum", analyte__code="METH")
    assert 1.05 < float(flag.params["ratio"]) < 1.25


def test_cotinine_implying_another_population_is_one_notice_for_the_month(sites):
    # 1,680 ng/L at 50,000 m³/d with 3 cigarettes per head and day is 200,000 people, site A's estimate.
    assert cotinine_population(
        1680, 50_000, cigarettes=3, mg_per_cigarette=0.14, domestic_share=1
    ) == pytest.approx(200_000)

    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        values["COT"] = (4000.0 if 30 <= index < 36 else 1680.0) * noise(rng, 0.04)
        return values

    store_series("HS-01", 40, make)
    summary = run_anomalies(as_of=AS_OF)
    assert summary["by_rule"] == {"population_marker": 1}
    [flag] = flags("population_marker")
    assert flag.params["month"] == "2025-06" and flag.params["days"] == 6 and flag.day == days_before(9)
    implied = [item["implied_population"] for item in flag.evidence if item["kind"] == "sample"]
    cotinine = [item["ng_per_l"] for item in flag.evidence if item["kind"] == "sample"]
    # (The evidence keeps six digits of the concentration.)
    assert implied == pytest.approx([c * 5 * 10 / (3 * 0.14 * 1000) * 1000 for c in cotinine], abs=1)
    assert float(flag.params["implied"].replace(",", "")) == pytest.approx(float(np.median(implied)), abs=1)
    deviation = float(np.median(implied)) / 200_000 - 1
    assert flag.params["deviation"] == f"{deviation * 100:+.0f}" and deviation > 0.5
    assert "beyond ±50 %" in anomaly_explanation(flag) and "200,000" in anomaly_explanation(flag)


def test_a_clean_site_raises_nothing(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        values.update(
            MOR=20 * noise(rng, 0.05),
            COD=30 * noise(rng, 0.05),
            KET=12 * noise(rng, 0.05),
            COT=1680 * noise(rng, 0.04),
            EPH=80 * noise(rng, 0.05),
            **{"6MAM": Below(1), "MDMA": Below(2)},
        )
        return values

    store_series("HS-01", 90, make, flow=lambda index, rng: 50_000 * noise(rng, 0.01))
    summary = run_anomalies(as_of=AS_OF)
    assert summary["findings"] == 0 and not WastewaterAnomaly.objects.exists()
    # Silent because the data are clean, not because nothing was judged.
    ctx = AnomalyContext(AS_OF)
    scores = [
        ctx.score(sites["a"].pk, code, point)
        for code in ("METH", "AMP", "MOR", "COD", "KET", "EPH")
        for point in ctx.points(sites["a"].pk, code)
    ]
    judged = [abs(score.z) for score in scores if score is not None]
    assert len(judged) == 6 * (90 - 28) and max(judged) < 3.5


# --- Runs, dedup, windows ----------------------------------------------------------------------------------------


def test_rerunning_never_duplicates_and_new_evidence_updates_the_open_flag(sites, users):
    store_series("HS-01", 59, lambda i, rng: meth_and_amp(rng, ratio=0.4), end=days_before(1))
    first = run_anomalies(as_of=AS_OF)
    assert first["created"] == 2 and first["updated"] == 0
    again = run_anomalies(as_of=AS_OF)
    assert again["created"] == again["updated"] == 0 and again["unchanged"] == 2
    assert WastewaterAnomaly.objects.count() == 2
    may, june = flags("amp_ratio_high")
    # A new day of June: the June flag takes it (one more sample, new figures); May's stays.
    store_series("HS-01", 1, lambda i, rng: {"METH": 100.0, "AMP": 50.0})
    third = run_anomalies(as_of=AS_OF)
    assert third["created"] == 0 and third["updated"] == 1 and third["unchanged"] == 1
    june_after = WastewaterAnomaly.objects.get(pk=june.pk)
    assert june_after.params["days"] == june.params["days"] + 1 == 30
    assert june_after.params["highest"] == "0.5"
    assert len(june_after.evidence) == len(june.evidence) + 1
    # A reviewed flag is the reviewer's: the engine leaves it as it was.
    anomaly_review(
        actor=users["district_a"], anomaly=june_after, status="confirmed", note="selegiline clinic"
    )
    store_series("HS-01", 1, lambda i, rng: {"METH": 100.0, "AMP": 60.0}, end=days_before(60))
    fourth = run_anomalies(as_of=AS_OF)
    assert fourth["reviewed"] == 1 and fourth["created"] == 0
    reviewed = WastewaterAnomaly.objects.get(pk=june.pk)
    assert reviewed.evidence == june_after.evidence and reviewed.status == "confirmed"
    # ...and May's (new) flag took its new day.
    assert WastewaterAnomaly.objects.get(pk=may.pk).params["days"] == may.params["days"] + 1
    run_records = AuditRecord.objects.filter(
        object_type="wastewater.wastewateranomaly", object_id__startswith="run:"
    )
    assert run_records.count() == 3  # the runs that created or changed flags, not the idle rerun


def test_a_corrected_value_withdraws_its_new_flags_and_they_come_back_with_their_cause(sites, users):
    spike = 65
    spiked: dict[str, float] = {}

    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        if index == spike:
            spiked.update(METH=values["METH"] * 10, AMP=values["METH"] * 10 * 0.01)
            return dict(spiked)
        return values

    store_series("HS-01", 70, make)
    store_series("FH-01", 70, make)
    assert run_anomalies(as_of=AS_OF)["created"] == 4
    day = days_before(70 - 1 - spike)
    z_flag = WastewaterAnomaly.objects.get(site=sites["a"], rule="robust_z")
    dumping = WastewaterAnomaly.objects.get(site=sites["a"], rule="meth_dumping")
    anomaly_review(
        actor=users["district_a"], anomaly=z_flag, status="confirmed", note="lab checked the spike"
    )

    def correct(values: Values) -> None:
        entry = services.SampleEntry(
            site="HS-01",
            end_date=day,
            flow_m3_per_day=50_000,
            measurements=[
                services.MeasurementEntry(analyte=code, ng_per_l=round(value, 4))
                for code, value in values.items()
            ],
        )
        services.samples_store(actor=None, entries=[entry], replace=True)

    # The lab corrects the day (a dilution error): 100 ng/L of METH, the usual amphetamine share.
    correct({"METH": 100.0, "AMP": 9.0})
    # A run whose window starts after the day judges nothing there and withdraws nothing.
    assert (
        run_anomalies(as_of=AS_OF, site_ids=[sites["a"].pk], since=day + dt.timedelta(days=1))["withdrawn"]
        == 0
    )
    summary = run_anomalies(as_of=AS_OF, site_ids=[sites["a"].pk], since=day)
    assert summary["findings"] == 0 and summary["withdrawn"] == 1 and summary["created"] == 0
    dumping.refresh_from_db()
    z_flag.refresh_from_db()
    assert dumping.status == "withdrawn" and dumping.get_status_display() == "Withdrawn"
    assert z_flag.status == "confirmed"  # a reviewed flag is the reviewer's, whatever the rules say now
    # The other site was not judged: its flags stay new.
    assert set(WastewaterAnomaly.objects.filter(site=sites["b"]).values_list("status", flat=True)) == {"new"}
    record = AuditRecord.objects.filter(
        object_type="wastewater.wastewateranomaly", object_id__startswith="run:"
    )
    assert record.latest("sequence").detail["withdrawn"] == 1
    # Nobody reviews a withdrawn flag, and nobody withdraws one by hand.
    with pytest.raises(AnomalyConflict):
        anomaly_review(
            actor=users["district_a"], anomaly=dumping, status="dismissed", note="it was corrected"
        )
    other = WastewaterAnomaly.objects.get(site=sites["b"], rule="meth_dumping")
    with pytest.raises(ServiceError) as refused:
        anomaly_review(actor=users["district_b"], anomaly=other, status="withdrawn", note="no longer there")
    assert refused.value.status == 400 and set(refused.value.fields) == {"status"}
    # The correction is taken back: the same flag is new again, with its figures.
    correct(spiked)
    again = run_anomalies(as_of=AS_OF, site_ids=[sites["a"].pk], since=day)
    assert (
        again["created"] == 0 and again["updated"] == 1 and again["reviewed"] == 1 and again["withdrawn"] == 0
    )
    dumping.refresh_from_db()
    assert dumping.status == "new" and WastewaterAnomaly.objects.filter(rule="meth_dumping").count() == 2


def test_a_run_reads_with_the_same_queries_for_more_sites_and_days(sites, django_assert_num_queries):
    """The context loads everything with grouped queries: more days, or another site of a district already
    read, cost no query more (the rules themselves query nothing)."""
    store_series("HS-01", 40, lambda i, rng: meth_and_amp(rng))
    store_series("FH-01", 40, lambda i, rng: meth_and_amp(rng))
    with django_assert_num_queries(7) as captured:
        AnomalyContext(AS_OF).settings(sites["a"].pk, AS_OF)
    baseline = len(captured.captured_queries)
    services.site_create(actor=None, code="HS-02", name="海曙二厂", org_unit_code="330203", population=50_000)
    store_series("HS-02", 120, lambda i, rng: meth_and_amp(rng))
    store_series("HS-01", 60, lambda i, rng: meth_and_amp(rng), end=days_before(40))
    with django_assert_num_queries(baseline):
        ctx = AnomalyContext(AS_OF)
    assert len(ctx.sites) == 3 and len(ctx.samples[sites["a"].pk]) == 100
    with django_assert_num_queries(0):
        for function in RULE_FUNCTIONS.values():
            function(ctx)


def test_the_window_and_full_history(sites):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 10, "AMP": values["AMP"] * 10} if index == 40 else values

    store_series("HS-01", 240, make)
    old_day = days_before(199)
    assert run_anomalies(as_of=AS_OF)["findings"] == 0
    summary = run_anomalies(as_of=AS_OF, full_history=True)
    assert summary["first_day"] == days_before(239).isoformat()
    assert {flag.day for flag in flags("robust_z")} == {old_day}
    WastewaterAnomaly.objects.all().delete()
    assert run_anomalies(as_of=AS_OF, since=old_day)["by_rule"] == {"robust_z": 2}
    WastewaterAnomaly.objects.all().delete()
    assert run_anomalies(as_of=AS_OF, since=old_day + dt.timedelta(days=1))["findings"] == 0
    # Only the asked sites.
    assert run_anomalies(as_of=AS_OF, site_ids=[sites["b"].pk], full_history=True)["findings"] == 0


def test_thresholds_are_those_in_force_for_the_sites_region(sites, users):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 10, "AMP": values["METH"] * 0.1} if index == 65 else values

    store_series("HS-01", 70, make)
    store_series("FH-01", 70, make)
    services.settings_publish(
        actor=users["district_a"],
        region_code="330203",
        effective_from=dt.date(2024, 1, 1),
        label="wider z band",
        payload={"anomalies": {"robust_z": {"threshold": 50}, "meth_ratio": {"dumping_max_ratio": 0.02}}},
    )
    run_anomalies(as_of=AS_OF)
    assert {flag.site.code for flag in flags()} == {"FH-01"}
    assert {flag.rule for flag in flags()} == {"robust_z", "meth_dumping"}


def test_every_message_template_fits_the_stored_field():
    """Messages are stored as templates (translated when shown): each must fit ``message`` and use only the
    parameters its rule fills (checked by the rules' tests through ``anomaly_explanation``)."""
    import ast
    import inspect

    from jindu.wastewater import anomalies

    limit = WastewaterAnomaly._meta.get_field("message").max_length
    templates = [
        node.args[0].value
        for node in ast.walk(ast.parse(inspect.getsource(anomalies)))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "gettext_noop"
    ]
    assert len(templates) > 30
    assert [template for template in templates if len(template) > limit] == []


def test_settings_problems_name_their_key():
    assert validate_settings({}) == []
    assert validate_settings({"anomalies": DEFAULT_ANOMALY_SETTINGS}) == []
    cases = {
        "robust_z": (
            {"robust_z": {"threshold": -1}},
            "anomalies.robust_z.threshold must be a number greater than 0",
        ),
        "level": (
            {"robust_z": {"spike_level": "red"}},
            "anomalies.robust_z.spike_level must be one of notice",
        ),
        "typo": ({"robust_zz": {}}, "anomalies.robust_zz is not a setting of the anomaly rules."),
        "inner": ({"flow": {"percentil": 90}}, "anomalies.flow.percentil is not a setting"),
        "order": (
            {"meth_ratio": {"dumping_max_ratio": 0.06}},
            "anomalies.meth_ratio needs dumping_max_ratio < expected_min",
        ),
        "history": ({"min_history": 400}, "anomalies.min_history cannot exceed anomalies.history_days."),
        "whole": ({"window_days": 1.5}, "anomalies.window_days must be a whole number between 1 and 3650."),
        "flag": ({"cusum": {"enabled": "yes"}}, "anomalies.cusum.enabled must be true or false."),
        "clip": (
            {"cusum": {"clip": 0.4}},
            "anomalies.cusum.clip must be greater than anomalies.cusum.slack.",
        ),
        "share": (
            {"population_marker": {"domestic_share": 1.5}},
            "anomalies.population_marker.domestic_share",
        ),
        "object": ({"flow": 3}, "anomalies.flow must be an object."),
        "codes": (
            {"robust_z": {"day_type_baseline": "MDMA"}},
            "anomalies.robust_z.day_type_baseline must be a list of analyte codes.",
        ),
    }
    for name, (payload, message) in cases.items():
        problems = validate_settings({"anomalies": payload})
        assert any(problem.startswith(message) for problem in problems), (name, problems)
    assert validate_settings({"anomalies": []}) == ["anomalies must be an object."]


def test_storing_samples_can_queue_a_run_for_their_sites(sites, django_capture_on_commit_callbacks):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 10, "AMP": values["AMP"] * 10} if index == 65 else values

    created = store_series("HS-01", 66, make, end=days_before(300, timezone_today()))
    with django_capture_on_commit_callbacks(execute=True):
        job = anomalies_after_store(sample_ids=created)
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.COMPLETED, job.log
    assert job.parameters == {
        "site_ids": [sites["a"].pk],
        "since": days_before(365, timezone_today()).isoformat(),
    }
    [flag] = flags("robust_z", analyte__code="METH")
    assert flag.day == days_before(300, timezone_today())
    assert anomalies_after_store(sample_ids=[]) is None


def timezone_today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()


def test_the_nightly_task_runs_the_rules_as_a_job(sites, settings, django_capture_on_commit_callbacks):
    from jindu.wastewater.tasks import run_anomalies_nightly

    today = timezone_today()

    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 10, "AMP": values["AMP"] * 10} if index == 39 else values

    store_series("FH-01", 40, make, end=today)
    with django_capture_on_commit_callbacks(execute=True):
        queued = run_anomalies_nightly()
    job = Job.objects.get(pk=queued["job"])
    assert job.status == JobStatus.COMPLETED, job.log
    assert job.result["created"] == 2 and job.result["as_of"] == today.isoformat()
    assert "2 new" in job.log
    entry = settings.CELERY_BEAT_SCHEDULE["wastewater-anomalies-nightly"]
    assert entry["task"] == "jindu.wastewater.tasks.run_anomalies_nightly"


def test_a_run_started_by_an_office_covers_its_capture_scope(
    sites, users, django_capture_on_commit_callbacks
):
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 10, "AMP": values["AMP"] * 10} if index == 39 else values

    store_series("HS-01", 40, make)
    store_series("FH-01", 40, make)
    with django_capture_on_commit_callbacks(execute=True):
        job = anomalies_run_start(actor=users["district_b"], as_of=AS_OF)
    assert job.parameters["site_ids"] == [sites["b"].pk] and job.parameters["requested_by"] == "t_district_b"
    assert {flag.site.code for flag in flags()} == {"FH-01"}
    with pytest.raises(ServiceError) as refused:
        anomalies_run_start(
            actor=users["district_b"], site_codes=["HS-01"], as_of=AS_OF + dt.timedelta(days=800)
        )
    assert set(refused.value.fields) == {"sites[0]", "as_of"}
    record = AuditRecord.objects.filter(object_id=f"run:{AS_OF.isoformat()}").latest("sequence")
    assert record.detail["requested_by"] == "t_district_b" and record.detail["created"] == 2


# --- Review ------------------------------------------------------------------------------------------------------


@pytest.fixture
def spike_flags(sites) -> dict[str, WastewaterAnomaly]:
    def make(index: int, rng: random.Random) -> Values:
        values = meth_and_amp(rng)
        return {"METH": values["METH"] * 10, "AMP": values["METH"] * 10 * 0.01} if index == 39 else values

    store_series("HS-01", 40, make)
    store_series("FH-01", 40, make)
    run_anomalies(as_of=AS_OF)
    return {
        "a": WastewaterAnomaly.objects.get(site=sites["a"], rule="meth_dumping"),
        "b": WastewaterAnomaly.objects.get(site=sites["b"], rule="meth_dumping"),
        "a_z": WastewaterAnomaly.objects.get(site=sites["a"], rule="robust_z"),
    }


def test_review_confirm_dismiss_and_reopen_are_audited(spike_flags, users):
    flag = spike_flags["a"]
    confirmed = anomaly_review(
        actor=users["police_a"], anomaly=flag, status="confirmed", note="  traced to a lab  "
    )
    assert confirmed.status == "confirmed" and confirmed.review_note == "traced to a lab"
    assert confirmed.reviewed_by == users["police_a"] and confirmed.reviewed_at is not None
    record = AuditRecord.objects.filter(
        object_type="wastewater.wastewateranomaly", object_id=str(flag.pk)
    ).latest("sequence")
    assert record.actor_username == "t_police_a"
    assert record.detail["from"] == "new" and record.detail["to"] == "confirmed"
    assert record.detail["note"] == "traced to a lab"
    # A reviewed flag is reopened before it is judged the other way.
    with pytest.raises(AnomalyConflict):
        anomaly_review(actor=users["district_a"], anomaly=flag, status="dismissed", note="was a lab error")
    reopened = anomaly_review(actor=users["district_a"], anomaly=flag, status="new", note="lab re-measured")
    assert reopened.status == "new" and reopened.reviewed_by == users["district_a"]
    dismissed = anomaly_review(actor=None, anomaly=flag, status="dismissed", note="lab mix-up confirmed")
    assert dismissed.status == "dismissed" and dismissed.reviewed_by is None
    with pytest.raises(AnomalyConflict):
        anomaly_review(actor=users["district_a"], anomaly=spike_flags["a_z"], status="new", note="reopen it")
    steps = AuditRecord.objects.filter(object_type="wastewater.wastewateranomaly", object_id=str(flag.pk))
    assert [record.detail["to"] for record in steps.order_by("sequence")] == ["confirmed", "new", "dismissed"]


def test_review_refuses_bad_input_and_stores_nothing(spike_flags, users):
    flag = spike_flags["a"]
    before = AuditRecord.objects.count()
    for status, note, fields in (
        ("confirmed", "ok", {"note"}),
        ("confirmed", "     x    ", {"note"}),
        ("maybe", "looks right", {"status"}),
        ("", "", {"status", "note"}),
    ):
        with pytest.raises(ServiceError) as refused:
            anomaly_review(actor=users["district_a"], anomaly=flag, status=status, note=note)
        assert set(refused.value.fields) == fields and refused.value.status == 400
    flag.refresh_from_db()
    assert flag.status == "new" and flag.reviewed_by is None and AuditRecord.objects.count() == before


def test_only_reviewers_of_the_sites_district_review(spike_flags, users, lab):
    for outsider in (users["district_b"], users["street_a"], lab, users["worker_a"], users["sysadmin"]):
        with pytest.raises(NotFound):
            anomaly_review(
                actor=outsider, anomaly=spike_flags["a"], status="confirmed", note="not mine to say"
            )
    # Police of district A search the whole city but review in district A only.
    with pytest.raises(NotFound):
        anomaly_review(actor=users["police_a"], anomaly=spike_flags["b"], status="confirmed", note="not mine")
    anomaly_review(
        actor=users["district_b"], anomaly=spike_flags["b"], status="dismissed", note="plant test run"
    )
    assert WastewaterAnomaly.objects.get(pk=spike_flags["a"].pk).status == "new"


def test_precision_per_rule_is_confirmed_over_reviewed(spike_flags, users):
    anomaly_review(actor=users["district_a"], anomaly=spike_flags["a"], status="confirmed", note="traced it")
    anomaly_review(
        actor=users["district_b"], anomaly=spike_flags["b"], status="dismissed", note="plant test run"
    )
    rows = {row["rule"]: row for row in rule_precision()}
    assert rows["meth_dumping"] == {
        "rule": "meth_dumping",
        "label": "Methamphetamine dumping or production waste",
        "new": 0,
        "confirmed": 1,
        "dismissed": 1,
        "precision": 0.5,
    }
    assert rows["robust_z"]["new"] == 2 and rows["robust_z"]["precision"] is None
    assert rows["flow"]["new"] == 0 and len(rows) == 9
    # Over district A's scope, A's review only.
    assert {row["rule"]: row for row in rule_precision(users["district_a"])}["meth_dumping"][
        "precision"
    ] == 1.0
