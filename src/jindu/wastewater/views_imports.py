"""Pages of the wastewater app: lab-file import, correction-factor sets, and the international comparison."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jindu.core.errors import Forbidden, NotFound, ServiceError
from jindu.core.forms import StyledForm
from jindu.core.models import OrgUnit, User
from jindu.core.scoping import access_object, require_permission, search_root_ids
from jindu.core.views import ui_errors
from jindu.wastewater import euda, lab_import, services
from jindu.wastewater.models import (
    Analyte,
    CorrectionFactorSet,
    LabImport,
    SamplingSite,
    WastewaterSample,
)
from jindu.wastewater.permissions import CAPTURE_SAMPLES, MANAGE_FACTORS, VIEW_WASTEWATER
from jindu.wastewater.policies import settings_in_force


def _user(request: HttpRequest) -> User:
    """The signed-in account (every view here requires one)."""
    return cast(User, request.user)


# --- Import -------------------------------------------------------------------------------------------------------


class LabFileForm(StyledForm):
    file = forms.FileField(label=gettext_lazy("Lab file (.xlsx or .csv)"))


def _site_links(codes: list[str]) -> list[dict[str, Any]]:
    """The sites of an import with a link to their page where the site pages exist."""
    sites = SamplingSite.objects.filter(code__in=codes).order_by("code").values("pk", "code", "name")
    links = []
    for site in sites:
        try:
            url = reverse("wastewater:site_detail", args=[site["code"]])
        except NoReverseMatch:
            url = ""
        links.append({**site, "url": url})
    return links


@login_required
@ui_errors
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload a lab file: the counts after success, the row-by-row report after a refusal, recent imports."""
    require_permission(request.user, CAPTURE_SAMPLES)
    form = LabFileForm(request.POST or None, request.FILES or None)
    problems: list[lab_import.Problem] = []
    total = 0
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            lab_import.check_size(upload.size or 0)
            outcome = lab_import.lab_file_import(
                actor=request.user, file_name=upload.name or "", content=upload.read()
            )
        except (NotFound, Forbidden):
            raise
        except lab_import.LabFileRefused as refused:
            messages.error(request, refused.message)
            problems, total = refused.problems, refused.total
        except ServiceError as error:
            form.add_error("file", error.message)
        else:
            if outcome.already_imported:
                messages.info(request, outcome.message)
            else:
                messages.success(request, lab_import.describe_outcome(outcome))
            if outcome.lab_import is not None:
                return redirect("wastewater:import_detail", pk=outcome.lab_import.pk)
            return redirect("wastewater:import")
    recent = (
        LabImport.objects.for_user(request.user)
        .select_related("imported_by")
        .order_by("-created", "-pk")[:20]
    )
    return render(
        request,
        "wastewater/import.html",
        {
            "form": form,
            "problems": problems,
            "total": total,
            "recent": recent,
            "notes": lab_import.template_notes(),
            "max_rows": lab_import.MAX_ROWS,
        },
    )


@login_required
@ui_errors
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """The published template (.xlsx with a notes sheet, or .csv)."""
    from jindu.wastewater.api_imports import template_response

    require_permission(request.user, CAPTURE_SAMPLES)
    if kind not in ("xlsx", "csv"):
        raise Http404()
    return template_response(kind)


@login_required
@ui_errors
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: who, when, the counts, its sites and the samples it created or changed."""
    found = access_object(request.user, LabImport.objects.select_related("imported_by", "org_unit"), pk)
    samples = (
        WastewaterSample.objects.filter(lab_import=found)
        .select_related("site")
        .order_by("site__code", "end_date")
    )
    page = Paginator(samples, 100).get_page(request.GET.get("page"))
    codes = list(
        WastewaterSample.objects.filter(lab_import=found).values_list("site__code", flat=True).distinct()
    )
    return render(
        request,
        "wastewater/import_detail.html",
        {
            "lab_import": found,
            "page": page,
            "sites": _site_links(codes),
            "may_import": _user(request).has_jindu_perm(CAPTURE_SAMPLES),
        },
    )


# --- Correction-factor sets -----------------------------------------------------------------------------------------


def _default_cf_set_name(request: HttpRequest) -> str:
    try:
        return settings_in_force(_user(request).org_unit, timezone.localdate()).default_cf_set
    except NotFound:
        return ""


@login_required
@ui_errors
def cf_set_list(request: HttpRequest) -> HttpResponse:
    """Every set with its versions (newest first); the default set of the user's settings is marked."""
    require_permission(request.user, VIEW_WASTEWATER)
    sets = (
        CorrectionFactorSet.objects.annotate(factor_count=Count("factors"))
        .select_related("created_by")
        .order_by("name", "-version")
    )
    groups: dict[str, list[CorrectionFactorSet]] = {}
    for factor_set in sets:
        groups.setdefault(factor_set.name, []).append(factor_set)
    default_name = _default_cf_set_name(request)
    return render(
        request,
        "wastewater/cf_set_list.html",
        {
            "groups": [{"name": name, "versions": versions} for name, versions in groups.items()],
            "default_name": default_name,
            "may_manage": _user(request).has_jindu_perm(MANAGE_FACTORS),
        },
    )


