"""``jindu wastewater …`` in process: exit codes and what the commands change."""

import datetime as dt

import pytest

from jindu.cli import main
from jindu.core.models import AuditRecord
from jindu.wastewater.models import AnalyteResult
from jindu.wastewater.services import MeasurementEntry, SampleEntry, samples_store

pytestmark = pytest.mark.django_db


def test_recompute_rewrites_the_results_and_is_audited(users, sites, capsys):
    samples_store(
        actor=users["district_a"],
        entries=[SampleEntry("HS-01", dt.date(2026, 3, 4), 50_000, [MeasurementEntry("METH", 100)])],
    )
    AnalyteResult.objects.update(per_1000=0)  # as if the stored results were stale
    assert main(["wastewater", "recompute", "--site", "HS-01"]) == 0
    assert "recomputed 1 results" in capsys.readouterr().out
    assert AnalyteResult.objects.get().per_1000 == pytest.approx(25.0)
    record = AuditRecord.objects.order_by("-sequence").first()
    assert record.object_type == "wastewater.analyteresult" and record.actor_username == "cli"


def test_an_unknown_site_is_bad_input(users, sites, capsys):
    assert main(["wastewater", "recompute", "--site", "NOPE"]) == 2
    assert "no such site: NOPE" in capsys.readouterr().err
