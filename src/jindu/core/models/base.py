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


class OrgPathField(models.CharField):
    """A materialised org-unit path, compared bytewise on every database.

    SQLite compares text bytewise already; on PostgreSQL the column gets the "C" collation, so that a
    prefix range (``path <= x < path-with-last-"/"-raised``) and ORDER BY use one plain B-tree index
    whatever the database's locale (a locale collation may ignore "/" and interleave paths).
    """

    def db_parameters(self, connection: Any) -> dict:
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class OrgPathMixin(models.Model):
    """Keeps ``org_path``, a copy of the owning org unit's materialised path, on every scoped row.

    Scoping a list then becomes an indexed prefix match on one column (``org_path`` in a range, or
    LIKE 'prefix%' on PostgreSQL) instead of a join through the closure table, and lists can be read
    in index order ``(org_path, …)``. Org units never move (imports refuse moves), so the copy stays
    true. Rows written with ``bulk_create`` must set ``org_path`` themselves (``org_path_of``); a row
    without one is outside every scope (it fails closed).
    """

    # No index of its own: each model declares the index its scoped lists read in order, led by (or
    # holding) ``org_path`` (the check ``core.E010`` insists on one). ``db_index=True`` would add two more
    # indexes on PostgreSQL (a plain one and a ``varchar_pattern_ops`` one that the "C" collation makes
    # useless), which the tables rewritten every night pay for on every row.
    org_path = OrgPathField(_("org unit path"), max_length=512, editable=False, default="")

    scope_org_field = "org_unit"

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        owner_field = self.scope_org_field
        if update_fields is None or owner_field in update_fields or f"{owner_field}_id" in update_fields:
            self.org_path = org_path_of(self, owner_field)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "org_path"}
        super().save(*args, **kwargs)


def org_path_of(instance: models.Model, owner_field: str = "org_unit") -> str:
    """The path of the org unit an instance belongs to (from the loaded relation when there is one)."""
    from jindu.core.models.orgunits import OrgUnit

    owner_id = getattr(instance, f"{owner_field}_id")
    if owner_id is None:
        return ""
    cached = instance._state.fields_cache.get(owner_field)
    if cached is not None and cached.pk == owner_id and cached.path:
        return cached.path
    return OrgUnit.objects.filter(pk=owner_id).values_list("path", flat=True).first() or ""


class OrgScopedModel(BlindIndexSyncMixin, OrgPathMixin, models.Model):
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


class SealableMixin(models.Model):
    """A record that can be sealed: gone from every list, readable only by a user whose role carries
    ``sealed_read_permission``, whose capture scope holds the record, and who breaks the glass first.

    This is how a label is removed ("撕掉标签", 无感化): the record stays for the law and for aggregate
    counts, but no worklist, search or list shows it again.
    """

    sealed = models.BooleanField(_("sealed"), default=False, editable=False)

    sealed_read_permission: str = ""

    class Meta:
        abstract = True
