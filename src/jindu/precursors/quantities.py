"""CAS Registry Numbers and quantity conversion to kilograms of pure substance.

Every cap, permit and mass-balance check in the precursor module works in **kg of pure substance** (precursors.md
§1.6): 21 t of 31 % hydrochloric acid is 6,510 kg of HCl, not 21,000 kg. Units are the UN/ECE Recommendation 20
codes that EPCIS ``quantityList[].uom`` uses (KGM, LTR, ...); ``parse_uom`` maps the spellings found in uploaded
台账 (ledgers) such as "kg", "吨" or "升" onto them.

Precision: results are rounded to 0.000001 kg (1 mg, see ``KG_PURE_QUANTUM``) with round-half-even, so sums over
many events carry no rounding bias and still fit comfortably in a ``DecimalField(max_digits=18, decimal_places=6)``
(up to 10^12 kg).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Final


class QuantityError(ValueError):
    """A quantity, unit, concentration or density that cannot be converted to kg of pure substance."""


class CasError(ValueError):
    """A string that is not a valid CAS Registry Number.

    ``expected_check_digit`` is set when only the check digit is wrong, so an API can tell the user which digit the
    rest of the number implies.
    """

    def __init__(self, message: str, *, expected_check_digit: int | None = None) -> None:
        super().__init__(message)
        self.expected_check_digit = expected_check_digit


# --- CAS Registry Numbers ---------------------------------------------------------------------------------------

CAS_PATTERN: Final = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")
# Unhyphenated CAS numbers (as some registries and spreadsheets store them): 2-7 + 2 + 1 digits.
CAS_DIGITS_ONLY_PATTERN: Final = re.compile(r"^\d{5,10}$")
# Full-width digits and the dash look-alikes that Chinese documents and word processors produce.
_CAS_TRANSLATION: Final = str.maketrans(
    "０１２３４５６７８９‐‑‒–—―－−",
    "0123456789--------",
)


def cas_check_digit(body_digits: str) -> int:
    """Return the CAS check digit for the digits before it (hyphens removed).

    Rule (precursors.md §1.6): read the digits right to left, multiply the first by 1, the second by 2, and so on;
    the check digit is the sum modulo 10. Example for acetic anhydride 108-24-7: digits 10824 read right to left
    are 4, 2, 8, 0, 1 → 1×4 + 2×2 + 3×8 + 4×0 + 5×1 = 37 → 7.
    """
    return sum(position * int(digit) for position, digit in enumerate(reversed(body_digits), start=1)) % 10


def normalize_cas(value: str) -> str:
    """Return ``value`` in canonical CAS form ``NNNNNNN-NN-N`` without checking the check digit.

    Accepted variations: surrounding or embedded whitespace, full-width digits and dash look-alikes (－, –, —),
    zero padding of the first group (``0000108-24-7``) and the unhyphenated form (``108247``). Raises
    ``CasError`` when the result does not have 2–7, 2 and 1 digits.
    """
    if not isinstance(value, str):
        raise CasError(f"A CAS number must be given as text, not {type(value).__name__}.")
    text = "".join(value.translate(_CAS_TRANSLATION).split())
    if CAS_DIGITS_ONLY_PATTERN.match(text):
        text = f"{text[:-3]}-{text[-3:-1]}-{text[-1]}"
    if text.count("-") == 2:
        first, rest = text.split("-", 1)
        # Zero padding is a display convention (fixed-width columns); CAS first groups never start with 0.
        text = f"{first.lstrip('0')}-{rest}"
    if not CAS_PATTERN.match(text):
        raise CasError(
            f"{value!r} is not a CAS Registry Number: expected 2–7 digits, 2 digits and a check digit "
            "separated by hyphens, e.g. 108-24-7."
        )
    return text


def validate_cas(value: str) -> str:
    """Return the normalised CAS number if its check digit is right, else raise ``CasError``.

    Validity is only the checksum: "74-86-2" passes (it is acetylene, a real substance) even when a document
    means acetic anhydride (108-24-7). Whether a CAS number belongs to the named substance is a catalogue check.
    """
    normalized = normalize_cas(value)
    first, second, check = normalized.split("-")
    expected = cas_check_digit(first + second)
    if expected != int(check):
        raise CasError(
            f"CAS number {normalized} has a wrong check digit: {first}-{second}- implies {expected}, not {check}.",
            expected_check_digit=expected,
        )
    return normalized


def is_valid_cas(value: str) -> bool:
    """Return whether ``value`` is a well-formed CAS number with a correct check digit."""
    try:
        validate_cas(value)
    except CasError:
        return False
    return True


# --- Units and conversion ---------------------------------------------------------------------------------------

#: Kilograms per unit, UN/ECE Rec 20 mass codes. The pound is the exact international avoirdupois pound.
MASS_UNITS_KG: Final[dict[str, Decimal]] = {
    "KGM": Decimal("1"),
    "GRM": Decimal("0.001"),
    "MGM": Decimal("0.000001"),
    "TNE": Decimal("1000"),
    "LBR": Decimal("0.45359237"),
}
#: Litres per unit, UN/ECE Rec 20 volume codes (MTQ = cubic metre).
VOLUME_UNITS_L: Final[dict[str, Decimal]] = {
    "LTR": Decimal("1"),
    "MLT": Decimal("0.001"),
    "MTQ": Decimal("1000"),
}
ACCEPTED_UNITS: Final[tuple[str, ...]] = (*MASS_UNITS_KG, *VOLUME_UNITS_L)

#: Spellings seen in uploaded ledgers (台账) and forms, mapped to Rec 20 codes. Keys are compared lower-cased.
UNIT_ALIASES: Final[dict[str, str]] = {
    "kg": "KGM",
    "kgs": "KGM",
    "千克": "KGM",
    "公斤": "KGM",
    "g": "GRM",
    "克": "GRM",
    "mg": "MGM",
    "毫克": "MGM",
    "t": "TNE",
    "吨": "TNE",
    "公吨": "TNE",
    "lb": "LBR",
    "lbs": "LBR",
    "磅": "LBR",
    "l": "LTR",
    "升": "LTR",
    "公升": "LTR",
    "ml": "MLT",
    "毫升": "MLT",
    "m3": "MTQ",
    "m³": "MTQ",
    "立方米": "MTQ",
    "方": "MTQ",
}

#: Result precision of ``to_kg_pure``: 1 mg.
KG_PURE_QUANTUM: Final = Decimal("0.000001")
_ONE: Final = Decimal(1)


def parse_uom(value: str) -> str:
    """Map a unit as written (a Rec 20 code in any case, or an alias such as "kg", "吨", "mL") to its Rec 20 code.

    Raises ``QuantityError`` naming the unit and the accepted codes when it is unknown.
    """
    text = value.strip() if isinstance(value, str) else ""
    code = text.upper()
    if code in MASS_UNITS_KG or code in VOLUME_UNITS_L:
        return code
    alias = UNIT_ALIASES.get(text.lower())
    if alias is None:
        raise QuantityError(_unknown_unit_message(value))
    return alias


def _unknown_unit_message(value: object) -> str:
    return (
        f"Unknown unit of measure {value!r}; accepted UN/ECE Rec 20 codes are "
        f"{', '.join(MASS_UNITS_KG)} (mass) and {', '.join(VOLUME_UNITS_L)} (volume)."
    )


def _as_decimal(value: object, name: str) -> Decimal:
    """Return ``value`` as a finite Decimal; binary floats are refused because they cannot hold 0.1 exactly."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise QuantityError(f"{name} must be a Decimal (or int/str), not {type(value).__name__}.")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation:
        raise QuantityError(f"{name} {value!r} is not a number.")
    if not number.is_finite():
        raise QuantityError(f"{name} must be a finite number, not {value!r}.")
    return number