@login_required
@ui_errors
def cf_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One version: its factors with CF = (M_parent / M_biomarker) / f, sources and unverified values marked."""
    # Sets are platform-wide configuration: every wastewater reader sees them; others get "not found".
    if not _user(request).has_jindu_perm(VIEW_WASTEWATER):
        raise NotFound()
    factor_set = CorrectionFactorSet.objects.select_related("created_by").filter(pk=pk).first()
    if factor_set is None:
        raise NotFound()
    factors = list(
        factor_set.factors.select_related("analyte").order_by("analyte__sort_order", "analyte__code")
    )
    versions = list(
        CorrectionFactorSet.objects.filter(name=factor_set.name)
        .order_by("-version")
        .values("pk", "version", "created")
    )
    default_name = _default_cf_set_name(request)
    return render(
        request,
        "wastewater/cf_set_detail.html",
        {
            "factor_set": factor_set,
            "factors": factors,
            "versions": versions,
            "is_default": factor_set.name == default_name and factor_set.version == versions[0]["version"],
            "is_latest": factor_set.version == versions[0]["version"],
            "unverified": sum(1 for factor in factors if not factor.verified),
            "may_manage": _user(request).has_jindu_perm(MANAGE_FACTORS),
        },
    )


class FactorSetForm(StyledForm):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=64,
        help_text=gettext_lazy("Letters, digits, '.', '-' or '_'. An existing name gets its next version."),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    source = forms.CharField(label=gettext_lazy("Source"), required=False, max_length=2000)


FACTOR_FIELDS = ("excretion_fraction", "parent_molar_mass", "biomarker_molar_mass", "excretion_rsd", "source")


class FactorForm(StyledForm):
    analyte = forms.ChoiceField(label=gettext_lazy("Analyte"), required=False)
    excretion_fraction = forms.CharField(
        label=gettext_lazy("Excretion fraction"), required=False, max_length=20
    )
    parent_molar_mass = forms.CharField(
        label=gettext_lazy("Parent molar mass"), required=False, max_length=20
    )
    biomarker_molar_mass = forms.CharField(
        label=gettext_lazy("Biomarker molar mass"), required=False, max_length=20
    )
    excretion_rsd = forms.CharField(label=gettext_lazy("Excretion RSD"), required=False, max_length=20)
    source = forms.CharField(label=gettext_lazy("Source"), required=False, max_length=300)

    def __init__(self, *args: Any, analytes: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["analyte"]).choices = [("", "—"), *(analytes or [])]

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not any(str(data.get(name) or "").strip() for name in ("analyte", *FACTOR_FIELDS))


FactorFormSet = forms.formset_factory(FactorForm, extra=3, max_num=60, validate_max=True)


def _number(text: str) -> str | None:
    return text.strip() or None


@login_required
@ui_errors
def cf_set_create(request: HttpRequest) -> HttpResponse:
    """Add a set, or the next version of one (``?from=<id>`` starts from that version's factors)."""
    require_permission(request.user, MANAGE_FACTORS)
    analytes = [
        (analyte.code, f"{analyte.name_zh} ({analyte.code})")
        for analyte in Analyte.objects.order_by("sort_order")
    ]
    base = None
    if request.GET.get("from", "").isdigit():
        base = CorrectionFactorSet.objects.filter(pk=int(request.GET["from"])).first()
    initial_set: dict[str, Any] = {}
    initial_factors: list[dict[str, Any]] = []
    if base is not None:
        initial_set = {"name": base.name, "description": base.description, "source": base.source}
        for factor in base.factors.select_related("analyte").order_by("analyte__sort_order"):
            initial_factors.append(
                {
                    "analyte": factor.analyte.code,
                    "excretion_fraction": _plain(factor.excretion_fraction),
                    "parent_molar_mass": _plain(factor.parent_molar_mass),
                    "biomarker_molar_mass": _plain(factor.biomarker_molar_mass),
                    "excretion_rsd": _plain(factor.excretion_rsd) if factor.excretion_rsd is not None else "",
                    "source": factor.source,
                }
            )
    form = FactorSetForm(request.POST or None, initial=initial_set)
    formset = FactorFormSet(
        request.POST or None,
        initial=initial_factors or None,
        form_kwargs={"analytes": analytes},
        prefix="factors",
    )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        rows = [(index, row) for index, row in enumerate(formset.forms) if not row.is_blank()]
        factors = []
        for _index, row in rows:
            data = row.cleaned_data
            factors.append(
                {
                    "analyte": data["analyte"],
                    "excretion_fraction": _number(data["excretion_fraction"]),
                    "parent_molar_mass": _number(data["parent_molar_mass"]),
                    "biomarker_molar_mass": _number(data["biomarker_molar_mass"]),
                    "excretion_rsd": _number(data["excretion_rsd"]),
                    "source": data["source"],
                }
            )
        try:
            created = services.cf_set_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                source=form.cleaned_data["source"],
                factors=factors,
            )
        except (NotFound, Forbidden):
            raise
        except ServiceError as error:
            _show_factor_errors(form, [row for _index, row in rows], error)
        else:
            messages.success(request, _("%(label)s was added.") % {"label": created.label})
            return redirect("wastewater:cf_set_detail", pk=created.pk)
    return render(
        request,
        "wastewater/cf_set_form.html",
        {"form": form, "formset": formset, "base": base},
    )


