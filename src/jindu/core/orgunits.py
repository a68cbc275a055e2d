"""Org-unit services and selectors: create, import from CSV, closure maintenance, children listing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.models import ALLOWED_CHILD_LEVELS, AuditAction, OrgLevel, OrgUnit, OrgUnitClosure
from jindu.core.roles import Perm
from jindu.core.scoping import capture_root_ids, in_roots, require_permission

CODE_PATTERNS: dict[str, re.Pattern[str]] = {
    OrgLevel.PROVINCE: re.compile(r"^\d{2}0000$"),
    OrgLevel.CITY: re.compile(r"^\d{4}00$"),
    OrgLevel.DISTRICT: re.compile(r"^\d{6}$"),
    OrgLevel.STREET: re.compile(r"^\d{9}$"),
    OrgLevel.COMMUNITY: re.compile(r"^\d{12}$"),
    OrgLevel.GRID: re.compile(r"^[0-9A-Za-z]{13,32}$"),
}
CODE_RULES: dict[str, Any] = {
    OrgLevel.PROVINCE: gettext_lazy("six digits ending in 0000 (GB/T 2260)"),
    OrgLevel.CITY: gettext_lazy("six digits ending in 00 (GB/T 2260)"),
    OrgLevel.DISTRICT: gettext_lazy("six digits (GB/T 2260)"),
    OrgLevel.STREET: gettext_lazy("nine digits (统计用区划代码)"),
    OrgLevel.COMMUNITY: gettext_lazy("twelve digits (统计用区划代码)"),
    OrgLevel.GRID: gettext_lazy("13 to 32 letters or digits (local grid code)"),
}
# A level as named inside an error message (English: the level code itself, as in the CSV column).
LEVEL_NAMES: dict[str, Any] = {
    OrgLevel.PROVINCE: pgettext_lazy("org unit level in a message", "province"),
    OrgLevel.CITY: pgettext_lazy("org unit level in a message", "city"),
    OrgLevel.DISTRICT: pgettext_lazy("org unit level in a message", "district"),
    OrgLevel.STREET: pgettext_lazy("org unit level in a message", "street"),
    OrgLevel.COMMUNITY: pgettext_lazy("org unit level in a message", "community"),
    OrgLevel.GRID: pgettext_lazy("org unit level in a message", "grid"),
}
# How many leading characters of a child's code must repeat its parent's code.
SHARED_PREFIX: dict[tuple[str | None, str], int] = {
    (OrgLevel.PROVINCE, OrgLevel.CITY): 2,
    (OrgLevel.PROVINCE, OrgLevel.DISTRICT): 2,
    (OrgLevel.CITY, OrgLevel.DISTRICT): 4,
    (OrgLevel.DISTRICT, OrgLevel.STREET): 6,
    (OrgLevel.STREET, OrgLevel.COMMUNITY): 9,
}


def validate_code(code: str, level: str, parent: Any | None) -> list[str]:
    """Problems with a code at a level under a parent (``parent`` has ``code`` and ``level``)."""
    problems = []
    if level not in CODE_PATTERNS:
        return [
            _("unknown level %(level)s; use one of %(levels)s")
            % {"level": repr(level), "levels": ", ".join(OrgLevel.values)}
        ]
    if not CODE_PATTERNS[level].fullmatch(code):
        problems.append(
            _("a %(level)s code is %(rule)s, got %(code)s")
            % {"level": LEVEL_NAMES[level], "rule": CODE_RULES[level], "code": repr(code)}
        )
    parent_level = parent.level if parent is not None else None
    if level not in ALLOWED_CHILD_LEVELS.get(parent_level, set()):
        problems.append(
            _("a %(level)s cannot sit under %(parent)s")
            % {
                "level": LEVEL_NAMES[level],
                "parent": LEVEL_NAMES.get(parent_level, parent_level)
                if parent_level
                else pgettext("top of the org-unit tree", "the root"),
            }
        )
    elif parent is not None:
        shared = SHARED_PREFIX.get((parent_level, level), len(parent.code))
        if code[:shared] != parent.code[:shared]:
            problems.append(
                _("code %(code)s does not start with its parent's code %(prefix)s")
                % {"code": code, "prefix": parent.code[:shared]}
            )
    return problems


def _closure_rows(unit: OrgUnit, parent_links: Iterable[tuple[int, int]]) -> list[OrgUnitClosure]:
    rows = [OrgUnitClosure(ancestor_id=unit.pk, descendant_id=unit.pk, distance=0)]
    rows += [
        OrgUnitClosure(ancestor_id=ancestor_id, descendant_id=unit.pk, distance=distance + 1)
        for ancestor_id, distance in parent_links
    ]
    return rows


def orgunit_create(*, actor: Any, code: str, name: str, level: str, parent_code: str | None) -> OrgUnit:
    """Create one org unit under a parent in the actor's capture scope (actor None: the CLI, bootstrap)."""
    code, name = (code or "").strip(), (name or "").strip()
    parent = None
    if parent_code:
        parent = OrgUnit.objects.filter(code=parent_code).first()
        if parent is None:
            raise ServiceError(
                _("Parent org unit %(code)s does not exist.") % {"code": parent_code}, code="unknown_parent"
            )
    if actor is not None:
        require_permission(actor, Perm.MANAGE_ORGUNITS)
        if parent is None or not in_roots(parent.pk, capture_root_ids(actor)):
            raise NotFound(_("Parent org unit not found in your scope."))
    problems = validate_code(code, level, parent)
    if not name:
        problems.append(_("a name is required"))
    if OrgUnit.objects.filter(code=code).exists():
        problems.append(_("code %(code)s already exists") % {"code": code})
    if problems:
        message = join_problems(problems)
        raise ServiceError(message, code="invalid_orgunit", fields={"code": message})
    with transaction.atomic():
        unit = OrgUnit.objects.create(
            code=code,
            name=name,
            level=level,
            parent=parent,
            depth=(parent.depth + 1) if parent else 0,
            path=(parent.path if parent else "") + code + "/",
        )
        links = (
            OrgUnitClosure.objects.filter(descendant=parent).values_list("ancestor_id", "distance")
            if parent
            else []
        )
        OrgUnitClosure.objects.bulk_create(_closure_rows(unit, links))
        audit_write(action=AuditAction.CREATE, actor=actor, obj=unit)
    return unit


