"""Server-rendered pages of the people app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from jindu.core.errors import ServiceError, join_problems
from jindu.core.exports import export_csv
from jindu.core.forms import add_service_error
from jindu.core.policy import policy_in_force
from jindu.core.scoping import WRITE, access_object, accessed_in_capture_scope, require_permission, user_may
from jindu.core.views import ui_errors
from jindu.people import selectors, services
from jindu.people.forms import (
    AbstinenceForm,
    ContactForm,
    DateActionForm,
    DrugTestForm,
    EnrollForm,
    LeaveForm,
    PersonForm,
    PersonSearchForm,
    ReasonActionForm,
    RiskForm,
    SeizureForm,
    TransferForm,
    ViolationForm,
    WorklistFilterForm,
)
from jindu.people.models import ITEM_LABELS, Enrollment, Measure, Person, RiskColor, WorkItemKind
from jindu.people.permissions import ASSESS_PERSON, CHANGE_PERSON, VIEW_PERSON
from jindu.people.policies import RISK_INSTRUMENT

PHASE_LABELS = {
    "awaiting_report": _lazy("Awaiting 报到"),
    "year_1": _lazy("Year 1"),
    "year_2": _lazy("Year 2"),
    "year_3": _lazy("Year 3"),
    "suspended": _lazy("Suspended"),
    "transferring": _lazy("Changing place of execution"),
    "social_control": _lazy("Social control"),
}
ABSTINENT_3Y_LABELS = {"eligible": _lazy("Reached"), "almost": _lazy("Within 90 days"), "no": _lazy("No")}


@login_required
@ui_errors
def person_list(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, VIEW_PERSON)
    search = PersonSearchForm(request.GET or None)
    terms = search.cleaned_data if search.is_valid() else {"id_number": "", "name": ""}
    persons = selectors.persons_search(request.user, id_number=terms["id_number"], name=terms["name"])
    if request.GET.get("export") == "csv":
        try:
            return _export_persons(request, persons)
        except ServiceError as error:
            messages.error(request, error.message)
    page = Paginator(persons, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "people/person_list.html",
        {"page": page, "search": search, "may_register": user_may(request.user, Person, WRITE)},
    )


def _export_persons(request: HttpRequest, persons: Any) -> HttpResponse:
    """The listed persons as CSV: identifiers masked, purpose required, watermarked and audited."""
    return export_csv(
        user=request.user,
        filename=f"persons-{timezone.localdate():%Y%m%d}.csv",
        header=["id", "name", "id_number", "sex", "birth_month", "residence", "control_status", "since"],
        rows=(
            (
                person.pk,
                person.name_masked,
                person.id_number_masked,
                person.sex,
                person.birth_date.strftime("%Y-%m"),
                person.org_unit.code,
                person.control_status,
                person.control_status_since.isoformat() if person.control_status_since else "",
            )
            for person in persons.iterator(chunk_size=2000)
        ),
        object_type="people.person",
        purpose=request.GET.get("purpose", ""),
        filters={k: v for k, v in request.GET.items() if k in {"id_number", "name"} and v},
    )


@login_required
@ui_errors
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The person's file: identity (masked), today's evaluation, the schedule, and quick record forms."""
    person = selectors.access_person(request.user, pk)
    today = timezone.localdate()
    status = selectors.person_status_today(person, today)
    may_write = user_may(request.user, Person, WRITE) and accessed_in_capture_scope(person)
    enrollment = (
        Enrollment.objects.filter(person=person)
        .select_related("org_unit")
        .order_by("-decision_date", "-id")
        .first()
    )
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "status": status,
            "measure_label": Measure(status.measure).label if status.measure else "",
            "phase_label": PHASE_LABELS.get(status.phase or "", status.phase or ""),
            "abstinent_3y_label": ABSTINENT_3Y_LABELS[status.abstinent_3y],
            "risk_label": RiskColor(status.risk_color).label if status.risk_color else "",
            "schedule": [(ITEM_LABELS.get(i.item, i.item), i) for i in status.schedule],
            "overdue": [(ITEM_LABELS.get(i.item, i.item), i) for i in status.overdue],
            "may_write": may_write,
            "enrollment": enrollment,
            "test_form": DrugTestForm(initial={"kind": "urine", "result": "negative", "sample_date": today}),
            "contact_form": ContactForm(initial={"kind": "visit", "date": today}),
        },
    )


