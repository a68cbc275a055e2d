"""The wastewater settings: versioned configuration with effective dates (policy ``wastewater.settings``).

What differs by province or year lives here, never in code: the default correction-factor set, the weekday/
weekend split, the ±band of "stable" year-on-year changes, the error model of the Monte Carlo intervals, the QA
limits that block a measurement, typical doses, anomaly thresholds and the weights of the office's own index.
The shipped national version is installed by a data migration; a region publishes its own version with the
keys it changes (``core.policy.policy_publish``); keys a version does not set take the shipped defaults
(``_merged``), so a version written before a key existed keeps working.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jindu.core.models import OrgUnit, PolicyVersion
from jindu.core.policy import policy_in_force
from jindu.wastewater.anomaly_settings import DEFAULT_ANOMALY_SETTINGS, anomaly_settings_problems
from jindu.wastewater.catalogue import DEFAULT_CF_SET
from jindu.wastewater.index_settings import DEFAULT_INDEX_SETTINGS, index_settings_problems
from jindu.wastewater.periods import DaySplit

SETTINGS_KIND = "wastewater.settings"
DEFAULT_EFFECTIVE_FROM = dt.date(2020, 1, 1)

DEFAULT_SETTINGS: dict[str, Any] = {
    "default_cf_set": DEFAULT_CF_SET,
    # By the day a composite ends, Monday = 0 (EUDA/SCORE: weekday Tue–Thu, weekend Fri–Mon).
    "day_split": {"weekday": [1, 2, 3], "weekend": [4, 5, 6, 0]},
    # Year-on-year changes strictly inside ±band % are "stable" (EUDA).
    "stable_band_percent": 10,
    "uncertainty": {
        "draws": 10_000,
        "seed": 20_260_101,
        # Typical relative SDs (wbe.md §3.3): sampling ≤10 %, flow 5–10 %, analysis 6–26 %.
        "sampling_rsd": 0.10,
        "flow_rsd": 0.10,
        "analysis_rsd": 0.10,
        "analysis_rsd_by_analyte": {},
        # Excretion fraction RSD where a factor has none of its own (26 %: cocaine via BE, Castiglioni 2013).
        "default_excretion_rsd": 0.26,
        # An estimate entered without an RSD gets its method's (between-method spread 7–55 %, wbe.md §3.1).
        "population_rsd_by_method": {
            "registered": 0.20,
            "design_capacity": 0.30,
            "flow": 0.25,
            "nh4n": 0.15,
            "cod": 0.20,
            "cotinine": 0.15,
            "phone_signal": 0.10,
            "other": 0.30,
        },
    },
    # A measurement outside these limits is blocked (no result) until the lab corrects it.
    "qa": {"recovery_min_percent": 70, "recovery_max_percent": 130, "replicate_rsd_max_percent": 20},
    # Conventional typical doses (mg) for doses/1000/day (wbe.md §1.4), by drug.
    "typical_doses_mg": {
        "methamphetamine": 30,
        "amphetamine": 30,
        "MDMA": 100,
        "cocaine": 100,
        "heroin": 30,
        "cannabis": 125,
        "ketamine": 100,
    },
    # Thresholds of the anomaly rules (anomaly_settings.py).
    "anomalies": DEFAULT_ANOMALY_SETTINGS,
    # Weights and label of the office's own drug-situation index (index_settings.py).
    "index": DEFAULT_INDEX_SETTINGS,
}


def _merged(defaults: Any, override: Any) -> Any:
    """``override`` on top of ``defaults``, dictionaries merged key by key (lists and values replaced)."""
    if isinstance(defaults, dict) and isinstance(override, dict):
        merged = {key: copy.deepcopy(value) for key, value in defaults.items()}
        for key, value in override.items():
            merged[key] = _merged(defaults.get(key), value) if key in defaults else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _rsd_problem(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value <= 5):
        return f"{name} must be a number between 0 and 5 (a relative SD: 0.1 = 10 %)."
    return None


def validate_settings(payload: dict[str, Any]) -> list[str]:
    """Problems of a settings version (merged with the defaults), as messages naming the key."""
    merged = _merged(DEFAULT_SETTINGS, payload)
    problems: list[str] = []
    split = merged.get("day_split")
    try:
        DaySplit.from_days(split["weekday"], split["weekend"])
    except (TypeError, KeyError, ValueError):
        problems.append("day_split needs disjoint, non-empty weekday and weekend lists of days 0 (Monday)–6.")
    band = merged.get("stable_band_percent")
    if isinstance(band, bool) or not isinstance(band, int | float) or not 0 < band < 100:
        problems.append("stable_band_percent must be a number between 0 and 100.")
    uncertainty = merged.get("uncertainty") or {}
    draws = uncertainty.get("draws")
    if isinstance(draws, bool) or not isinstance(draws, int) or not 100 <= draws <= 1_000_000:
        problems.append("uncertainty.draws must be a whole number between 100 and 1,000,000.")
    if isinstance(uncertainty.get("seed"), bool) or not isinstance(uncertainty.get("seed"), int):
        problems.append("uncertainty.seed must be a whole number.")
    for key in ("sampling_rsd", "flow_rsd", "analysis_rsd", "default_excretion_rsd"):
        problem = _rsd_problem(f"uncertainty.{key}", uncertainty.get(key))
        if problem:
            problems.append(problem)
    for group in ("analysis_rsd_by_analyte", "population_rsd_by_method"):
        values = uncertainty.get(group)
        if not isinstance(values, dict):
            problems.append(f"uncertainty.{group} must be an object.")
            continue
        for key, value in values.items():
            problem = _rsd_problem(f"uncertainty.{group}.{key}", value)
            if problem:
                problems.append(problem)
    qa = merged.get("qa") or {}
    limits = [
        qa.get(key) for key in ("recovery_min_percent", "recovery_max_percent", "replicate_rsd_max_percent")
    ]
    numbers = [value for value in limits if isinstance(value, int | float) and not isinstance(value, bool)]
    if len(numbers) < len(limits) or any(value < 0 for value in numbers):
        problems.append("qa limits must be numbers of at least 0.")
    elif numbers[0] >= numbers[1]:
        problems.append("qa.recovery_min_percent must be below qa.recovery_max_percent.")
    doses = merged.get("typical_doses_mg")
    if not isinstance(doses, dict) or any(
        isinstance(value, bool) or not isinstance(value, int | float) or not value > 0
        for value in doses.values()
    ):
        problems.append("typical_doses_mg must map drugs to doses greater than 0 (mg).")
    if not isinstance(merged.get("default_cf_set"), str) or not merged["default_cf_set"]:
        problems.append("default_cf_set must name a correction-factor set.")
    problems.extend(anomaly_settings_problems(merged.get("anomalies")))
    problems.extend(index_settings_problems(merged.get("index")))
    return problems


def install_default_settings(policy_model: Any = PolicyVersion) -> None:
    """Install the shipped settings as the national version (data migration; tests after a flush)."""
    policy_model.objects.get_or_create(
        kind=SETTINGS_KIND,
        region=None,
        effective_from=DEFAULT_EFFECTIVE_FROM,
        defaults={
            "label": "Shipped defaults (wbe.md; EUDA/SCORE conventions)",
            "payload": DEFAULT_SETTINGS,
            "source": "wbe.md §1.5, §3.3; EUDA/SCORE",
            "is_default": True,
        },
    )


@dataclass(frozen=True)
class WastewaterSettings:
    """The settings in force for one org unit on one day (the shipped defaults under the version's keys)."""

    version: PolicyVersion | None
    payload: dict[str, Any]

    @cached_property
    def split(self) -> DaySplit:
        return DaySplit.from_days(self.payload["day_split"]["weekday"], self.payload["day_split"]["weekend"])

    @property
    def default_cf_set(self) -> str:
        return str(self.payload["default_cf_set"])

    @property
    def stable_band_percent(self) -> float:
        return float(self.payload["stable_band_percent"])

    @property
    def draws(self) -> int:
        return int(self.payload["uncertainty"]["draws"])

    @property
    def seed(self) -> int:
        return int(self.payload["uncertainty"]["seed"])

    def analysis_rsd(self, analyte_code: str) -> float:
        uncertainty = self.payload["uncertainty"]
        return float(uncertainty["analysis_rsd_by_analyte"].get(analyte_code, uncertainty["analysis_rsd"]))

    @property
    def sampling_rsd(self) -> float:
        return float(self.payload["uncertainty"]["sampling_rsd"])

    @property
    def flow_rsd(self) -> float:
        return float(self.payload["uncertainty"]["flow_rsd"])

    @property
    def default_excretion_rsd(self) -> float:
        return float(self.payload["uncertainty"]["default_excretion_rsd"])

    def population_rsd(self, method: str) -> float:
        by_method = self.payload["uncertainty"]["population_rsd_by_method"]
        return float(by_method.get(method, by_method.get("other", 0.3)))

    def qa_problem(self, recovery_percent: float | None, replicate_rsd_percent: float | None) -> str:
        """Why a measurement's QA figures block it ("" when they do not)."""
        qa = self.payload["qa"]
        if recovery_percent is not None and not (
            qa["recovery_min_percent"] <= recovery_percent <= qa["recovery_max_percent"]
        ):
            return (
                f"recovery {recovery_percent:g} % outside {qa['recovery_min_percent']:g}–"
                f"{qa['recovery_max_percent']:g} %"
            )
        if replicate_rsd_percent is not None and replicate_rsd_percent > qa["replicate_rsd_max_percent"]:
            return f"replicate RSD {replicate_rsd_percent:g} % above {qa['replicate_rsd_max_percent']:g} %"
        return ""

    def typical_dose_mg(self, drug: str) -> float | None:
        dose = self.payload["typical_doses_mg"].get(drug)
        return float(dose) if dose and math.isfinite(float(dose)) else None


def settings_in_force(org_unit: OrgUnit | None, day: dt.date) -> WastewaterSettings:
    """The settings for ``org_unit`` on ``day``: the nearest region's latest version, over the defaults."""
    version = policy_in_force(SETTINGS_KIND, org_unit, day)
    return WastewaterSettings(version=version, payload=_merged(DEFAULT_SETTINGS, version.payload))


class SettingsBook:
    """Every settings version loaded once, resolved in memory for many (org unit, day) pairs: a recomputation of
    three years of samples asks thousands of times and must not query each time."""

    def __init__(self) -> None:
        from jindu.core.models import OrgUnitClosure

        self._versions = list(PolicyVersion.objects.filter(kind=SETTINGS_KIND).order_by("effective_from"))
        self._closure = OrgUnitClosure
        self._distances: dict[int, dict[int | None, int]] = {}
        self._memo: dict[tuple[int | None, int | None], WastewaterSettings] = {}

    def _distances_of(self, org_unit_id: int | None) -> dict[int | None, int]:
        if org_unit_id is None:
            return {None: 10_000}
        if org_unit_id not in self._distances:
            found: dict[int | None, int] = {None: 10_000}
            found.update(
                self._closure.objects.filter(descendant_id=org_unit_id).values_list("ancestor_id", "distance")
            )
            self._distances[org_unit_id] = found
        return self._distances[org_unit_id]

    def resolve(self, org_unit_id: int | None, day: dt.date) -> WastewaterSettings:
        distances = self._distances_of(org_unit_id)
        best: PolicyVersion | None = None
        best_key: tuple[int, dt.date] | None = None
        for version in self._versions:
            if version.effective_from > day or version.region_id not in distances:
                continue
            key = (-distances[version.region_id], version.effective_from)
            if best_key is None or key > best_key:
                best, best_key = version, key
        memo_key = (org_unit_id, best.pk if best else None)
        if memo_key not in self._memo:
            self._memo[memo_key] = WastewaterSettings(
                version=best, payload=_merged(DEFAULT_SETTINGS, best.payload if best else {})
            )
        return self._memo[memo_key]