def orgunit_rename(*, actor: Any, code: str, name: str) -> OrgUnit:
    """Rename an org unit in the actor's capture scope."""
    require_permission(actor, Perm.MANAGE_ORGUNITS)
    unit = OrgUnit.objects.filter(code=code).first()
    if unit is None or not in_roots(unit.pk, capture_root_ids(actor)):
        raise NotFound()
    name = (name or "").strip()
    if not name:
        raise ServiceError(
            _("A name is required."),
            code="invalid_orgunit",
            fields={"name": pgettext("field error", "required")},
        )
    with transaction.atomic():
        old = unit.name
        unit.name = name
        unit.save(update_fields=["name", "last_updated"])
        audit_write(action=AuditAction.UPDATE, actor=actor, obj=unit, detail={"name": [old, name]})
    return unit


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


REQUIRED_COLUMNS = ("code", "name", "level", "parent_code")
AUDIT_CODES_CAP = 500


def parse_orgunit_csv(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """Rows and problems of a CSV with columns code,name,level,parent_code (UTF-8, header required)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        return [], [
            _("header must contain %(columns)s; missing %(missing)s")
            % {"columns": ", ".join(REQUIRED_COLUMNS), "missing": ", ".join(missing)}
        ]
    rows = []
    for row in reader:
        rows.append(
            {column: (row.get(column) or "").strip() for column in REQUIRED_COLUMNS}
            | {"line": str(reader.line_num)}
        )
    return rows, []


@dataclass
class _Node:
    code: str
    level: str
    pk: int | None = None


def orgunits_import(
    *, actor: Any, rows: list[dict[str, str]], progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Create or rename org units from rows; every row is checked first and nothing is stored if any row
    is wrong. Parents may come before or after their children in the file, or already exist."""
    if actor is not None:
        require_permission(actor, Perm.MANAGE_ORGUNITS)
    report = ImportReport()

    def problem_at(line: str, problem: str) -> None:
        # Translators: a problem found in one line of an imported CSV file.
        report.errors.append(_("line %(line)s: %(problem)s") % {"line": line, "problem": problem})

    by_code: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["code"] in by_code:
            problem_at(row["line"], _("code %(code)s appears twice") % {"code": row["code"]})
        by_code[row["code"]] = row
    existing = {unit.code: unit for unit in OrgUnit.objects.filter(code__in=list(by_code))}
    parents_needed = {
        row["parent_code"] for row in rows if row["parent_code"] and row["parent_code"] not in by_code
    }
    known_parents = {unit.code: unit for unit in OrgUnit.objects.filter(code__in=list(parents_needed))}

    # Order rows so that every parent is handled before its children.
    ordered: list[dict[str, str]] = []
    placed: set[str] = set()

    def place(code: str, trail: tuple[str, ...] = ()) -> None:
        if code in placed or code not in by_code:
            return
        if code in trail:
            problem_at(by_code[code]["line"], _("parent cycle through %(code)s") % {"code": code})
            return
        parent_code = by_code[code]["parent_code"]
        if parent_code:
            place(parent_code, (*trail, code))
        placed.add(code)
        ordered.append(by_code[code])

    for code in list(by_code):
        place(code)

    nodes: dict[str, Any] = dict(known_parents)
    for row in ordered:
        code, parent_code = row["code"], row["parent_code"]
        parent = nodes.get(parent_code) if parent_code else None
        if parent_code and parent is None:
            problem_at(
                row["line"], _("parent %(code)s is neither in the file nor stored") % {"code": parent_code}
            )
            continue
        if (
            actor is not None
            and code not in existing
            and isinstance(parent, OrgUnit)
            and not in_roots(parent.pk, capture_root_ids(actor))
        ):
            problem_at(
                row["line"], _("parent %(code)s is outside your capture scope") % {"code": parent_code}
            )
        if not row["name"]:
            problem_at(row["line"], _("name is empty"))
        if actor is not None and not parent_code:
            problem_at(row["line"], _("only the jindu command may add or rename a top-level org unit"))
        current = existing.get(code)
        if actor is not None and current is not None and not in_roots(current.pk, capture_root_ids(actor)):
            problem_at(row["line"], _("%(code)s is outside your capture scope") % {"code": code})
        if current is not None:
            stored_parent = current.path.rstrip("/").split("/")[-2] if current.depth else ""
            if stored_parent != (parent_code or "") or current.level != row["level"]:
                problem_at(
                    row["line"],
                    _("%(code)s exists with another parent or level; moves are not imported")
                    % {"code": code},
                )
            nodes[code] = current
            continue
        for problem in validate_code(code, row["level"], parent):
            problem_at(row["line"], problem)
        nodes[code] = _Node(code=code, level=row["level"])
    if report.errors:
        return report

    created_codes: list[str] = []
    renamed: list[list[str]] = []
    with transaction.atomic():
        path_of: dict[str, tuple[int, str, int]] = {}  # code -> (pk, path, depth)
        for unit in [*known_parents.values(), *existing.values()]:
            path_of[unit.code] = (unit.pk, unit.path, unit.depth)
        ancestors_of: dict[int, list[tuple[int, int]]] = {}
        closure_buffer: list[OrgUnitClosure] = []
        for row in ordered:
            code = row["code"]
            if code not in existing:
                created_codes.append(code)
            if code in existing:
                unit = existing[code]
                if unit.name != row["name"]:
                    renamed.append([code, unit.name, row["name"]])
                    unit.name = row["name"]
                    unit.save(update_fields=["name", "last_updated"])
                    report.updated += 1
                else:
                    report.unchanged += 1
                continue
            parent_info = path_of.get(row["parent_code"]) if row["parent_code"] else None
            unit = OrgUnit.objects.create(
                code=code,
                name=row["name"],
                level=row["level"],
                parent_id=parent_info[0] if parent_info else None,
                depth=(parent_info[2] + 1) if parent_info else 0,
                path=(parent_info[1] if parent_info else "") + code + "/",
            )
            path_of[code] = (unit.pk, unit.path, unit.depth)
            if parent_info:
                parent_pk = parent_info[0]
                if parent_pk not in ancestors_of:
                    ancestors_of[parent_pk] = list(
                        OrgUnitClosure.objects.filter(descendant_id=parent_pk).values_list(
                            "ancestor_id", "distance"
                        )
                    )
                links = ancestors_of[parent_pk]
            else:
                links = []
            ancestors_of[unit.pk] = [(unit.pk, 0)] + [(a, d + 1) for a, d in links]
            closure_buffer += _closure_rows(unit, links)
            if len(closure_buffer) > 5000:
                OrgUnitClosure.objects.bulk_create(closure_buffer)
                closure_buffer = []
            report.created += 1
            if progress:
                progress(1)
        OrgUnitClosure.objects.bulk_create(closure_buffer)
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            object_type="core.orgunit",
            object_repr="org unit import",
            # Which units changed, so an auditor can tell what an import did (capped to keep records small).
            detail={
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "created_codes": created_codes[:AUDIT_CODES_CAP],
                "renamed": renamed[:AUDIT_CODES_CAP],
            },
        )
    if report.created > 1000 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Fresh statistics, so the planner uses the closure indexes right away (autovacuum comes later).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE core_orgunit, core_orgunitclosure")
    return report


def orgunit_children(parent_code: str | None) -> list[OrgUnit]:
    """Children of an org unit (roots when no code is given); the tree itself is public to staff."""
    if parent_code:
        parent = OrgUnit.objects.filter(code=parent_code).only("pk").first()
        if parent is None:
            raise NotFound(_("Org unit %(code)s does not exist.") % {"code": parent_code})
        return list(OrgUnit.objects.filter(parent=parent).order_by("code"))
    return list(OrgUnit.objects.filter(parent__isnull=True).order_by("code"))


def orgunit_get(code: str) -> OrgUnit:
    unit = OrgUnit.objects.filter(code=code).first()
    if unit is None:
        raise NotFound(_("Org unit %(code)s does not exist.") % {"code": code})
    return unit


def orgunit_ancestors(unit: OrgUnit) -> list[OrgUnit]:
    """From the root down to the unit's parent (for breadcrumbs)."""
    codes = unit.ancestor_codes()[:-1]
    by_code = {u.code: u for u in OrgUnit.objects.filter(code__in=codes)}
    return [by_code[c] for c in codes if c in by_code]


def descendant_count(unit: OrgUnit) -> int:
    return OrgUnitClosure.objects.filter(ancestor=unit).count() - 1
