"""Online applications (全程网办), issued permits and filings, and their certificates.

An application (``PermitApplication``) belongs to the district that supervises the firm (a copy of the firm's
org unit), so the offices and police of that district see and decide it through their scopes; the firm's own
users reach it through their firm. An approved application issues one ``Permit`` (a licence or a filing
certificate) with its number, validity, quantity cap and certificate PDF. Ledger events that name the permit
(``bizTransaction`` = ``urn:jindu:permit:<number>``) consume its cap.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import EncryptedTextField
from jindu.core.models import OrgScopedModel
from jindu.precursors.permissions import MANAGE_ENTERPRISES, VIEW_PRECURSORS
from jindu.precursors.permit_rules import PERMIT_TYPES

PERMIT_TYPE_CHOICES = [
    ("production_licence", _("Production licence")),
    ("trade_licence", _("Trade licence")),
    ("production_filing", _("Production filing")),
    ("trade_filing", _("Trade filing")),
    ("purchase_licence", _("Purchase licence")),
    ("purchase_filing", _("Purchase filing")),
    ("transport_licence", _("Transport licence")),
    ("transport_filing", _("Transport filing")),
]
assert [code for code, _label in PERMIT_TYPE_CHOICES] == list(PERMIT_TYPES)


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")  # 受理
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Applications waiting for the office: their legal deadline runs (SLA).
PENDING_STATUSES = (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED)


class PermitApplication(OrgScopedModel):
    """An application for a licence or a filing (许可 / 备案), from draft to decision."""

    enterprise = models.ForeignKey(
        "precursors.Enterprise", on_delete=models.PROTECT, related_name="applications"
    )
    permit_type = models.CharField(_("permit type"), max_length=24, choices=PERMIT_TYPE_CHOICES)
    substance = models.ForeignKey("precursors.Substance", on_delete=models.PROTECT, related_name="+")
    category = models.PositiveSmallIntegerField(
        _("category")
    )  # the substance's, when the application was made
    quantity_kg = models.DecimalField(_("quantity (kg)"), max_digits=14, decimal_places=3)
    # The seller (purchases) or the consignee (transport): 统一社会信用代码 and name.
    counterparty_uscc = models.CharField(_("counterparty credit code"), max_length=18, blank=True)
    counterparty_name = models.CharField(_("counterparty"), max_length=200, blank=True)
    declared_use = models.CharField(_("declared use"), max_length=500, blank=True)
    # Transport applications: where from, where to, who carries, when, and the corridor the vehicle keeps to.
    origin = models.CharField(_("origin"), max_length=300, blank=True)
    destination = models.CharField(_("destination"), max_length=300, blank=True)
    carrier = models.CharField(_("carrier"), max_length=200, blank=True)
    vehicle_plate = models.CharField(_("vehicle plate"), max_length=16, blank=True)
    # A person's name (PIPL): encrypted at rest like every personal identifier.
    driver_name = EncryptedTextField(_("driver"), blank=True)
    window_start = models.DateTimeField(_("transport from"), null=True, blank=True)
    window_end = models.DateTimeField(_("transport until"), null=True, blank=True)
    route_corridor = models.JSONField(_("route corridor"), default=list, blank=True)  # [[lon, lat], …]
    corridor_buffer_m = models.PositiveIntegerField(_("corridor buffer (m)"), null=True, blank=True)

    status = models.CharField(
        _("status"), max_length=12, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(_("reason"), blank=True)
    # The last day the office may decide (permit_rules.decision_deadline), None when the law sets no limit.
    legal_deadline = models.DateField(_("legal deadline"), null=True, blank=True)
    auto_approved = models.BooleanField(_("approved automatically (智能备案)"), default=False)
    # The versions of the rules and the working calendar applied at submission.
    rules_version = models.ForeignKey(
        "core.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    calendar_version = models.ForeignKey(
        "core.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("permit application")
        verbose_name_plural = _("permit applications")
        indexes = [
            models.Index(fields=["org_path", "created"], name="permit_app_scope_order"),
            models.Index(fields=["enterprise", "created"], name="permit_app_firm_order"),
            # 智能备案 looks for the firm's earlier approved filing of the same pair.
            models.Index(
                fields=["enterprise", "permit_type", "substance", "counterparty_uscc", "status"],
                name="permit_app_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_permit_type_display()} #{self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @property
    def is_transport(self) -> bool:
        return self.permit_type.startswith("transport_")


class AttachmentKind(models.TextChoices):
    BUSINESS_LICENCE = "business_licence", _("Business licence")  # 营业执照
    CONTRACT = "contract", _("Purchase and sale contract")  # 购销合同
    USE_STATEMENT = "use_statement", _("Statement of lawful use")  # 合法使用证明
    AGENT_ID = "agent_id", _("Agent's identity document")  # 经办人身份证明
    TRANSPORT_DOCUMENTS = "transport_documents", _("Carrier and vehicle documents")  # 危险货物运输资质
    OTHER = "other", _("Other")


class ApplicationAttachment(models.Model):
    """A file attached to an application (PDF, JPEG or PNG, at most 10 MB), stored encrypted (base64 inside
    the SM4-GCM envelope) with the SM3 digest of its bytes."""

    application = models.ForeignKey(PermitApplication, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(_("kind"), max_length=24, choices=AttachmentKind.choices)
    file_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    digest = models.CharField(_("SM3 digest"), max_length=64)
    content = EncryptedTextField(_("content"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("application attachment")
        verbose_name_plural = _("application attachments")

    def __str__(self) -> str:
        return self.file_name


class PermitStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    USED_UP = "used_up", _("Used up")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class Permit(OrgScopedModel):
    """An issued licence or filing certificate (许可证 / 备案证明).

    ``status`` is stored as decided (valid, used up, revoked); a valid permit past ``valid_until`` reads as
    expired (``current_status``) without a nightly job. The certificate PDF is stored encrypted; its SM3 digest
    identifies it (anyone holding the PDF can check it), and the random ``verification_token`` names the public
    verification page its QR code links to."""

    number = models.CharField(_("number"), max_length=40, unique=True)
    application = models.OneToOneField(PermitApplication, on_delete=models.PROTECT, related_name="permit")
    enterprise = models.ForeignKey("precursors.Enterprise", on_delete=models.PROTECT, related_name="permits")
    permit_type = models.CharField(_("permit type"), max_length=24, choices=PERMIT_TYPE_CHOICES)
    substance = models.ForeignKey("precursors.Substance", on_delete=models.PROTECT, related_name="+")
    category = models.PositiveSmallIntegerField(_("category"))
    counterparty_uscc = models.CharField(_("counterparty credit code"), max_length=18, blank=True)
    quantity_cap_kg = models.DecimalField(
        _("quantity cap (kg)"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    consumed_kg = models.DecimalField(_("consumed (kg)"), max_digits=20, decimal_places=6, default=0)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    single_use = models.BooleanField(_("single use"), default=False)
    uses = models.PositiveIntegerField(_("uses"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=PermitStatus.choices, default=PermitStatus.VALID
    )
    issued_at = models.DateTimeField(_("issued"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issuing_office = models.CharField(_("issuing office"), max_length=200)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revocation_reason = models.TextField(_("revocation reason"), blank=True)
    certificate = EncryptedTextField(_("certificate PDF"))
    certificate_digest = models.CharField(_("certificate digest (SM3)"), max_length=64, db_index=True)
    verification_token = models.CharField(_("verification token"), max_length=64, unique=True)

    scope_read_permission = VIEW_PRECURSORS
    scope_write_permission = MANAGE_ENTERPRISES

    class Meta:
        verbose_name = _("permit")
        verbose_name_plural = _("permits")
        indexes = [
            models.Index(fields=["org_path", "issued_at"], name="permit_scope_order"),
            models.Index(fields=["enterprise", "issued_at"], name="permit_firm_order"),
        ]

    def __str__(self) -> str:
        return self.number

    def current_status(self, today: dt.date) -> str:
        """The status on ``today``: a valid permit past its last day is expired."""
        if self.status == PermitStatus.VALID and self.valid_until is not None and today > self.valid_until:
            return PermitStatus.EXPIRED
        return self.status

    @property
    def remaining_kg(self) -> Decimal | None:
        if self.quantity_cap_kg is None:
            return None
        return max(self.quantity_cap_kg - self.consumed_kg, Decimal(0))
