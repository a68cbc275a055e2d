"""Fixtures of the precursors tests: two registered firms (districts A and B), each with its own account."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jindu.core.roles import Role
from jindu.core.testing.helpers import make_user
from jindu.core.validators import uscc_check_char

FIXTURES = Path(__file__).parent / "tests" / "fixtures" / "epcis"


@pytest.fixture(autouse=True)
def _shipped_configuration(request: pytest.FixtureRequest) -> None:
    """The catalogue and the shipped policies come from data migrations; a transactional test elsewhere in
    the session (a browser test) flushes them, so database tests of this app put them back first."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from jindu.precursors.catalogue import install_catalogue
    from jindu.precursors.inspections import install_default_inspection_policies
    from jindu.precursors.models import MixtureRule, Substance
    from jindu.precursors.permits import install_default_permit_policies
    from jindu.precursors.rating import install_default_credit_scheme
    from jindu.precursors.warnings import install_default_rules

    install_catalogue(Substance, MixtureRule)
    install_default_credit_scheme()
    install_default_permit_policies()
    install_default_rules()
    install_default_inspection_policies()


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


FIRM_A = "91330206MA2AH1XQ7C"  # the shared test users' enterprise account acts for this firm
FIRM_B = uscc("91330213MA2B00001")


@pytest.fixture
def firms(users) -> dict[str, Any]:
    from jindu.precursors.models import Site
    from jindu.precursors.services import enterprise_register

    firm_a = enterprise_register(
        actor=users["district_a"],
        uscc=FIRM_A,
        name="甲化工有限公司",
        org_unit_code="330203",
        activities=["trade"],
    )
    firm_b = enterprise_register(
        actor=users["district_b"],
        uscc=FIRM_B,
        name="乙化工有限公司",
        org_unit_code="330213",
        activities=["use"],
    )
    Site.objects.create(enterprise=firm_a, name="仓库", location_uri=f"urn:jindu:loc:{FIRM_A}:warehouse-1")
    Site.objects.create(enterprise=firm_b, name="车间", location_uri=f"urn:jindu:loc:{FIRM_B}:plant-1")
    user_b = make_user("t_enterprise_b", Role.ENTERPRISE, "330213", enterprise_code=FIRM_B)
    return {"a": firm_a, "b": firm_b, "user_a": users["enterprise"], "user_b": user_b}


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ledger_document(firm: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """An EPCIS document from ``firm`` holding ``events`` (deep-copied)."""
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"jd": "https://jindu.example/voc/"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-02T18:00:00+08:00",
        "sender": f"urn:jindu:party:{firm}",
        "epcisBody": {"eventList": copy.deepcopy(events)},
    }


def date_report_back(report: Any, day: Any, hour: int = 10) -> Any:
    """Date a submitted annual report (and its revisions) back to ``day`` at ``hour`` Beijing time: the tests'
    stand-in for a report filed on that day (the service stamps the moment it runs). Returns the report."""
    import datetime as dt

    from jindu.precursors.models.annual_reports import AnnualReport, AnnualReportRevision

    when = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    AnnualReport.objects.filter(pk=report.pk).update(submitted_at=when, revised_at=when)
    AnnualReportRevision.objects.filter(report_id=report.pk).update(submitted_at=when)
    report.refresh_from_db()
    return report
