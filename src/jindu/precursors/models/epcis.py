"""Ledgers as GS1 EPCIS 2.0 events: captures, the events themselves, and their quantities in kg pure."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import ACT_FOR_ENTERPRISE, VIEW_PRECURSORS


class ProductClass(models.Model):
    """Master data for a firm's product class (an LGTIN or GTIN pattern): which listed substance it holds and
    how to turn its quantities into kg of pure substance. Classes named ``urn:jindu:class:<CAS>:<lot>`` need
    no row here (the CAS names the substance, taken as pure)."""

    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.CASCADE, related_name="product_classes"
    )
    epc_class = models.CharField(_("EPC class"), max_length=256)
    substance = models.ForeignKey("precursors.Substance", on_delete=models.PROTECT, related_name="+")
    mass_fraction = models.DecimalField(_("mass fraction"), max_digits=6, decimal_places=5, default=1)
    density_kg_per_l = models.DecimalField(
        _("density (kg/L)"), max_digits=8, decimal_places=4, null=True, blank=True
    )

    class Meta:
        verbose_name = _("product class")
        verbose_name_plural = _("product classes")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "epc_class"], name="product_class_unique")
        ]

    def __str__(self) -> str:
        return self.epc_class


class CaptureSource(models.TextChoices):
    EPCIS = "epcis", _("EPCIS capture interface")
    LEDGER_UPLOAD = "ledger_upload", _("Ledger upload (Excel/CSV)")


class EpcisCapture(OrgScopedModel):
    """One accepted capture (the standard's captureID): a whole EPCIS document stored at once. A document
    with any syntax problem is refused whole and leaves no capture."""

    enterprise = models.ForeignKey("precursors.Enterprise", on_delete=models.PROTECT, related_name="captures")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(_("source"), max_length=16, choices=CaptureSource.choices)
    received_at = models.DateTimeField(_("received"))
    event_count = models.PositiveIntegerField(_("events"), default=0)
    duplicate_count = models.PositiveIntegerField(_("duplicates skipped"), default=0)
    warning_count = models.PositiveIntegerField(_("warnings"), default=0)
    document_digest = models.CharField(_("document digest (SM3)"), max_length=64)
    # Prefixes the document declared in its @context (e.g. "jd"): query results declare them again.
    context_prefixes = models.JSONField(_("context prefixes"), default=dict, blank=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = ACT_FOR_ENTERPRISE

    class Meta:
        verbose_name = _("EPCIS capture")
        verbose_name_plural = _("EPCIS captures")
        indexes = [models.Index(fields=["org_path", "received_at"], name="capture_scope_order")]

    def __str__(self) -> str:
        return f"capture {self.pk} ({self.event_count} events)"


class EpcisEvent(OrgScopedModel):
    """One EPCIS event as captured: the normalised dimensions for queries and balances, the document as sent
    (``document``), and the business-check warnings found at capture (unknown parties, over cap, expired
    permit…), which never make the capture fail. Events are never edited: a correction is a new event with an
    ``errorDeclaration``."""

    capture = models.ForeignKey(EpcisCapture, on_delete=models.PROTECT, related_name="events")
    # No index of its own: the unique (enterprise, content_hash) and (enterprise, event_time) lead with it, and
    # every index costs the capture (thousands of rows a second) its upkeep.
    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="events", db_index=False
    )
    event_type = models.CharField(_("event type"), max_length=24)
    action = models.CharField(_("action"), max_length=8, blank=True)
    event_time = models.DateTimeField(_("event time"))
    event_time_zone_offset = models.CharField(_("time zone offset"), max_length=6)
    record_time = models.DateTimeField(_("record time"))
    event_id = models.CharField(_("event ID"), max_length=256, blank=True)
    # sha256 of the event's canonical JSON without recordTime: the same event sent twice is stored once.
    content_hash = models.CharField(_("content hash"), max_length=64)
    biz_step = models.CharField(_("business step"), max_length=128, blank=True)
    disposition = models.CharField(_("disposition"), max_length=128, blank=True)
    read_point = models.CharField(_("read point"), max_length=256, blank=True)
    biz_location = models.CharField(_("business location"), max_length=256, blank=True)
    document = models.JSONField(_("event as captured"))
    warnings = models.JSONField(_("warnings"), default=list, blank=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = ACT_FOR_ENTERPRISE

    class Meta:
        verbose_name = _("EPCIS event")
        verbose_name_plural = _("EPCIS events")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "content_hash"], name="epcis_event_once"),
        ]
        indexes = [
            models.Index(fields=["org_path", "event_time"], name="epcis_event_scope_time"),
            models.Index(fields=["enterprise", "event_time"], name="epcis_event_firm_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.biz_step} {self.event_time:%Y-%m-%d}"


class BalanceTerm(models.TextChoices):
    """What a quantity does to a firm's stock of a substance (the mass-balance terms of precursors.md §4.1)."""

    RECEIPT = "receipt", _("Receipt")
    PRODUCTION = "production", _("Production")
    SHIPMENT = "shipment", _("Shipment")
    CONSUMPTION = "consumption", _("Consumption")
    LOSS = "loss", _("Documented loss")
    INCIDENT = "incident", _("Theft or missing")
    STOCKTAKE = "stocktake", _("Stocktake")
    NONE = "", _("No stock change")


class EpcisQuantity(models.Model):
    """One quantity element of an event (quantityList, childQuantityList, input/outputQuantityList), resolved
    to a listed substance and kg of pure substance when the class is known, with the balance term it feeds.
    The firm and the event time are copied here so balances are one grouped scan of this table."""

    event = models.ForeignKey(EpcisEvent, on_delete=models.CASCADE, related_name="quantities")
    # Indexed by epcis_quantity_balance, which leads with it.
    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    event_time = models.DateTimeField(_("event time"))
    role = models.CharField(_("role"), max_length=8)  # quantity, child, input, output
    epc_class = models.CharField(_("EPC class"), max_length=256)
    quantity = models.DecimalField(_("quantity"), max_digits=20, decimal_places=6, null=True, blank=True)
    uom = models.CharField(_("unit"), max_length=3, blank=True)
    substance = models.ForeignKey(
        "precursors.Substance", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kg_pure = models.DecimalField(_("kg pure"), max_digits=20, decimal_places=6, null=True, blank=True)
    balance_term = models.CharField(_("balance term"), max_length=12, choices=BalanceTerm.choices, blank=True)

    class Meta:
        verbose_name = _("EPCIS quantity")
        verbose_name_plural = _("EPCIS quantities")
        indexes = [
            models.Index(fields=["epc_class"], name="epcis_quantity_class"),
            models.Index(
                fields=["enterprise", "substance", "event_time"],
                name="epcis_quantity_balance",
                include=["balance_term", "kg_pure"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.epc_class} {self.quantity} {self.uom}"
