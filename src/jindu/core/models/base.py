"""Base classes for every model that holds data: it belongs to an org unit and is read through scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from jindu.core.fields import BlindIndexSyncMixin

if TYPE_CHECKING:
    from jindu.core.models.users import User


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows how to narrow itself to what a user may see or change."""

    # The permission a user's role must carry to read rows of this model at all; set per model.
    def for_user(self, user: User | Any, action: str = "read") -> ScopedQuerySet:
        from jindu.core.scoping import scope_queryset

        return scope_queryset(self, user, action=action)


class OrgScopedModel(BlindIndexSyncMixin, models.Model):
    """Abstract base: the record belongs to one org unit; ``objects.for_user(user)`` filters by scope.

    Subclasses set ``scope_read_permission`` (and optionally ``scope_write_permission``); models holding
    protected personal records set ``protected = True`` so that reads outside the capture scope need a
    break-the-glass grant.
    """

    org_unit = models.ForeignKey(
        "core.OrgUnit", verbose_name=_("org unit"), on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_updated = models.DateTimeField(_("last updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    scope_read_permission: str = ""
    scope_write_permission: str = ""
    protected: bool = False

    class Meta:
        abstract = True
