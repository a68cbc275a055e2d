"""The back-calculation chain of wastewater-based drug epidemiology (wbe.md §1), as plain arithmetic.

concentration (ng/L) × influent flow (m³/day) → daily load (mg/day)
daily load × 1000 / served population → population-normalised load (mg/day/1000 inhabitants)
population-normalised load × correction factor → consumption of the parent drug (mg/day/1000 inhabitants)
consumption / typical dose → doses per 1000 inhabitants per day

The correction factor is ``(M_parent / M_biomarker) / excretion_fraction``. Nothing here touches the
database; units are converted at the boundary (``concentration_ng_per_l``, ``flow_m3_per_day``) so that the
chain itself works in one set of units only.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation


class UnitError(ValueError):
    """A quantity in a unit the platform does not know, or a value that cannot be a quantity."""


# Unit spellings seen in Chinese lab reports and in the literature, normalised (spaces removed, lower case).
CONCENTRATION_UNITS: dict[str, float] = {
    "ng/l": 1.0,
    "纳克/升": 1.0,
    "µg/l": 1000.0,
    "μg/l": 1000.0,  # Greek mu, as some keyboards type it
    "ug/l": 1000.0,
    "微克/升": 1000.0,
    "mg/l": 1_000_000.0,
    "毫克/升": 1_000_000.0,
}
FLOW_UNITS: dict[str, float] = {
    "m3/d": 1.0,
    "m³/d": 1.0,
    "m3/day": 1.0,
    "立方米/天": 1.0,
    "立方米/日": 1.0,
    "吨/天": 1.0,  # plants report treated water in tonnes: 1 t = 1 m³
    "t/d": 1.0,
    "万m3/d": 10_000.0,
    "万m³/d": 10_000.0,
    "万立方米/天": 10_000.0,
    "万立方米/日": 10_000.0,
    "万吨/天": 10_000.0,
    "万吨/日": 10_000.0,
    "l/d": 0.001,
}


def _normal_unit(unit: str) -> str:
    return re.sub(r"\s+", "", str(unit or "")).lower().replace("·", "/").replace("／", "/")


def _positive_number(value: float | int | str | Decimal, *, allow_zero: bool) -> float:
    try:
        number = float(Decimal(str(value).strip().replace(",", "")))
    except (InvalidOperation, ValueError):
        raise UnitError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise UnitError(f"{value!r} must be {'at least 0' if allow_zero else 'greater than 0'}")
    return number


def concentration_ng_per_l(value: float | int | str | Decimal, unit: str = "ng/L") -> float:
    """A concentration in ng/L (= µg/m³) from a value in any known concentration unit."""
    factor = CONCENTRATION_UNITS.get(_normal_unit(unit))
    if factor is None:
        raise UnitError(f"unknown concentration unit {unit!r} (use ng/L or µg/L)")
    return _positive_number(value, allow_zero=True) * factor


def flow_m3_per_day(value: float | int | str | Decimal, unit: str = "m3/d") -> float:
    """An influent flow in m³/day from a value in m³/d, 万m³/d (10⁴ m³/d, the Chinese convention) or t/d."""
    factor = FLOW_UNITS.get(_normal_unit(unit))
    if factor is None:
        raise UnitError(f"unknown flow unit {unit!r} (use m3/d or 万m3/d)")
    return _positive_number(value, allow_zero=False) * factor


def daily_load_mg(concentration_ng_l: float, flow_m3_day: float) -> float:
    """Daily mass load of the biomarker, mg/day: C [ng/L] × Q [m³/day] × 1000 [L/m³] × 10⁻⁶ [mg/ng]."""
    return concentration_ng_l * flow_m3_day * 1e-3


def load_per_1000(load_mg_day: float, population: float) -> float:
    """Population-normalised load, mg/day/1000 inhabitants."""
    if population <= 0:
        raise UnitError("the served population must be greater than 0")
    return load_mg_day * 1000.0 / population


def correction_factor(
    excretion_fraction: float, parent_molar_mass: float, biomarker_molar_mass: float
) -> float:
    """``(M_parent / M_biomarker) / f_excr``: mg of parent drug consumed per mg of biomarker in the sewer."""
    if not 0 < excretion_fraction <= 1:
        raise UnitError("the excretion fraction must lie in (0, 1]")
    if parent_molar_mass <= 0 or biomarker_molar_mass <= 0:
        raise UnitError("molar masses must be greater than 0")
    return (parent_molar_mass / biomarker_molar_mass) / excretion_fraction


def consumption_per_1000(load_per_1000_mg: float, factor: float) -> float:
    """Consumption of the parent drug, mg/day/1000 inhabitants."""
    return load_per_1000_mg * factor


def doses_per_1000(consumption_mg: float, typical_dose_mg: float) -> float:
    """Doses per 1000 inhabitants per day at a conventional typical dose (a versioned setting)."""
    if typical_dose_mg <= 0:
        raise UnitError("the typical dose must be greater than 0")
    return consumption_mg / typical_dose_mg
