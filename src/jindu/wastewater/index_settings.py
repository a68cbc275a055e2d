"""Shipped weights of the office's own drug-situation index (the ``index`` key of the wastewater settings).

No official definition of a "污水毒情指数" exists (wbe.md §4.3), so the platform offers one formula of its own and
always labels it as the office's formula (本地测算), never as a national result:

    index = Σ over components  weight × consumption (mg/day/1000) ÷ typical dose (mg)

that is, weighted dose equivalents per 1000 inhabitants per day. A component is an analyte (its biomarker), whose
consumption comes from the correction-factor set chosen when reading and whose typical dose is the setting
``typical_doses_mg`` of the analyte's drug. With every weight 1 the index is the total number of typical doses
of the listed drugs used per 1000 inhabitants per day. A region changes a weight by publishing it; a weight of 0
removes a component (settings versions are merged key by key over the shipped defaults).

Kept apart from the outputs modules so that ``policies.py`` can import it without a cycle."""

from __future__ import annotations

from typing import Any

from jindu.wastewater.catalogue import ANALYTES

# The one formula the platform implements (the key exists so a later formula can be added without ambiguity).
WEIGHTED_DOSES = "weighted_doses"
FORMULAS = (WEIGHTED_DOSES,)
MAX_WEIGHT = 1000

DEFAULT_INDEX_SETTINGS: dict[str, Any] = {
    "formula": WEIGHTED_DOSES,
    # The office may name its index; the platform always adds that it is the office's own formula.
    "name": "",
    # Biomarkers of the drugs that matter in China (wbe.md §4.1): methamphetamine, ketamine (itself, Du et al.
    # 2020), heroin through morphine (includes therapeutic morphine: read with the morphine-source checks),
    # MDMA, cocaine through benzoylecgonine.
    "components": {"METH": 1.0, "KET": 1.0, "MOR": 1.0, "MDMA": 1.0, "BE": 1.0},
}

# Analytes that indicate a drug (components must be among them).
DRUG_ANALYTES = frozenset(code for code, _zh, _en, kind, drug, *_rest in ANALYTES if kind == "drug" and drug)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def index_settings_problems(settings: Any) -> list[str]:
    """Problems of the ``index`` settings (merged with the defaults), as messages naming the key."""
    if not isinstance(settings, dict):
        return ["index must be an object."]
    problems: list[str] = []
    if settings.get("formula", WEIGHTED_DOSES) not in FORMULAS:
        problems.append(f"index.formula must be one of: {', '.join(FORMULAS)}.")
    name = settings.get("name", "")
    if not isinstance(name, str) or len(name) > 64:
        problems.append("index.name must be a text of at most 64 characters.")
    components = settings.get("components")
    if not isinstance(components, dict) or not components:
        problems.append("index.components must map analyte codes to weights.")
        return problems
    for code, weight in components.items():
        if code not in DRUG_ANALYTES:
            problems.append(f"index.components.{code} is not the code of a drug analyte (e.g. METH, KET).")
        elif not _is_number(weight) or not 0 <= weight <= MAX_WEIGHT:
            problems.append(f"index.components.{code} must be a weight between 0 and {MAX_WEIGHT}.")
    if not any(_is_number(weight) and weight > 0 for weight in components.values()):
        problems.append("index.components needs at least one weight greater than 0.")
    return problems
