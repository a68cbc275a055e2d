"""Annual reports (年度报告): the platform's figures from the balances, submission and its validation, corrections as
revisions, files, the office's review, the filing states, the credit fact, and the API with its authorization
matrix and bounded lists."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jindu.core.errors import Forbidden, NotFound, ServiceError
from jindu.core.models import AuditRecord
from jindu.core.testing.helpers import api_client, assert_api_matrix, assert_error_shape, assert_max_queries
from jindu.precursors import annual_reports as svc
from jindu.precursors.conftest import FIRM_A, FIRM_B, date_report_back, uscc
from jindu.precursors.models import Enterprise
from jindu.precursors.models.annual_reports import (
    FIGURES,
    AnnualReport,
    AnnualReportFile,
    AnnualReportLine,
    AnnualReportRevision,
)
from jindu.precursors.rating import credit_facts, rate_enterprises
from jindu.precursors.services import enterprise_register
from jindu.precursors.tests.test_warnings import (
    ACETONE,
    capture,
    consume,
    count,
    ev,
    party,
    receive,
    ship,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/precursors"
YEAR = 2025  # an ended year (the tests run in 2026 or later); its report is due on 31 March 2026
TOLUENE = "urn:jindu:class:108-88-3:LOT-T"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def post(client: Client, url: str, payload: Any) -> Any:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


def loss(day: str, kg: float, epc_class: str = ACETONE) -> dict:
    return ev(
        "ObjectEvent",
        day,
        16,
        action="DELETE",
        bizStep="destroying",
        disposition="destroyed",
        quantityList=[{"epcClass": epc_class, "quantity": kg, "uom": "KGM"}],
    )


def a_year_of_ledger(firm: Enterprise) -> None:
    """Firm A's 2025: acetone counted at 100 kg before the year, received, shipped, used, lost and counted at
    590 kg in December (5 kg short of its book stock); toluene received in June and never counted."""
    capture(
        firm,
        [
            count("2024-12-28", 100),
            receive("2025-03-01", 1000, party(FIRM_B)),
            ship("2025-03-05", 300, party(FIRM_B)),
            consume("2025-04-10", 200),
            loss("2025-05-25", 5),
            count("2025-12-28", 590),
            receive("2025-06-01", 50, None, TOLUENE),
            receive("2026-01-05", 70, party(FIRM_B)),  # next year's: not in the 2025 report
        ],
    )


def kg(value: str) -> Decimal:
    return Decimal(value)


def lines_by_code(report: AnnualReport, number: int | None = None) -> dict[str, AnnualReportLine]:
    return {
        line.substance.code: line
        for line in AnnualReportLine.objects.filter(
            revision__report=report, revision__number=number or report.revision
        ).select_related("substance")
    }


@pytest.fixture
def ledger(firms: dict[str, Any]) -> dict[str, Any]:
    a_year_of_ledger(firms["a"])
    return firms


# Platform figures and submission ---------------------------------------------------------------------------


def test_the_platform_figures_are_the_years_balances(ledger):
    figures = svc.platform_figures(ledger["a"].pk, YEAR)
    assert figures is not None
    by_code = {svc.Substance.objects.get(pk=pk).code: values for pk, values in figures.items()}
    assert set(by_code) == {"acetone", "toluene"}
    acetone = by_code["acetone"]
    assert [acetone[name] for name in FIGURES] == [
        kg("100"),
        kg("1000"),
        kg("0"),
        kg("300"),
        kg("200"),
        kg("5"),
        kg("590"),
    ]
    # No stocktake of toluene in December: the year closes at its book stock.
    assert by_code["toluene"]["receipts"] == kg("50") and by_code["toluene"]["closing_stock"] == kg("50")
    assert svc.platform_figures(ledger["b"].pk, YEAR) == {}


def test_a_submission_keeps_the_platform_figures_and_the_declared_ones(ledger):
    report = svc.annual_report_submit(
        actor=ledger["user_a"],
        year=YEAR,
        lines=[{"substance": "acetone", "documented_losses": "10", "closing_stock": 585}],
        note="盘亏 5 kg 已报损",
        file=("年报.pdf", "application/pdf", PDF),
    )
    assert report.enterprise == ledger["a"] and report.org_unit == ledger["a"].org_unit
    assert report.status == "submitted" and report.revision == 1 and report.submitted_by == ledger["user_a"]
    assert report.due_on == dt.date(2026, 3, 31) and report.rules_version is not None
    assert report.is_late == (timezone.localdate() > dt.date(2026, 3, 31))
    lines = lines_by_code(report)
    acetone = lines["acetone"]
    assert (acetone.platform_documented_losses, acetone.declared_documented_losses) == (kg("5"), kg("10"))
    assert (acetone.platform_closing_stock, acetone.declared_closing_stock) == (kg("590"), kg("585"))
    # Figures left out take the platform's, and so does the substance not declared at all.
    assert acetone.declared_receipts == kg("1000") and acetone.declared_opening_stock == kg("100")
    assert lines["toluene"].declared_receipts == lines["toluene"].platform_receipts == kg("50")
    assert [revision.note for revision in report.revisions.all()] == ["盘亏 5 kg 已报损"]
    [stored] = svc.files_of(report)
    assert stored.revision == 1 and stored.size == len(PDF) and stored.file_name == "年报.pdf"
    assert svc.with_differences([report])[0].differences == 1  # acetone only
    record = AuditRecord.objects.filter(object_type="precursors.annualreport", action="CREATE").get()
    assert record.detail["year"] == YEAR and record.detail["differs_from_platform"] == ["acetone"]
    assert record.actor_username == ledger["user_a"].username


def test_a_substance_the_platform_never_saw_is_declared_against_zero(ledger):
    report = svc.annual_report_submit(
        actor=ledger["user_a"], year=YEAR, lines=[{"substance": "hydrochloric-acid", "receipts": "12.5"}]
    )
    line = lines_by_code(report)["hydrochloric-acid"]
    assert line.platform_receipts == kg("0") and line.declared_receipts == kg("12.5")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"year": "next"}, "year"),
        ({"year": 2004}, "year"),
        ({"lines": [{"substance": "acetone", "receipts": "-1"}]}, "lines[0].receipts"),
        ({"lines": [{"substance": "acetone", "receipts": "abc"}]}, "lines[0].receipts"),
        ({"lines": [{"substance": "acetone", "receipts": "1.0001"}]}, "lines[0].receipts"),
        ({"lines": [{"substance": "acetone", "receipt": "1"}]}, "lines[0].receipt"),
        ({"lines": [{"substance": "no-such-thing"}]}, "lines[0].substance"),
        ({"lines": [{"substance": "acetone"}, {"substance": "acetone"}]}, "lines[1].substance"),
        ({"lines": "acetone"}, "lines"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(ledger, payload, field):
    arguments = {"year": YEAR, **payload}
    with pytest.raises(ServiceError) as refused:
        svc.annual_report_submit(actor=ledger["user_a"], **arguments)
    assert refused.value.status == 400 and field in refused.value.fields, refused.value.fields
    assert not AnnualReport.objects.exists() and not AnnualReportRevision.objects.exists()


def test_the_year_must_have_ended_and_the_substance_be_listed_in_it(ledger, english):
    this_year = timezone.localdate().year
    for year, problem in ((this_year + 1, "in the future"), (this_year, "has not ended yet")):
        with pytest.raises(ServiceError) as refused:
            svc.annual_report_submit(actor=ledger["user_a"], year=year)
        assert problem in refused.value.fields["year"]
    with pytest.raises(ServiceError) as refused:
        svc.annual_report_submit(actor=ledger["user_a"], year=2010, lines=[{"substance": "4-ap"}])
    assert "not listed in 2010" in refused.value.fields["lines[0].substance"]  # listed from September 2024


def test_a_second_report_on_the_year_is_a_duplicate_naming_the_first(ledger):
    first = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    with pytest.raises(ServiceError) as refused:
        svc.annual_report_submit(actor=ledger["user_a"], year=YEAR, lines=[{"substance": "acetone"}])
    assert refused.value.status == 409 and refused.value.code == "duplicate"
    assert str(first.pk) in refused.value.message
    assert AnnualReport.objects.count() == 1 and AnnualReportRevision.objects.count() == 1


def test_only_the_firms_own_users_submit(ledger, users):
    with pytest.raises(Forbidden):
        svc.annual_report_submit(actor=users["district_a"], year=YEAR)
    with pytest.raises(ServiceError):
        svc.annual_report_submit(actor=None, year=YEAR)  # the CLI names the firm
    report = svc.annual_report_submit(actor=None, enterprise=ledger["b"], year=YEAR)
    assert report.enterprise == ledger["b"] and report.submitted_by is None


# Corrections and review ------------------------------------------------------------------------------------


def test_a_correction_is_a_new_revision_and_the_earlier_one_stays(ledger):
    report = svc.annual_report_submit(
        actor=ledger["user_a"], year=YEAR, lines=[{"substance": "acetone", "closing_stock": "585"}]
    )
    # A late capture of 2025 changes the platform's figures before the correction.
    capture(ledger["a"], [receive("2025-09-01", 20, None, TOLUENE)])
    revised = svc.annual_report_revise(
        actor=ledger["user_a"],
        report=report,
        lines=[{"substance": "toluene", "receipts": "70"}],
        note="补录9月入库",
    )
    assert revised.revision == 2 and revised.status == "submitted"
    assert revised.submitted_at == report.submitted_at  # timeliness stays that of the first submission
    first, second = lines_by_code(report, 1), lines_by_code(report, 2)
    assert first["toluene"].declared_receipts == kg("50") and first["toluene"].platform_receipts == kg("50")
    assert second["toluene"].declared_receipts == kg("70") and second["toluene"].platform_receipts == kg("70")
    # A figure left out keeps its previous declared value, not the platform's.
    assert second["acetone"].declared_closing_stock == kg("585")
    record = AuditRecord.objects.filter(object_type="precursors.annualreport", action="UPDATE").get()
    assert record.detail["revision"] == 2 and record.detail["previous_revision"] == 1
    assert record.detail["changed"] == {"toluene": {"receipts": ["50.000", "70.000"]}}


def test_review_accepts_or_returns_and_a_reviewed_report_is_locked(ledger, users):
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    office = users["district_a"]
    with pytest.raises(ServiceError) as refused:
        svc.annual_report_review(actor=office, report=report, accept=False, note="")
    assert "note" in refused.value.fields
    returned = svc.annual_report_review(actor=office, report=report, accept=False, note="甲苯入库数量不符")
    assert returned.status == "returned" and returned.review_note == "甲苯入库数量不符"
    with pytest.raises(ServiceError) as refused:
        svc.annual_report_review(actor=office, report=returned, accept=True)
    assert refused.value.status == 409
    corrected = svc.annual_report_revise(actor=ledger["user_a"], report=returned)
    assert corrected.status == "submitted" and corrected.revision == 2
    accepted = svc.annual_report_review(actor=office, report=corrected, accept=True)
    assert accepted.status == "reviewed" and accepted.reviewed_by == office
    for attempt in (
        lambda: svc.annual_report_revise(actor=ledger["user_a"], report=accepted),
        lambda: svc.annual_report_file_add(
            actor=ledger["user_a"],
            report=accepted,
            file_name="x.pdf",
            content_type="application/pdf",
            data=PDF,
        ),
    ):
        with pytest.raises(ServiceError) as refused:
            attempt()
        assert refused.value.status == 409 and refused.value.code == "invalid_transition"
    assert AnnualReportRevision.objects.filter(report=report).count() == 2
    transitions = list(
        AuditRecord.objects.filter(object_type="precursors.annualreport", action="UPDATE")
        .order_by("sequence")
        .values_list("detail__transition", flat=True)
    )
    assert transitions == ["return", "revise", "accept"]


def test_who_may_correct_and_review(ledger, users):
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    with pytest.raises(NotFound):
        svc.annual_report_revise(actor=ledger["user_b"], report=report)  # another firm: not even there
    with pytest.raises(Forbidden):
        svc.annual_report_revise(actor=users["district_a"], report=report)  # officials do not write figures
    for official in (users["district_b"], users["police_a"], ledger["user_a"]):
        other = (
            svc.annual_report_submit(actor=ledger["user_b"], year=YEAR)
            if official is users["police_a"]
            else report
        )
        with pytest.raises(NotFound):
            svc.annual_report_review(actor=official, report=other, accept=True)
    assert AnnualReport.objects.get(pk=report.pk).status == "submitted"


def test_a_bad_file_stores_nothing_and_a_good_one_is_read_back_audited(ledger, users):
    with pytest.raises(ServiceError) as refused:
        svc.annual_report_submit(
            actor=ledger["user_a"], year=YEAR, file=("年报.pdf", "application/pdf", b"GIF89a not a pdf")
        )
    assert "file" in refused.value.fields and not AnnualReport.objects.exists()
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    stored = svc.annual_report_file_add(
        actor=ledger["user_a"],
        report=report,
        file_name="签字页.pdf",
        content_type="application/pdf",
        data=PDF,
    )
    found = svc.access_file(users["district_a"], report.pk, stored.pk)
    assert svc.file_content(users["district_a"], found) == PDF
    assert AuditRecord.objects.filter(action="EXPORT", object_type="precursors.annualreportfile").count() == 1
    with pytest.raises(NotFound):
        svc.access_file(ledger["user_b"], report.pk, stored.pk)


# States and credit -----------------------------------------------------------------------------------------


def test_states_of_a_year(ledger, users):
    more = {
        name: enterprise_register(actor=None, uscc=uscc(code), name=name, org_unit_code="330203")
        for name, code in (("丙化工", "91330203MA2C00001"), ("丁化工", "91330203MA2D00001"))
    }
    capture(ledger["b"], [receive("2025-07-01", 10, None)])
    capture(more["丙化工"], [receive("2025-08-01", 10, None)])
    date_report_back(svc.annual_report_submit(actor=ledger["user_a"], year=YEAR), dt.date(2026, 3, 2))
    date_report_back(svc.annual_report_submit(actor=ledger["user_b"], year=YEAR), dt.date(2026, 4, 9))
    firms = [(firm.pk, firm.org_path) for firm in Enterprise.objects.all()]
    ids = {firm.name: firm.pk for firm in Enterprise.objects.all()}
    before = svc.annual_report_states(firms, [YEAR], today=dt.date(2026, 3, 20))
    after = svc.annual_report_states(firms, [YEAR], today=dt.date(2026, 5, 1))
    assert {name: before[(pk, YEAR)].state for name, pk in ids.items()} == {
        "甲化工有限公司": "on_time",
        "乙化工有限公司": "due",  # filed on 9 April: not yet on 20 March
        "丙化工": "due",
        "丁化工": "no_activity",
    }
    assert {name: after[(pk, YEAR)].state for name, pk in ids.items()} == {
        "甲化工有限公司": "on_time",
        "乙化工有限公司": "late",
        "丙化工": "missing",
        "丁化工": "no_activity",
    }
    assert after[(ids["乙化工有限公司"], YEAR)].days_late == 9
    # The office's rows: what needs attention first, and only the jurisdiction.
    rows = svc.filing_rows(users["district_a"], year=YEAR, today=dt.date(2026, 5, 1))
    assert [(row.name, row.state.state) for row in rows] == [
        ("丙化工", "missing"),
        ("甲化工有限公司", "on_time"),
        ("丁化工", "no_activity"),
    ]
    assert [row.name for row in svc.filing_rows(ledger["user_b"], year=YEAR)] == ["乙化工有限公司"]


def test_credit_facts_and_rating_of_late_and_missing_reports(ledger):
    capture(ledger["b"], [receive("2025-07-01", 10, None)])
    on_time = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    date_report_back(on_time, dt.date(2026, 3, 30))
    ids = [ledger["a"].pk, ledger["b"].pk]

    def annual_facts(as_of: dt.date) -> dict[int, list[Any]]:
        found = credit_facts(ids, as_of)
        return {firm_id: [f for f in found[firm_id] if f.kind == "late_annual_report"] for firm_id in ids}

    facts = annual_facts(dt.date(2026, 6, 1))
    # A filed 2025 in time; its stocktake of 28 December 2024 was activity in 2024, and no report on 2024 came.
    assert [(f.date, f.evidence) for f in facts[ledger["a"].pk]] == [
        (dt.date(2025, 4, 1), f"annual_report_due:{ledger['a'].pk}:2024")
    ]
    [missing] = facts[ledger["b"].pk]
    assert (
        missing.date == dt.date(2026, 4, 1) and missing.evidence == f"annual_report_due:{ledger['b'].pk}:2025"
    )
    late = date_report_back(svc.annual_report_submit(actor=ledger["user_b"], year=YEAR), dt.date(2026, 5, 20))
    [fact] = annual_facts(dt.date(2026, 6, 1))[ledger["b"].pk]
    assert fact.date == dt.date(2026, 5, 20) and fact.evidence == f"annual_report:{late.pk}"
    # Before the deadline nothing is late or missing yet.
    assert annual_facts(dt.date(2026, 3, 31))[ledger["b"].pk] == []
    rate_enterprises(as_of=dt.date(2026, 6, 1), enterprise_ids=ids, trigger="manual")
    reasons = {
        firm.pk: {reason["rule_key"]: reason["points"] for reason in firm.ratings.latest("pk").reasons}
        for firm in Enterprise.objects.filter(pk__in=ids)
    }
    assert reasons[ledger["b"].pk]["late_annual_report"] == -3
    # A's missing 2024 report is more than twelve months old: decayed.
    assert "late_annual_report" not in reasons[ledger["a"].pk]


# API -------------------------------------------------------------------------------------------------------


def test_submit_correct_and_review_through_the_api(ledger, users):
    firm, office = api_client(ledger["user_a"]), api_client(users["district_a"])
    prefilled = firm.get(f"{API}/annual-reports/prefill?year={YEAR}").json()
    assert prefilled["due_on"] == "2026-03-31" and prefilled["report_id"] is None
    acetone = next(line for line in prefilled["lines"] if line["substance"] == "acetone")
    assert (
        Decimal(acetone["platform"]["closing_stock"]) == 590
        and Decimal(acetone["declared"]["opening_stock"]) == 100
    )
    created = post(
        firm,
        f"{API}/annual-reports",
        {"year": YEAR, "lines": [{"substance": "acetone", "closing_stock": 585}]},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    [line] = [line for line in body["revisions"][0]["lines"] if line["substance"] == "acetone"]
    assert line["differs"] and Decimal(line["figures"]["closing_stock"]["difference"]) == -5
    assert body["differences"] == 1 and body["late"] == (timezone.localdate() > dt.date(2026, 3, 31))
    duplicate = post(firm, f"{API}/annual-reports", {"year": YEAR})
    assert_error_shape(duplicate, 409, "duplicate")
    report_id = body["id"]
    assert_error_shape(post(firm, f"{API}/annual-reports", {"year": YEAR + 100}), 400, "invalid")
    negative = post(
        firm,
        f"{API}/annual-reports/{report_id}/revisions",
        {"lines": [{"substance": "acetone", "receipts": -3}]},
    )
    assert "lines[0].receipts" in assert_error_shape(negative, 400, "invalid")["error"]["fields"]
    revised = post(
        firm,
        f"{API}/annual-reports/{report_id}/revisions",
        {"lines": [{"substance": "acetone", "closing_stock": 590}]},
    )
    assert (
        revised.status_code == 200 and revised.json()["revision"] == 2 and revised.json()["differences"] == 0
    )
    assert [revision["number"] for revision in revised.json()["revisions"]] == [2, 1]
    upload = firm.post(f"{API}/annual-reports/{report_id}/files", {"file": _pdf()})
    assert upload.status_code == 201 and upload.json()["revision"] == 2
    download = office.get(f"{API}/annual-reports/{report_id}/files/{upload.json()['id']}/content")
    assert download.status_code == 200 and download.content == PDF
    reviewed = post(office, f"{API}/annual-reports/{report_id}/review", {"accept": True})
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "reviewed"
    assert_error_shape(
        post(firm, f"{API}/annual-reports/{report_id}/revisions", {}), 409, "invalid_transition"
    )
    assert_error_shape(post(office, f"{API}/annual-reports/{report_id}/review", {"accept": True}), 409)


def _pdf() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("年报.pdf", PDF, content_type="application/pdf")


def test_read_matrix_of_reports(ledger, users):
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    stored = svc.annual_report_file_add(
        actor=ledger["user_a"], report=report, file_name="a.pdf", content_type="application/pdf", data=PDF
    )
    allowed = [ledger["user_a"], users["district_a"], users["city"], users["police_a"]]
    denied = [ledger["user_b"], users["district_b"], users["worker_a"], users["street_a"], users["sysadmin"]]
    assert_api_matrix(
        list_url=f"{API}/annual-reports",
        detail_url=f"{API}/annual-reports/{report.pk}",
        marker=FIRM_A,
        allowed=allowed,
        denied=denied,
    )
    content = f"{API}/annual-reports/{report.pk}/files/{stored.pk}/content"
    assert_error_shape(Client().get(content), 401, "not_authenticated")
    for user in denied:
        assert_error_shape(api_client(user).get(content), 404, "not_found")
    for user in allowed:
        assert api_client(user).get(content).content == PDF


def test_write_matrix_of_reports(ledger, users):
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    anonymous = Client()
    for url, payload in (
        (f"{API}/annual-reports", {"year": YEAR}),
        (f"{API}/annual-reports/{report.pk}/revisions", {}),
        (f"{API}/annual-reports/{report.pk}/review", {"accept": True}),
    ):
        assert_error_shape(post(anonymous, url, payload), 401, "not_authenticated")
    assert_error_shape(anonymous.get(f"{API}/annual-reports/prefill?year={YEAR}"), 401, "not_authenticated")
    # Officials read but neither file nor correct a firm's report; they get no pre-filled figures either.
    office = api_client(users["district_a"])
    assert_error_shape(post(office, f"{API}/annual-reports", {"year": YEAR}), 403, "forbidden")
    assert_error_shape(post(office, f"{API}/annual-reports/{report.pk}/revisions", {}), 403, "forbidden")
    assert_error_shape(office.get(f"{API}/annual-reports/prefill?year={YEAR}"), 403, "forbidden")
    assert_error_shape(office.post(f"{API}/annual-reports/{report.pk}/files", {"file": _pdf()}), 403)
    # Another firm's user does not reach the report at all.
    other = api_client(ledger["user_b"])
    assert_error_shape(post(other, f"{API}/annual-reports/{report.pk}/revisions", {}), 404, "not_found")
    assert_error_shape(other.post(f"{API}/annual-reports/{report.pk}/files", {"file": _pdf()}), 404)
    # Reviews: officials of the firm's district only (police of A may read the city, write in A only).
    b_report = svc.annual_report_submit(actor=ledger["user_b"], year=YEAR)
    for user, target in (
        (ledger["user_a"], report),
        (users["district_b"], report),
        (users["police_a"], b_report),
        (users["worker_a"], report),
    ):
        response = post(api_client(user), f"{API}/annual-reports/{target.pk}/review", {"accept": True})
        assert_error_shape(response, 404, "not_found")
    assert AnnualReport.objects.filter(status="submitted").count() == 2
    assert not AnnualReportFile.objects.exists()


def test_states_api_and_its_matrix(ledger, users):
    capture(ledger["b"], [receive("2025-07-01", 10, None)])
    date_report_back(svc.annual_report_submit(actor=ledger["user_a"], year=YEAR), dt.date(2026, 3, 2))
    url = f"{API}/annual-reports/states?year={YEAR}"
    city = api_client(users["city"]).get(url).json()
    states = {item["enterprise"]: item["state"] for item in city["items"]}
    assert states == {FIRM_A: "on_time", FIRM_B: "missing"} and city["year"] == YEAR
    assert city["counts"] == {"due": 0, "on_time": 1, "late": 0, "missing": 1, "no_activity": 0}
    missing = api_client(users["city"]).get(url + "&state=missing").json()
    assert [item["enterprise"] for item in missing["items"]] == [FIRM_B] and missing["count"] == 1
    assert missing["items"][0]["deadline"] == "2026-03-31" and missing["items"][0]["active"] is True
    for user, visible in (
        (users["district_a"], {FIRM_A}),
        (users["district_b"], {FIRM_B}),
        (users["police_a"], {FIRM_A, FIRM_B}),
        (ledger["user_a"], {FIRM_A}),
        (ledger["user_b"], {FIRM_B}),
    ):
        response = api_client(user).get(url)
        assert response.status_code == 200, (user.username, response.content)
        assert {item["enterprise"] for item in response.json()["items"]} == visible, user.username
    for user in (users["worker_a"], users["sysadmin"]):
        assert_error_shape(api_client(user).get(url), 403, "forbidden")
    assert_error_shape(Client().get(url), 401, "not_authenticated")
    this_year = timezone.localdate().year
    assert_error_shape(api_client(users["city"]).get(f"{API}/annual-reports/states?year={this_year}"), 400)
    assert_error_shape(api_client(users["city"]).get(url + "&state=lost"), 400)


def _more_firms_with_reports(count: int, offset: int) -> None:
    for number in range(offset, offset + count):
        firm = enterprise_register(
            actor=None,
            uscc=uscc(f"91330203MA2F{number:05d}"),
            name=f"化工{number:03d}",
            org_unit_code="330203",
        )
        capture(firm, [receive("2025-07-01", 10 + number, None)])
        report = svc.annual_report_submit(actor=None, enterprise=firm, year=YEAR)
        if number % 2:
            svc.annual_report_revise(
                actor=None, report=report, lines=[{"substance": "acetone", "receipts": 1}]
            )


def test_lists_keep_a_bounded_number_of_queries(ledger, users):
    office = api_client(users["district_a"])
    office.get(f"{API}/annual-reports")  # the token's first use
    measured: dict[str, list[int]] = {}
    for offset, added in ((0, 2), (2, 8)):
        _more_firms_with_reports(added, offset)
        for url in (
            f"{API}/annual-reports?page_size=50",
            f"{API}/annual-reports/states?year={YEAR}",
            f"{API}/annual-reports?year={YEAR}&page_size=3",
        ):
            with assert_max_queries(10) as context:
                response = office.get(url)
            assert response.status_code == 200, response.content
            measured.setdefault(url, []).append(len(context.captured_queries))
    # Ten firms cost what two did.
    assert all(len(set(counts)) == 1 for counts in measured.values()), measured
    listed = office.get(f"{API}/annual-reports?page_size=50").json()
    assert listed["count"] == 10 and sum(item["differences"] for item in listed["items"]) == 5
    detail_id = listed["items"][0]["id"]
    with assert_max_queries(12):
        assert office.get(f"{API}/annual-reports/{detail_id}").status_code == 200
