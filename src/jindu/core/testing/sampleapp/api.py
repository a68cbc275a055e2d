from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from jindu.core.apiutil import ERRORS, PageNumber
from jindu.core.scoping import access_object

from .models import ProtectedRecord, SampleRecord

router = Router(tags=["sample (tests only)"])


class SampleOut(Schema):
    id: int
    title: str


class ProtectedOut(Schema):
    id: int
    name: str


@router.get("/records", response={200: list[SampleOut], **ERRORS})
@paginate(PageNumber)
def list_records(request: HttpRequest) -> Any:
    return SampleRecord.objects.for_user(request.user).order_by("pk")


@router.get("/records/{pk}", response={200: SampleOut, **ERRORS})
def get_record(request: HttpRequest, pk: int) -> Any:
    return access_object(request.user, SampleRecord, pk)


@router.get("/protected", response={200: list[ProtectedOut], **ERRORS})
@paginate(PageNumber)
def list_protected(request: HttpRequest) -> Any:
    return ProtectedRecord.objects.for_user(request.user).order_by("pk")


@router.get("/protected/{pk}", response={200: ProtectedOut, **ERRORS})
def get_protected(request: HttpRequest, pk: int) -> Any:
    return access_object(request.user, ProtectedRecord, pk, audit=True)
