"""Versioned rules of the people app and their shipped defaults.

Test and contact frequencies, the risk instrument, the abstinence periods and the staffing ratio differ by
province and year, so they are ``PolicyVersion`` rows (core), never constants in code. The defaults below
are installed as national versions by a data migration and documented in ``docs/people.md``; a city or
province overrides them by publishing its own version with a later effective date.

``PolicyBook`` answers "which version applies to this org unit on this day" for thousands of persons
without a query per person: it loads every version of the people kinds once and matches regions by the
org unit's materialised path (the region's code is one of the path's segments).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from jindu.core.models import PolicyVersion

CONTACT_POLICY = "people.contact_policy"
RISK_INSTRUMENT = "people.risk_instrument"
ABSTINENCE_POLICY = "people.abstinence_policy"
STAFFING_POLICY = "people.staffing_policy"

# Sources: casemgmt.md §1.2 (Hunan code JD4312, 仙游 practice), §1.3 (30 days), §1.4, §1.6 (浙江 factors).
DEFAULT_CONTACT_POLICY: dict[str, Any] = {
    "grace_days": 7,
    "lost_contact_days": 30,
    # 脱管 escalation: the alert climbs to the next level after this many days at the previous one
    # (社工 on day 0, 街道禁毒办 after 7 days, 社区民警 after 7 more).
    "escalation_days": [7, 7],
    # Which contact kinds satisfy the "visit or talk" schedule (a phone call keeps contact, see 脱管,
    # but does not replace the face-to-face visit).
    "contact_kinds": ["visit", "talk"],
    "rules": [
        # 社区戒毒: urine monthly in year 1, every 2 months in year 2, every 3 months in year 3;
        # a visit or talk monthly in year 1, then every 2 months.
        {"measure": "community_treatment", "phase": 1, "urine_months": 1, "contact_months": 1},
        {"measure": "community_treatment", "phase": 2, "urine_months": 2, "contact_months": 2},
        {"measure": "community_treatment", "phase": 3, "urine_months": 3, "contact_months": 2},
        # 社区康复: every 2 months, then every 3, then every 6.
        {"measure": "community_rehabilitation", "phase": 1, "urine_months": 2, "contact_months": 1},
        {"measure": "community_rehabilitation", "phase": 2, "urine_months": 3, "contact_months": 2},
        {"measure": "community_rehabilitation", "phase": 3, "urine_months": 6, "contact_months": 2},
        # 社会面管控 (released, abstinent under 3 years): a contact every 3 months, a test twice a year.
        {"measure": "social_control", "urine_months": 6, "contact_months": 3},
        # Colour overlays tighten whatever the measure says (the shorter interval wins).
        {"risk_color": "red", "urine_months": 1, "contact_months": 1, "hair_months": 6},
        {"risk_color": "orange", "urine_months": 1, "contact_months": 1},
    ],
}

DEFAULT_ABSTINENCE_POLICY: dict[str, Any] = {
    "abstinent_years": 3,  # 戒毒条例 art. 7
    "almost_days": 90,  # the "almost eligible" list looks this far ahead
    "no_contact_years": 8,  # 无感化: a local rule (casemgmt.md §1.4), 8 years by default
}

DEFAULT_RISK_INSTRUMENT: dict[str, Any] = {
    # Factors after 浙公通字〔2022〕65号 (染毒种类, 染毒程度, 行为特征, 戒毒次数, 戒断时限, 家庭环境, 就业情况).
    "factors": [
        {
            "code": "substance",
            "label": "Substance type",
            "options": [
                {"code": "synthetic", "label": "Synthetic drugs", "points": 20},
                {"code": "opioid", "label": "Opioids", "points": 15},
                {"code": "other", "label": "Other", "points": 5},
            ],
        },
        {
            "code": "severity",
            "label": "Degree of use",
            "options": [
                {"code": "severe", "label": "Severely addicted", "points": 20},
                {"code": "addicted", "label": "Addicted", "points": 10},
                {"code": "occasional", "label": "Not addicted", "points": 0},
            ],
        },
        {
            "code": "behaviour",
            "label": "Behaviour",
            "options": [
                {"code": "violent", "label": "Violence, self-harm or mental disorder", "points": 25},
                {"code": "violations", "label": "Breaches of the agreement", "points": 15},
                {"code": "compliant", "label": "Compliant", "points": 0},
            ],
        },
        {
            "code": "treatments",
            "label": "Earlier treatments",
            "options": [
                {"code": "three_or_more", "label": "Three or more", "points": 15},
                {"code": "one_or_two", "label": "One or two", "points": 8},
                {"code": "none", "label": "None", "points": 0},
            ],
        },
        {
            "code": "abstinence",
            "label": "Time abstinent",
            "options": [
                {"code": "under_1y", "label": "Under one year", "points": 10},
                {"code": "1y_to_3y", "label": "One to three years", "points": 5},
                {"code": "over_3y", "label": "Over three years", "points": 0},
            ],
        },
        {
            "code": "family",
            "label": "Family environment",
            "options": [
                {"code": "unsupportive", "label": "No support or drug users in the family", "points": 5},
                {"code": "supportive", "label": "Supportive", "points": 0},
            ],
        },
        {
            "code": "employment",
            "label": "Employment",
            "options": [
                {"code": "unemployed", "label": "Unemployed", "points": 5},
                {"code": "employed", "label": "Employed or studying", "points": 0},
            ],
        },
    ],
    # Lowest total for each colour, checked from red down; anything lower is green.
    "cutoffs": {"red": 70, "orange": 50, "yellow": 30},
    "reassess_months": 6,
}

DEFAULT_STAFFING_POLICY: dict[str, Any] = {"max_persons_per_worker": 30}

DEFAULTS: dict[str, dict[str, Any]] = {
    CONTACT_POLICY: DEFAULT_CONTACT_POLICY,
    ABSTINENCE_POLICY: DEFAULT_ABSTINENCE_POLICY,
    RISK_INSTRUMENT: DEFAULT_RISK_INSTRUMENT,
    STAFFING_POLICY: DEFAULT_STAFFING_POLICY,
}
# 禁毒法 in force: the shipped defaults apply from this day unless a region publishes its own.
DEFAULT_EFFECTIVE_FROM = dt.date(2008, 6, 1)


@dataclass(frozen=True)
class Policy:
    """One policy version as the evaluation needs it."""

    id: int
    kind: str
    region_code: str | None
    effective_from: dt.date
    label: str
    payload: dict[str, Any]


class PolicyBook:
    """Every version of the people policy kinds, loaded once; resolves by org path and date."""

    def __init__(self, kinds: tuple[str, ...] = (CONTACT_POLICY, ABSTINENCE_POLICY, RISK_INSTRUMENT)):
        self.versions: dict[str, list[Policy]] = {kind: [] for kind in kinds}
        rows = PolicyVersion.objects.filter(kind__in=kinds).select_related("region")
        for row in rows:
            self.versions[row.kind].append(
                Policy(
                    id=row.pk,
                    kind=row.kind,
                    region_code=row.region.code if row.region is not None else None,
                    effective_from=row.effective_from,
                    label=row.label,
                    payload=row.payload,
                )
            )
        self._cache: dict[tuple[str, str, dt.date], Policy | None] = {}

    def resolve(self, kind: str, org_path: str, on: dt.date) -> Policy | None:
        """The version of ``kind`` for the org unit at ``org_path`` on ``on``: nearest region first, then the
        latest effective date (the same rule as ``jindu.core.policy.policy_in_force``)."""
        key = (kind, org_path, on)
        if key in self._cache:
            return self._cache[key]
        codes = [segment for segment in org_path.split("/") if segment]
        best: Policy | None = None
        best_key: tuple[int, dt.date] | None = None
        for version in self.versions.get(kind, ()):
            if version.effective_from > on:
                continue
            if version.region_code is None:
                depth = -1
            elif version.region_code in codes:
                depth = codes.index(version.region_code)
            else:
                continue
            candidate_key = (depth, version.effective_from)
            if best_key is None or candidate_key > best_key:
                best, best_key = version, candidate_key
        self._cache[key] = best
        return best


def install_default_policies(policy_model: Any = PolicyVersion) -> None:
    """Install the shipped defaults as national versions (the data migration does this; a test database
    flushed by a transactional test gets them back the same way)."""
    from jindu.people.kpis import DEFAULT_KPI_DEFINITIONS, KPI_DEFINITIONS

    for kind, payload in {**DEFAULTS, KPI_DEFINITIONS: DEFAULT_KPI_DEFINITIONS}.items():
        policy_model.objects.get_or_create(
            kind=kind,
            region=None,
            effective_from=DEFAULT_EFFECTIVE_FROM,
            defaults={
                "label": "Default (shipped)",
                "payload": payload,
                "source": "docs/people.md",
                "is_default": True,
            },
        )
