"""Roles and the permissions they carry.

Roles are fixed codes (they appear in the CLI, the API and audit records); the permissions of each role
live in one registry that domain apps extend from their ``apps.py`` with ``grant()``. Data access is
always two checks: the role must carry the permission, and the object must lie in the user's scope.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SYSADMIN = "sysadmin", _("System administrator")  # 系统管理员
    SECADMIN = "secadmin", _("Security administrator")  # 安全管理员
    AUDITADMIN = "auditadmin", _("Audit administrator")  # 审计管理员
    CITY_OFFICE = "city_office", _("City anti-drug office")  # 市禁毒办
    DISTRICT_OFFICE = "district_office", _("District anti-drug office")  # 区县禁毒办
    STREET_OFFICE = "street_office", _("Street anti-drug office")  # 街道禁毒办
    SOCIAL_WORKER = "social_worker", _("Anti-drug social worker")  # 禁毒社工/专干
    POLICE = "police", _("Police narcotics unit")  # 公安禁毒
    ENTERPRISE = "enterprise", _("Enterprise user")  # 企业用户
    SCHOOL_ADMIN = "school_admin", _("School administrator")  # 学校管理员
    LAB = "lab", _("Laboratory")  # 实验室


# 三权分立 (等保 2.0 安全管理中心): no user may hold two of these.
SEPARATED_ADMIN_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITADMIN})
# Two-factor authentication is mandatory for these roles.
TWO_FACTOR_REQUIRED_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITADMIN, Role.POLICE})

OFFICE_ROLES = frozenset({Role.CITY_OFFICE, Role.DISTRICT_OFFICE, Role.STREET_OFFICE})


class Perm:
    """Permission codes of the core app. Domain apps define their own in the same ``app.verb_noun`` form."""

    MANAGE_ORGUNITS = "core.manage_orgunits"
    VIEW_USERS = "core.view_users"
    MANAGE_USERS = "core.manage_users"
    MANAGE_SECURITY = "core.manage_security"
    VIEW_AUDIT = "core.view_audit"
    VIEW_JOBS = "core.view_jobs"


ROLE_PERMISSIONS: dict[str, set[str]] = {role.value: set() for role in Role}


def grant(role: str, *permissions: str) -> None:
    """Give ``role`` the named permissions (called by each app at start-up)."""
    ROLE_PERMISSIONS[str(role)].update(permissions)


def permissions_for(roles: set[str] | frozenset[str]) -> set[str]:
    result: set[str] = set()
    for role in roles:
        result |= ROLE_PERMISSIONS.get(role, set())
    return result


def grant_core_permissions() -> None:
    # 系统管理员: org units, accounts and jobs; no business data and no audit trail.
    grant(Role.SYSADMIN, Perm.MANAGE_ORGUNITS, Perm.VIEW_USERS, Perm.MANAGE_USERS, Perm.VIEW_JOBS)
    # 安全管理员: security policy, keys, unlocking accounts, token revocation.
    grant(Role.SECADMIN, Perm.MANAGE_SECURITY, Perm.VIEW_USERS)
    # 审计管理员: read-only audit trail.
    grant(Role.AUDITADMIN, Perm.VIEW_AUDIT)
    # Offices see the staff of their jurisdiction (to assign workers, check caseloads).
    for role in OFFICE_ROLES:
        grant(role, Perm.VIEW_USERS)
