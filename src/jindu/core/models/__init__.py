from jindu.core.models.access import BreakGlassGrant
from jindu.core.models.audit import AuditAction, AuditRecord, AuditResult
from jindu.core.models.base import OrgPathMixin, OrgScopedModel, ScopedQuerySet, SealableMixin, org_path_of
from jindu.core.models.jobs import Job, JobStatus
from jindu.core.models.orgunits import ALLOWED_CHILD_LEVELS, OrgLevel, OrgUnit, OrgUnitClosure
from jindu.core.models.policy import PolicyVersion
from jindu.core.models.users import ApiToken, LoginAttempt, User, UserRole

__all__ = [
    "ALLOWED_CHILD_LEVELS",
    "ApiToken",
    "AuditAction",
    "AuditRecord",
    "AuditResult",
    "BreakGlassGrant",
    "Job",
    "JobStatus",
    "LoginAttempt",
    "OrgLevel",
    "OrgPathMixin",
    "OrgScopedModel",
    "OrgUnit",
    "OrgUnitClosure",
    "PolicyVersion",
    "ScopedQuerySet",
    "SealableMixin",
    "User",
    "UserRole",
    "org_path_of",
]