def parse_mass_fraction(value: str | Decimal) -> Decimal:
    """Parse a concentration such as "31%", "31 ％", "98.0 %" or "0.31" into a mass fraction in (0, 1].

    A bare number above 1 is refused rather than read as a percentage: "31" is ambiguous in uploaded data.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("%", "％")):
            fraction = _as_decimal(text[:-1].strip(), "Concentration") / 100
        else:
            fraction = _as_decimal(text, "Concentration")
    else:
        fraction = _as_decimal(value, "Concentration")
    _check_mass_fraction(fraction)
    return fraction


def _check_mass_fraction(fraction: Decimal) -> None:
    if not Decimal(0) < fraction <= _ONE:
        hint = f" (for {fraction} % pass Decimal('{fraction / 100}'))" if _ONE < fraction <= 100 else ""
        raise QuantityError(f"mass_fraction must be greater than 0 and at most 1, got {fraction}{hint}.")


def to_kg_pure(
    quantity: Decimal,
    uom: str,
    *,
    mass_fraction: Decimal | None = None,
    density_kg_per_l: Decimal | None = None,
) -> Decimal:
    """Convert ``quantity`` in ``uom`` (a UN/ECE Rec 20 code) to kilograms of pure substance.

    Formula: ``kg_pure = quantity × unit_factor [× density_kg_per_l] × mass_fraction``, where

    - for mass units ``unit_factor`` is kg per unit (``MASS_UNITS_KG``) and ``density_kg_per_l`` is ignored;
    - for volume units ``unit_factor`` is litres per unit (``VOLUME_UNITS_L``) and ``density_kg_per_l`` is
      required: for a solution it is the density *of the solution* (31 % HCl ≈ 1.15 kg/L), not of the solute;
    - ``mass_fraction`` (0 < f ≤ 1, w/w) defaults to 1, i.e. the quantity is already pure substance.

    The result is rounded half-even to 1 mg (``KG_PURE_QUANTUM``). Raises ``QuantityError`` for negative or
    non-numeric quantities, binary floats, unknown units, a missing or non-positive density for volumes, and
    mass fractions outside (0, 1].
    """
    amount = _as_decimal(quantity, "Quantity")
    if amount < 0:
        raise QuantityError(f"Quantity must not be negative, got {amount}.")
    amount = abs(amount)  # turns Decimal("-0") into 0 so results never print as "-0.000000"
    code = uom.strip().upper() if isinstance(uom, str) else ""
    if code not in MASS_UNITS_KG and code not in VOLUME_UNITS_L:
        raise QuantityError(_unknown_unit_message(uom))
    fraction = _ONE
    if mass_fraction is not None:
        fraction = _as_decimal(mass_fraction, "mass_fraction")
        _check_mass_fraction(fraction)
    # 34 significant digits keep the products exact (inputs have far fewer digits) before the single rounding step.
    with localcontext(prec=34, rounding=ROUND_HALF_EVEN):
        if code in MASS_UNITS_KG:
            kg = amount * MASS_UNITS_KG[code]
        else:
            if density_kg_per_l is None:
                raise QuantityError(
                    f"A volume in {code} needs density_kg_per_l to be converted to kg; none was given."
                )
            density = _as_decimal(density_kg_per_l, "density_kg_per_l")
            if density <= 0:
                raise QuantityError(f"density_kg_per_l must be positive, got {density}.")
            kg = amount * VOLUME_UNITS_L[code] * density
        return (kg * fraction).quantize(KG_PURE_QUANTUM)
