"""Pages of the annual reports: the firm's page and its pre-filled form (submission, field errors, correction), the
office's list of its firms on a year and a report's page with the review, the links from the firm's home and the
menu, who may open what, and bounded queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from jindu.core.testing.helpers import assert_max_queries, assert_ui_matrix, ui_client
from jindu.precursors import annual_reports as svc
from jindu.precursors.conftest import date_report_back, uscc
from jindu.precursors.models.annual_reports import AnnualReport, AnnualReportLine
from jindu.precursors.services import enterprise_register
from jindu.precursors.tests.test_annual_reports import PDF, YEAR, a_year_of_ledger
from jindu.precursors.tests.test_warnings import capture, receive

pytestmark = pytest.mark.django_db

LIST = "/precursors/annual-reports/"
FORM = f"/precursors/annual-reports/submit/{YEAR}/"


@pytest.fixture
def ledger(firms: dict[str, Any]) -> dict[str, Any]:
    a_year_of_ledger(firms["a"])
    return firms


def form_values(html_client: Client) -> dict[str, Any]:
    """The form as the page offers it: every input with its pre-filled value."""
    response = html_client.get(FORM)
    assert response.status_code == 200
    data: dict[str, Any] = {"substances": [], "note": ""}
    for row in response.context["rows"]:
        data["substances"].append(row["substance"].code)
        for cell in row["cells"]:
            data[cell["field"]] = cell["value"]
    return data


def messages_of(response: Any) -> str:
    return " ".join(m.message for m in response.context["messages"]) if response.context else ""


def test_the_firm_submits_its_prefilled_report_with_a_file(ledger):
    client = ui_client(ledger["user_a"])
    page = client.get(LIST).content.decode()
    assert (
        f'data-year="{YEAR}"' in page and f'href="{FORM}"' in page and 'data-testid="submit-report"' in page
    )
    form = client.get(FORM)
    html = form.content.decode()
    assert 'data-testid="annual-report-form"' in html and 'value="590.000"' in html  # acetone closing stock
    data = form_values(client)
    assert data["substances"] == ["acetone", "toluene"]
    data["line-acetone-closing_stock"] = "585"
    data["file"] = SimpleUploadedFile("年报.pdf", PDF, content_type="application/pdf")
    response = client.post(FORM, data)
    report = AnnualReport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/precursors/annual-reports/{report.pk}/"
    line = AnnualReportLine.objects.get(revision__report=report, substance__code="acetone")
    assert (line.platform_closing_stock, line.declared_closing_stock) == (590, 585)
    detail = client.get(response["Location"]).content.decode()
    assert (
        'data-differs="1"' in detail and 'data-difference="closing_stock"' in detail and "年报.pdf" in detail
    )
    assert 'data-testid="review-form"' not in detail and 'data-testid="correct-report"' in detail


def test_form_errors_are_shown_next_to_their_inputs_and_nothing_is_stored(ledger, english):
    client = ui_client(ledger["user_a"])
    data = form_values(client)
    data["line-acetone-receipts"] = "-5"
    data["add-substance"] = "hydrochloric-acid"
    data["add-receipts"] = "abc"
    response = client.post(FORM, data)
    assert response.status_code == 200 and not AnnualReport.objects.exists()
    html = response.content.decode()
    assert 'name="line-acetone-receipts" value="-5"' in html and 'name="add-receipts" value="abc"' in html
    assert html.count("invalid-feedback d-block") == 2
    errors = {cell["field"]: cell["error"] for row in response.context["rows"] for cell in row["cells"]}
    assert [field for field, error in errors.items() if error] == ["line-acetone-receipts"]
    assert [cell["field"] for cell in response.context["add_cells"] if cell["error"]] == ["add-receipts"]
    this_year = dt.date.today().year
    response = client.get(f"/precursors/annual-reports/submit/{this_year}/", follow=True)
    assert messages_of(response).count("has not ended yet") == 1  # said once, not repeated after its message


def test_a_correction_starts_from_the_declared_figures_and_the_office_reviews(ledger, users):
    client = ui_client(ledger["user_a"])
    report = svc.annual_report_submit(
        actor=ledger["user_a"], year=YEAR, lines=[{"substance": "acetone", "closing_stock": "585"}]
    )
    correction = form_values(client)
    assert correction["line-acetone-closing_stock"] == "585.000"  # declared, not the platform's 590
    correction["line-acetone-closing_stock"] = "590"
    correction["note"] = "盘点更正"
    client.post(FORM, correction)
    report.refresh_from_db()
    assert report.revision == 2 and svc.with_differences([report])[0].differences == 0
    office = ui_client(users["district_a"])
    detail = office.get(f"/precursors/annual-reports/{report.pk}/").content.decode()
    assert (
        'data-testid="review-form"' in detail
        and 'data-revision="1"' in detail
        and 'data-revision="2"' in detail
    )
    response = office.post(
        f"/precursors/annual-reports/{report.pk}/review/", {"decision": "return"}, follow=True
    )
    assert "note" in messages_of(response)
    office.post(
        f"/precursors/annual-reports/{report.pk}/review/", {"decision": "return", "note": "请附签字页"}
    )
    returned = client.get(FORM).content.decode()
    assert 'data-testid="returned-reason"' in returned and "请附签字页" in returned
    client.post(FORM, form_values(client))
    office.post(f"/precursors/annual-reports/{report.pk}/review/", {"decision": "accept"})
    report.refresh_from_db()
    assert report.status == "reviewed" and report.revision == 3
    # A reviewed report is locked: the form leads back to it.
    response = client.get(FORM)
    assert response.status_code == 302 and response["Location"] == f"/precursors/annual-reports/{report.pk}/"
    assert client.post(FORM, form_values_after_review(report)).status_code == 302
    assert AnnualReport.objects.get(pk=report.pk).revision == 3


def form_values_after_review(report: AnnualReport) -> dict[str, Any]:
    return {"substances": ["acetone"], "line-acetone-receipts": "1"}


def test_the_office_list_shows_every_state_of_its_firms(ledger, users):
    more = {
        name: enterprise_register(actor=None, uscc=uscc(code), name=name, org_unit_code="330203")
        for name, code in (("丙化工", "91330203MA2C00001"), ("丁化工", "91330203MA2D00001"))
    }
    capture(more["丙化工"], [receive("2025-08-01", 10, None)])
    capture(ledger["b"], [receive("2025-08-01", 10, None)])
    date_report_back(svc.annual_report_submit(actor=ledger["user_a"], year=YEAR), dt.date(2026, 4, 3))
    office = ui_client(users["district_a"])
    html = office.get(f"{LIST}?year={YEAR}").content.decode()
    assert 'data-testid="annual-report-states"' in html
    assert f'data-enterprise="{more["丙化工"].pk}" data-state="missing"' in html
    assert f'data-enterprise="{ledger["a"].pk}" data-state="late"' in html
    assert f'data-enterprise="{more["丁化工"].pk}" data-state="no_activity"' in html
    assert f'data-enterprise="{ledger["b"].pk}"' not in html  # district B's firm
    assert 'data-count="missing:1"' in html and 'data-count="late:1"' in html
    filtered = office.get(f"{LIST}?year={YEAR}&state=missing").content.decode()
    assert "丙化工" in filtered and "甲化工有限公司" not in filtered
    # The menu leads officials and firms to their annual-report page.
    assert f'href="{LIST}"' in office.get("/precursors/inspections/").content.decode()
    home = ui_client(ledger["user_a"]).get("/precursors/firm/").content.decode()
    assert 'data-testid="annual-reports-link"' in home and 'data-testid="annual-report-state"' in home


def test_page_matrix(ledger, users):
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    stored = svc.annual_report_file_add(
        actor=ledger["user_a"], report=report, file_name="a.pdf", content_type="application/pdf", data=PDF
    )
    assert_ui_matrix(
        list_url=f"{LIST}?year={YEAR}",
        detail_url=f"/precursors/annual-reports/{report.pk}/",
        marker="甲化工有限公司",
        allowed=[users["district_a"], users["city"], users["police_a"]],
        denied=[users["district_b"], users["worker_a"]],
    )
    detail = f"/precursors/annual-reports/{report.pk}/"
    download = f"{detail}files/{stored.pk}/"
    own = ui_client(ledger["user_a"])
    assert own.get(detail).status_code == 200 and own.get(download).content == PDF
    other = ui_client(ledger["user_b"])
    assert other.get(detail).status_code == 404 and other.get(download).status_code == 404
    assert "甲化工有限公司" not in other.get(LIST).content.decode()
    anonymous = Client()
    for url in (FORM, download):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    # Officials neither file nor correct; police of A read the city but review in A only; firms do not review.
    assert ui_client(users["district_a"]).get(FORM).status_code == 403
    assert ui_client(users["district_a"]).post(f"{detail}files/", {"file": _pdf()}).status_code == 403
    b_report = svc.annual_report_submit(actor=ledger["user_b"], year=YEAR)
    police = ui_client(users["police_a"])
    assert (
        'data-testid="review-form"'
        not in police.get(f"/precursors/annual-reports/{b_report.pk}/").content.decode()
    )
    for client, target in ((police, b_report), (own, report), (ui_client(users["district_b"]), report)):
        response = client.post(f"/precursors/annual-reports/{target.pk}/review/", {"decision": "accept"})
        assert response.status_code == 404
    assert other.post(f"{detail}files/", {"file": _pdf()}).status_code == 404
    assert set(AnnualReport.objects.values_list("status", flat=True)) == {"submitted"}


def _pdf() -> Any:
    return SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")


def test_pages_keep_a_bounded_number_of_queries(ledger, users):
    office, firm = ui_client(users["district_a"]), ui_client(ledger["user_a"])
    report = svc.annual_report_submit(actor=ledger["user_a"], year=YEAR)
    urls = (
        (office, f"{LIST}?year={YEAR}"),
        (office, f"/precursors/annual-reports/{report.pk}/"),
        (firm, LIST),
        (firm, FORM),
    )
    counts: dict[str, list[int]] = {}
    for batch in (range(0, 1), range(1, 6)):
        for number in batch:
            firm_added = enterprise_register(
                actor=None,
                uscc=uscc(f"91330203MA2G{number:05d}"),
                name=f"化工{number}",
                org_unit_code="330203",
            )
            capture(firm_added, [receive("2025-07-01", 10, None)])
            svc.annual_report_submit(actor=None, enterprise=firm_added, year=YEAR)
        svc.annual_report_revise(actor=ledger["user_a"], report=report)
        for client, url in urls:
            client.get(url)  # warm the session and the menu
            with assert_max_queries(16) as context:
                assert client.get(url).status_code == 200
            counts.setdefault(url, []).append(len(context.captured_queries))
    # Six firms and three revisions cost what one firm and two revisions did.
    assert all(first == last for first, last in counts.values()), counts
