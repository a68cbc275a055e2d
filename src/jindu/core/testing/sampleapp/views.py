from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from jindu.core.scoping import access_object
from jindu.core.views import ui_errors

from .models import ProtectedRecord, SampleRecord


@login_required
def record_list(request: HttpRequest) -> HttpResponse:
    titles = [r.title for r in SampleRecord.objects.for_user(request.user).order_by("pk")]
    return HttpResponse("\n".join(titles), content_type="text/plain")


@login_required
@ui_errors
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(access_object(request.user, SampleRecord, pk).title, content_type="text/plain")


@login_required
@ui_errors
def protected_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(
        access_object(request.user, ProtectedRecord, pk, audit=True).name, content_type="text/plain"
    )
