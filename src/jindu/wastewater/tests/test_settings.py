"""The versioned settings: shipped defaults, regional versions by effective date, validation, and results that
use the version in force on each sample's day."""

import datetime as dt
import json

import pytest

from jindu.core.jobs import job_run
from jindu.core.models import Job
from jindu.core.policy import policy_publish
from jindu.core.testing.helpers import api_client, assert_error_shape
from jindu.wastewater.models import AnalyteResult
from jindu.wastewater.policies import SETTINGS_KIND, SettingsBook, settings_in_force, validate_settings
from jindu.wastewater.services import MeasurementEntry, SampleEntry, samples_store

pytestmark = pytest.mark.django_db


def test_shipped_defaults_are_in_force_everywhere(tree):
    settings = settings_in_force(tree["district_a"], dt.date(2026, 1, 1))
    assert settings.version.is_default
    assert settings.default_cf_set == "China-Du2020"
    assert sorted(settings.split.weekday) == [1, 2, 3] and sorted(settings.split.weekend) == [0, 4, 5, 6]
    assert settings.draws == 10_000 and settings.stable_band_percent == 10
    assert settings.qa_problem(100, 5) == ""
    assert "recovery 60" in settings.qa_problem(60, None)
    assert "replicate RSD 25" in settings.qa_problem(None, 25)
    assert settings.typical_dose_mg("methamphetamine") == 30


def test_a_regional_version_overrides_only_its_keys_from_its_date(tree):
    policy_publish(
        actor=None,
        kind=SETTINGS_KIND,
        region=tree["district_a"],
        effective_from=dt.date(2026, 3, 5),
        label="海曙 2026",
        payload={"uncertainty": {"analysis_rsd": 0.2}, "qa": {"recovery_min_percent": 80}},
    )
    before = settings_in_force(tree["district_a"], dt.date(2026, 3, 4))
    after = settings_in_force(tree["street_a"], dt.date(2026, 3, 5))
    elsewhere = settings_in_force(tree["district_b"], dt.date(2026, 6, 1))
    assert before.analysis_rsd("METH") == 0.1
    assert after.analysis_rsd("METH") == 0.2
    assert after.sampling_rsd == 0.1  # not in the version: the shipped default
    assert after.qa_problem(75, None) and not before.qa_problem(75, None)
    assert elsewhere.analysis_rsd("METH") == 0.1
    book = SettingsBook()
    assert book.resolve(tree["street_a"].pk, dt.date(2026, 3, 5)).analysis_rsd("METH") == 0.2
    assert book.resolve(tree["street_a"].pk, dt.date(2026, 3, 4)).analysis_rsd("METH") == 0.1


def test_results_use_the_version_in_force_on_the_samples_day(tree, users, sites):
    policy_publish(
        actor=None,
        kind=SETTINGS_KIND,
        region=tree["district_a"],
        effective_from=dt.date(2026, 3, 5),
        label="海曙 2026",
        payload={"uncertainty": {"analysis_rsd": 0.3}},
    )
    entries = [
        SampleEntry(
            site="HS-01", end_date=day, flow_m3_per_day=50_000, measurements=[MeasurementEntry("METH", 100)]
        )
        for day in (dt.date(2026, 3, 4), dt.date(2026, 3, 6))
    ]
    samples_store(actor=users["district_a"], entries=entries)
    early, late = AnalyteResult.objects.order_by("end_date")
    assert early.analysis_rsd == 0.1 and late.analysis_rsd == 0.3
    assert early.per_1000 == late.per_1000 == pytest.approx(25.0)
    assert (late.per_1000_p97_5 - late.per_1000_p2_5) > (early.per_1000_p97_5 - early.per_1000_p2_5)


@pytest.mark.parametrize(
    "payload",
    [
        {"day_split": {"weekday": [1, 2], "weekend": [2, 3]}},
        {"stable_band_percent": 0},
        {"uncertainty": {"draws": 10}},
        {"uncertainty": {"analysis_rsd": -1}},
        {"uncertainty": {"population_rsd_by_method": {"registered": "high"}}},
        {"qa": {"recovery_min_percent": 140}},
        {"typical_doses_mg": {"methamphetamine": 0}},
        {"default_cf_set": ""},
    ],
)
def test_invalid_settings_are_named(payload):
    assert validate_settings(payload)
    assert validate_settings({}) == []


def test_settings_api_publishes_checks_and_recomputes(users, sites):
    client = api_client(users["district_a"])
    samples_store(
        actor=users["district_a"],
        entries=[SampleEntry("HS-01", dt.date(2026, 3, 4), 50_000, [MeasurementEntry("METH", 100)])],
    )
    shown = client.get("/api/v1/wastewater/settings?org_unit=330203001&on=2026-03-04").json()
    assert shown["version"]["region"] is None and shown["settings"]["uncertainty"]["draws"] == 10_000
    body = {
        "region": "330203",
        "effective_from": "2026-01-01",
        "label": "海曙 RSD",
        "payload": {"uncertainty": {"analysis_rsd": 0.25}},
    }
    created = client.post("/api/v1/wastewater/settings", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    shown = client.get("/api/v1/wastewater/settings?on=2026-03-04").json()
    assert shown["version"]["region"] == "330203" and shown["settings"]["uncertainty"]["analysis_rsd"] == 0.25
    job = Job.objects.get(name="wastewater_recompute")
    job_run(job.pk)
    assert AnalyteResult.objects.get().analysis_rsd == 0.25
    bad = client.post(
        "/api/v1/wastewater/settings",
        json.dumps({**body, "effective_from": "2026-02-01", "payload": {"uncertainty": {"draws": 5}}}),
        content_type="application/json",
    )
    assert_error_shape(bad, 400, "invalid_settings")
    other = client.post(
        "/api/v1/wastewater/settings",
        json.dumps({**body, "region": "330213"}),
        content_type="application/json",
    )
    assert_error_shape(other, 400)
    police = api_client(users["police_a"]).post(
        "/api/v1/wastewater/settings", json.dumps(body), content_type="application/json"
    )
    assert_error_shape(police, 404)
    assert_error_shape(client.get("/api/v1/wastewater/settings?org_unit=330213"), 404)