def _plain(value: Decimal) -> str:
    """A stored decimal without its trailing zeros (0.430000 → 0.43)."""
    text = format(value.normalize(), "f")
    return text


def _show_factor_errors(form: forms.Form, rows: list[forms.Form], error: ServiceError) -> None:
    """The service's ``factors[2].excretion_fraction`` problems next to the inputs of the third filled row."""
    form.add_error(None, error.message)
    for path, problem in error.fields.items():
        if path in form.fields:
            form.add_error(path, problem)
            continue
        if path.startswith("factors[") and "]." in path:
            index_text, name = path[len("factors[") :].split("].", 1)
            if index_text.isdigit() and int(index_text) < len(rows) and name in rows[int(index_text)].fields:
                rows[int(index_text)].add_error(name, problem)


# --- International comparison ----------------------------------------------------------------------------------------


def _jurisdiction_name(user: Any) -> str:
    names = list(
        OrgUnit.objects.filter(pk__in=search_root_ids(user)).order_by("path").values_list("name", flat=True)
    )
    return "、".join(names)


@login_required
@ui_errors
def comparison(request: HttpRequest) -> HttpResponse:
    """EUDA sites' published daily means of a metabolite and year, with this platform's figure for the user's
    jurisdiction over the same year highlighted."""
    require_permission(request.user, VIEW_WASTEWATER)
    choices = euda.comparison_choices()
    context: dict[str, Any] = {"loaded": bool(choices)}
    if not choices:
        return render(request, "wastewater/comparison.html", context)
    analytes = {
        analyte.code: analyte
        for analyte in Analyte.objects.filter(code__in=euda.METABOLITE_ANALYTES.values())
    }
    metabolite = request.GET.get("metabolite", "")
    if metabolite not in choices:
        metabolite = "methamphetamine" if "methamphetamine" in choices else next(iter(choices))
    years = choices[metabolite]
    year_text = request.GET.get("year", "")
    year = int(year_text) if year_text.isdigit() and int(year_text) in years else years[0]
    analyte = analytes.get(euda.METABOLITE_ANALYTES.get(metabolite, ""))
    bars, all_below = euda.comparison_bars(metabolite, year)
    figure = euda.platform_figure(request.user, analyte, year) if analyte is not None else None
    jurisdiction = _jurisdiction_name(request.user)
    chart_items = [
        {"label": f"{bar.city} ({bar.country})", "value": round(bar.daily_mean, 2), "highlight": False}
        for bar in bars
    ]
    if figure is not None and figure.value is not None:
        chart_items.append(
            {
                "label": _("%(jurisdiction)s (this platform)") % {"jurisdiction": jurisdiction},
                "value": round(figure.value, 2),
                "highlight": True,
            }
        )
        chart_items.sort(key=lambda item: -cast(float, item["value"]))
    context.update(
        {
            "metabolites": [
                {
                    "value": name,
                    "label": f"{analytes[code].name_zh} · {name}"
                    if (code := euda.METABOLITE_ANALYTES.get(name)) in analytes
                    else name,
                }
                for name in choices
            ],
            "metabolite": metabolite,
            "years": years,
            "year": year,
            "analyte": analyte,
            "bars": bars,
            "all_below": all_below,
            "figure": figure,
            "jurisdiction": jurisdiction,
            "rank": next(
                (index for index, item in enumerate(chart_items, start=1) if item["highlight"]), None
            ),
            "chart": {
                "labels": [item["label"] for item in chart_items],
                "values": [item["value"] for item in chart_items],
                "highlight": [item["highlight"] for item in chart_items],
                "unit": "mg/day/1000",
                "platform": _("This platform"),
            },
        }
    )
    return render(request, "wastewater/comparison.html", context)
