"""Scoped reads of the wastewater app: sites, samples and results of the caller's jurisdiction."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from jindu.core.errors import NotFound, ServiceError
from jindu.core.scoping import READ, access_object, require_permission
from jindu.wastewater.models import (
    AnalyteResult,
    CorrectionFactorSet,
    SamplingSite,
    WastewaterSample,
)
from jindu.wastewater.permissions import VIEW_WASTEWATER


def sites_for_user(user: Any) -> QuerySet[SamplingSite]:
    return SamplingSite.objects.for_user(user)


def access_site(user: Any, reference: Any, *, action: str = READ) -> SamplingSite:
    """One site by id or by code, in the caller's scope (NotFound otherwise, whether missing or out of scope)."""
    queryset = SamplingSite.objects.select_related("org_unit", "default_population")
    text = str(reference or "").strip()
    if not text.isdigit():
        pk = SamplingSite.objects.filter(code=text).values_list("pk", flat=True).first()
        if pk is None:
            raise NotFound()
        text = str(pk)
    return access_object(user, queryset, int(text), action=action)


def samples_for_user(user: Any) -> QuerySet[WastewaterSample]:
    return WastewaterSample.objects.for_user(user)


def access_sample(user: Any, pk: Any, *, action: str = READ) -> WastewaterSample:
    return access_object(user, WastewaterSample.objects.select_related("site", "org_unit"), pk, action=action)


def results_for_site(
    site: SamplingSite, *, first: dt.date | None = None, last: dt.date | None = None
) -> QuerySet[AnalyteResult]:
    """A site's results (the caller has loaded the site through ``access_site``), by day and analyte."""
    results = AnalyteResult.objects.filter(site=site)
    if first is not None:
        results = results.filter(end_date__gte=first)
    if last is not None:
        results = results.filter(end_date__lte=last)
    return results.order_by("end_date", "analyte__sort_order")


CF_SET_REFERENCE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)(?:[:@]v?(?P<version>\d+))?$")


def resolve_cf_set(user: Any, reference: str | None, default_name: str) -> CorrectionFactorSet:
    """A correction-factor set by id, by name (its latest version) or by ``name:version``; the settings' default
    when no reference is given. Sets are platform-wide configuration, readable by every wastewater reader."""
    require_permission(user, VIEW_WASTEWATER)
    text = (reference or "").strip() or default_name
    if text.isdigit():
        found = CorrectionFactorSet.objects.filter(pk=int(text)).first()
    else:
        match = CF_SET_REFERENCE.match(text)
        if not match:
            raise ServiceError(
                _("%(reference)s is not a correction-factor set (a name, name:version or an id).")
                % {"reference": text},
                code="invalid_cf_set",
                fields={"cf_set": _("unknown set")},
            )
        sets = CorrectionFactorSet.objects.filter(name=match["name"])
        if match["version"]:
            sets = sets.filter(version=int(match["version"]))
        found = sets.order_by("-version").first()
    if found is None:
        raise ServiceError(
            _("There is no correction-factor set %(reference)s.") % {"reference": text},
            code="unknown_cf_set",
            fields={"cf_set": _("unknown set")},
        )
    return found