def _record(request: HttpRequest, pk: int, form_class: type, service: Callable[..., Any]) -> HttpResponse:
    person = access_object(request.user, Person, pk, action=WRITE)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            service(actor=request.user, person=person, **form.cleaned_data)
        except ServiceError as error:
            messages.error(request, error.message + " " + join_problems(error.fields.values()))
        else:
            messages.success(request, _("Recorded."))
    else:
        messages.error(request, join_problems(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    return redirect("people:person_detail", pk=pk)


@login_required
@require_POST
@ui_errors
def record_test(request: HttpRequest, pk: int) -> HttpResponse:
    return _record(request, pk, DrugTestForm, services.drug_test_record)


@login_required
@require_POST
@ui_errors
def record_contact(request: HttpRequest, pk: int) -> HttpResponse:
    return _record(request, pk, ContactForm, services.contact_record)


@login_required
@ui_errors
def worklist(request: HttpRequest) -> HttpResponse:
    """Today's work (or any day's): due, overdue, 脱管 and eligibility items of the persons in my scope."""
    require_permission(request.user, VIEW_PERSON)
    form = WorklistFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    today = timezone.localdate()
    as_of = min(data.get("as_of") or today, today)
    entries = selectors.worklist(
        request.user,
        as_of=as_of,
        kinds=[data["kind"]] if data.get("kind") else None,
        worker=request.user if data.get("mine") else None,
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    rows = []
    for row in page:
        rows.append(
            {
                "entry": row,
                "kind_label": WorkItemKind(row.kind).label,
                "item_label": ITEM_LABELS.get(row.item, row.item),
            }
        )
    return render(request, "people/worklist.html", {"form": form, "page": page, "rows": rows, "as_of": as_of})


@login_required
@ui_errors
def person_register(request: HttpRequest) -> HttpResponse:
    require_permission(request.user, CHANGE_PERSON)
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registered = services.person_register(
                actor=request.user,
                id_number=data["id_number"],
                name=data["name"],
                residence_code=data["residence"].strip(),
                phone=data["phone"],
                household_registration_code=data["household_registration"].strip(),
                first_found_date=data["first_found_date"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Person registered."))
            if registered.possible_duplicate is not None:
                messages.warning(
                    request, _("Another person has the same name and birth date: check for a duplicate.")
                )
            return redirect("people:person_detail", pk=registered.person.pk)
    return render(request, "people/person_form.html", {"form": form})


# Lifecycle and assessment actions on the person page --------------------------------------------------

# action → (form, what it needs: "enrollment" for a transition of the measure in force, else the person)
ACTIONS: dict[str, tuple[type, str]] = {
    "enroll": (EnrollForm, "person"),
    "report": (DateActionForm, "enrollment"),
    "agreement": (DateActionForm, "enrollment"),
    "not_reported": (DateActionForm, "enrollment"),
    "leave": (LeaveForm, "enrollment"),
    "transfer": (TransferForm, "enrollment"),
    "transfer_report": (DateActionForm, "enrollment"),
    "suspend": (ReasonActionForm, "enrollment"),
    "resume": (DateActionForm, "enrollment"),
    "violation": (ViolationForm, "enrollment"),
    "refer": (ReasonActionForm, "enrollment"),
    "terminate": (ReasonActionForm, "enrollment"),
    "release": (DateActionForm, "enrollment"),
    "seizure": (SeizureForm, "person"),
    "risk": (RiskForm, "person"),
    "abstinence": (AbstinenceForm, "person"),
}
# Which actions each enrollment status offers (the services check the rules again).
STATUS_ACTIONS = {
    "decided": ["report", "not_reported"],
    "reported": ["agreement", "refer", "terminate", "violation"],
    "in_progress": ["leave", "transfer", "suspend", "violation", "refer", "terminate", "release"],
    "transferring": ["transfer_report", "suspend", "violation", "refer", "terminate"],
    "suspended": ["resume", "terminate"],
}


def _run_action(request: HttpRequest, person: Person, action: str, form: Any) -> None:
    data, actor = form.cleaned_data, request.user
    if action == "enroll":
        services.enrollment_create(
            actor=actor,
            person=person,
            measure=data["measure"],
            decision_date=data["decision_date"],
            org_unit_code=data["org_unit"].strip(),
            term_months=data["term_months"],
        )
    elif action == "seizure":
        services.seizure_record(actor=actor, person=person, date=data["date"], note=data["note"])
    elif action == "risk":
        services.risk_assess(
            actor=actor,
            person=person,
            date=data["date"],
            answers=form.answers(),
            final_color=data["final_color"],
            override_reason=data["override_reason"],
            trigger=data["trigger"],
        )
    elif action == "abstinence":
        require_permission(actor, ASSESS_PERSON)
        services.abstinence_assess(
            actor=actor, person=person, date=data["date"], outcome=data["outcome"], note=data["note"]
        )
    else:
        enrollment = (
            Enrollment.objects.filter(person=person, status__in=list(STATUS_ACTIONS))
            .order_by("-decision_date", "-id")
            .first()
        )
        if enrollment is None or action not in STATUS_ACTIONS[enrollment.status]:
            raise services.InvalidTransition(_("This step is not possible now."), code="invalid_transition")
        service = {
            "report": services.enrollment_report,
            "agreement": services.enrollment_sign_agreement,
            "transfer_report": services.enrollment_transfer_report,
            "resume": services.enrollment_resume,
            "release": services.enrollment_release,
            "suspend": services.enrollment_suspend,
            "refer": services.enrollment_refer,
            "terminate": services.enrollment_terminate,
        }.get(action)
        if service is not None:
            service(actor=actor, enrollment=enrollment, **data)
        elif action == "not_reported":
            services.enrollment_not_reported(actor=actor, enrollment=enrollment, as_of=data["date"])
        elif action == "leave":
            services.enrollment_leave(actor=actor, enrollment=enrollment, **data)
        elif action == "transfer":
            services.enrollment_transfer(
                actor=actor, enrollment=enrollment, org_unit_code=data["org_unit"].strip(), date=data["date"]
            )
        elif action == "violation":
            services.violation_record(
                actor=actor,
                enrollment=enrollment,
                kind=data["kind"],
                date=data["date"],
                days_away=data["days_away"] or 0,
                note=data["note"],
            )


@login_required
@require_POST
@ui_errors
def person_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One lifecycle step or assessment from the person page; errors come back as messages."""
    if action not in ACTIONS:
        raise Http404()
    person = access_object(request.user, Person.objects.select_related("org_unit"), pk, action=WRITE)
    form_class, _needs = ACTIONS[action]
    kwargs: dict[str, Any] = {}
    if form_class is RiskForm:
        kwargs["instrument"] = policy_in_force(RISK_INSTRUMENT, person.org_unit, timezone.localdate())
    form = form_class(request.POST, **kwargs)
    if not form.is_valid():
        messages.error(
            request,
            join_problems(
                f"{form.fields[k].label}: {' '.join(v)}" for k, v in form.errors.items() if k in form.fields
            ),
        )
        return redirect("people:person_detail", pk=pk)
    try:
        _run_action(request, person, action, form)
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        messages.error(request, " ".join([error.message, join_problems(error.fields.values())]).strip())
    else:
        messages.success(request, _("Recorded."))
    return redirect("people:person_detail", pk=pk)


def action_forms(person: Person, enrollment: Any, user: Any) -> list[tuple[str, str, Any]]:
    """The action forms the person page offers now: (action, title, form)."""
    today = timezone.localdate()
    titles = {
        "enroll": _("Measure decided and served (决定送达)"),
        "report": _("Reported (报到)"),
        "agreement": _("Agreement signed"),
        "not_reported": _("Not reported: refer to the police"),
        "leave": _("Leave (外出请假)"),
        "transfer": _("Change the place of execution"),
        "transfer_report": _("Reported at the new place"),
        "suspend": _("Suspend (中止)"),
        "resume": _("Resume (恢复)"),
        "violation": _("Violation of the agreement"),
        "refer": _("Refer to the police (移交公安)"),
        "terminate": _("Terminate (终止)"),
        "release": _("Release at term end (期满解除)"),
        "seizure": _("Caught using drugs (查获)"),
        "risk": _("Risk assessment"),
        "abstinence": _("Abstinence assessment (戒断三年 / 无感化)"),
    }
    names = list(STATUS_ACTIONS.get(enrollment.status, [])) if enrollment is not None else []
    if enrollment is None or enrollment.measure == "social_control":
        names.insert(0, "enroll")
    names += ["seizure", "risk"]
    if user.has_jindu_perm(ASSESS_PERSON):
        names.append("abstinence")
    forms_out = []
    for name in names:
        form_class = ACTIONS[name][0]
        if form_class is RiskForm:
            form = RiskForm(
                instrument=policy_in_force(RISK_INSTRUMENT, person.org_unit, today), initial={"date": today}
            )
        elif form_class is EnrollForm:
            form = EnrollForm(initial={"decision_date": today, "org_unit": person.org_unit.code})
        else:
            form = form_class(initial={"date": today, "start": today, "end": today})
        forms_out.append((name, titles[name], form))
    return forms_out


@login_required
@ui_errors
def person_actions(request: HttpRequest, pk: int) -> HttpResponse:
    """The step and assessment forms of the person page (a fragment loaded by htmx; writers only)."""
    person = access_object(request.user, Person.objects.select_related("org_unit"), pk, action=WRITE)
    enrollment = Enrollment.objects.filter(person=person).order_by("-decision_date", "-id").first()
    return render(
        request,
        "people/_person_actions.html",
        {"person": person, "actions": action_forms(person, enrollment, request.user)},
    )


@login_required
@ui_errors
def person_casework(request: HttpRequest, pk: int) -> HttpResponse:
    """The social worker and help measures of the person page (a fragment loaded by htmx; an audited read
    of its own, since it can be requested on its own)."""
    person = selectors.access_person(request.user, pk)
    return render(request, "people/_person_casework.html", {"person": person})
