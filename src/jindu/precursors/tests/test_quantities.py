"""Tests for CAS validation and conversion to kg of pure substance (pure Python, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jindu.precursors.quantities import (
    KG_PURE_QUANTUM,
    CasError,
    QuantityError,
    cas_check_digit,
    is_valid_cas,
    normalize_cas,
    parse_mass_fraction,
    parse_uom,
    to_kg_pure,
    validate_cas,
)

# Every CAS number in precursors.md §1.2 whose CAS cell is not marked VERIFY (rows where only the listing date is
# marked VERIFY are included: the CAS itself is sourced).
CATALOGUE_CAS_NUMBERS = [
    "103-79-7",  # P-2-P
    "4676-39-5",  # PMK
    "120-57-0",  # piperonal
    "94-59-7",  # safrole
    "8006-80-2",  # sassafras oil
    "120-58-1",  # isosafrole
    "89-52-1",  # N-acetylanthranilic acid
    "118-92-3",  # anthranilic acid
    "82-58-6",  # lysergic acid
    "113-15-5",  # ergotamine
    "60-79-7",  # ergometrine
    "299-42-3",  # ephedrine
    "90-82-4",  # pseudoephedrine
    "90-81-3",  # racephedrine
    "14838-15-4",  # norephedrine
    "552-79-4",  # methylephedrine
    "2114-00-3",  # 2-bromo-1-phenyl-1-propanone
    "4468-48-8",  # APAAN
    "39742-60-4",  # NPP
    "21409-26-7",  # ANPP
    "103-82-2",  # phenylacetic acid
    "108-24-7",  # acetic anhydride
    "67-66-3",  # chloroform
    "60-29-7",  # diethyl ether
    "110-89-4",  # piperidine
    "7726-95-6",  # bromine
    "93-55-0",  # propiophenone
    "16648-44-5",  # MAPA
    "4433-77-6",  # APAA
    "13605-48-6",  # PMK methyl glycidate
    "23056-29-3",  # 4-AP
    "125541-22-2",  # 1-boc-4-AP
    "1609-66-1",  # norfentanyl
    "13956-29-1",  # cannabidiol
    "25547-51-7",  # BMK glycidic acid
    "80532-66-7",  # BMK methyl glycidate
    "5413-05-8",  # EAPA
    "79099-07-3",  # 1-boc-4-piperidone
    "108-88-3",  # toluene
    "67-64-1",  # acetone
    "78-93-3",  # methyl ethyl ketone
    "7722-64-7",  # potassium permanganate
    "7664-93-9",  # sulfuric acid
    "7647-01-0",  # hydrochloric acid
    "140-29-4",  # benzyl cyanide
    "96-48-0",  # GBL
]


@pytest.mark.parametrize("cas", CATALOGUE_CAS_NUMBERS)
def test_every_sourced_catalogue_cas_number_passes(cas):
    assert validate_cas(cas) == cas


def test_check_digit_worked_example():
    # 108-24-7: digits 1 0 8 2 4 read right to left: 1×4 + 2×2 + 3×8 + 4×0 + 5×1 = 4 + 4 + 24 + 0 + 5 = 37 → 7
    assert cas_check_digit("10824") == 7
    # 7647-01-0 (HCl): 1×1 + 2×0 + 3×7 + 4×4 + 5×6 + 6×7 = 1 + 0 + 21 + 16 + 30 + 42 = 110 → 0
    assert cas_check_digit("764701") == 0


def test_validity_is_only_the_checksum():
    # A vendor article gives acetic anhydride as 74-86-2: a valid CAS number, but acetylene's.
    # 1×6 + 2×8 + 3×4 + 4×7 = 6 + 16 + 12 + 28 = 62 → 2
    assert validate_cas("74-86-2") == "74-86-2"
    assert is_valid_cas("74-86-2")


def test_wrong_check_digit_names_the_expected_digit():
    with pytest.raises(CasError, match=r"implies 7, not 8") as caught:
        validate_cas("108-24-8")
    assert caught.value.expected_check_digit == 7
    assert not is_valid_cas("108-24-8")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (" 108-24-7 ", "108-24-7"),
        ("１０８－２４－７", "108-24-7"),  # full-width digits and hyphen from a Chinese document
        ("108–24–7", "108-24-7"),  # en dashes from a word processor
        ("108247", "108-24-7"),  # unhyphenated registry export
        ("0000108-24-7", "108-24-7"),  # zero-padded fixed-width column
        ("7647-01-0", "7647-01-0"),
    ],
)
def test_normalize_cas_accepts_common_spellings(raw, normalised):
    assert normalize_cas(raw) == normalised
    assert validate_cas(raw) == normalised


@pytest.mark.parametrize(
    "bad", ["", "108-24", "1-24-7", "12345678-24-7", "108-2-47", "108-24-77", "CAS 108-24-7"]
)
def test_malformed_cas_is_rejected_with_the_expected_format(bad):
    with pytest.raises(CasError, match="expected 2–7 digits") as caught:
        validate_cas(bad)
    assert caught.value.expected_check_digit is None


def test_cas_must_be_text():
    with pytest.raises(CasError, match="as text, not int"):
        validate_cas(108247)  # type: ignore[arg-type]


# --- to_kg_pure -------------------------------------------------------------------------------------------------


def test_hydrochloric_acid_case_converts_to_pure_hcl():
    # The paper-mill case (§1.5): 21 t of 31 % HCl = 21 × 1000 × 0.31 = 6,510 kg HCl
    assert to_kg_pure(Decimal("21"), "TNE", mass_fraction=Decimal("0.31")) == Decimal("6510")


def test_volume_needs_density():
    # 200 L acetone at 0.791 kg/L = 200 × 0.791 = 158.2 kg
    assert to_kg_pure(Decimal("200"), "LTR", density_kg_per_l=Decimal("0.791")) == Decimal("158.2")
    with pytest.raises(QuantityError, match="needs density_kg_per_l"):
        to_kg_pure(Decimal("200"), "LTR")


def test_volume_of_a_solution_uses_solution_density_and_fraction():
    # 1 m³ of 98 % sulfuric acid at 1.84 kg/L: 1000 L × 1.84 = 1840 kg solution × 0.98 = 1803.2 kg H2SO4
    kg = to_kg_pure(Decimal("1"), "MTQ", mass_fraction=Decimal("0.98"), density_kg_per_l=Decimal("1.84"))
    assert kg == Decimal("1803.2")
    # 500 mL diethyl ether at 0.713 kg/L = 0.5 L × 0.713 = 0.3565 kg
    assert to_kg_pure(Decimal("500"), "MLT", density_kg_per_l=Decimal("0.713")) == Decimal("0.3565")


@pytest.mark.parametrize(
    ("quantity", "uom", "kg"),
    [
        ("1", "KGM", "1"),
        ("250", "GRM", "0.25"),
        ("1", "MGM", "0.000001"),
        ("2.5", "TNE", "2500"),
        ("1", "LBR", "0.453592"),  # 0.45359237 rounded half-even to 1 mg
        ("3", "kgm", "3"),  # codes are case-insensitive
    ],
)
def test_mass_units(quantity, uom, kg):
    assert to_kg_pure(Decimal(quantity), uom) == Decimal(kg)


def test_density_is_ignored_for_mass_units():
    assert to_kg_pure(Decimal("10"), "KGM", density_kg_per_l=Decimal("0.791")) == Decimal("10")


def test_result_is_quantised_to_one_milligram():
    result = to_kg_pure(Decimal("0.4"), "MGM")  # 0.0000004 kg rounds half-even to 0
    assert result == 0
    assert to_kg_pure(Decimal("1234.5678"), "GRM").as_tuple().exponent == KG_PURE_QUANTUM.as_tuple().exponent
    # 1 lb of 37 % acid: 0.45359237 × 0.37 = 0.1678291769 → 0.167829
    assert to_kg_pure(Decimal("1"), "LBR", mass_fraction=Decimal("0.37")) == Decimal("0.167829")


def test_unknown_unit_names_the_unit_and_accepted_codes():
    with pytest.raises(QuantityError, match=r"'GLL'.*KGM, GRM, MGM, TNE, LBR.*LTR, MLT, MTQ"):
        to_kg_pure(Decimal("1"), "GLL")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": Decimal("-1"), "uom": "KGM"}, "must not be negative"),
        ({"quantity": 1.5, "uom": "KGM"}, "must be a Decimal"),
        ({"quantity": Decimal("NaN"), "uom": "KGM"}, "finite"),
        ({"quantity": "abc", "uom": "KGM"}, "is not a number"),
        ({"quantity": Decimal("1"), "uom": "KGM", "mass_fraction": Decimal("31")}, r"Decimal\('0.31'\)"),
        ({"quantity": Decimal("1"), "uom": "KGM", "mass_fraction": Decimal("0")}, "greater than 0"),
        ({"quantity": Decimal("1"), "uom": "LTR", "density_kg_per_l": Decimal("0")}, "must be positive"),
    ],
)
def test_bad_quantities_raise_quantity_error(kwargs, message):
    with pytest.raises(QuantityError, match=message):
        to_kg_pure(**kwargs)


def test_quantity_error_is_a_value_error():
    assert issubclass(QuantityError, ValueError)
    assert issubclass(CasError, ValueError)


def test_int_and_string_quantities_are_accepted():
    assert to_kg_pure(5, "TNE") == Decimal("5000")  # type: ignore[arg-type]
    assert to_kg_pure("0.5", "KGM") == Decimal("0.5")  # type: ignore[arg-type]


# --- parsing helpers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("kg", "KGM"),
        ("公斤", "KGM"),
        ("千克", "KGM"),
        ("吨", "TNE"),
        ("t", "TNE"),
        ("mL", "MLT"),
        ("升", "LTR"),
    ],
)
def test_parse_uom_maps_ledger_spellings(raw, code):
    assert parse_uom(raw) == code


def test_parse_uom_rejects_unknown():
    with pytest.raises(QuantityError, match="'斤'"):
        parse_uom("斤")


@pytest.mark.parametrize(
    ("raw", "fraction"),
    [("31%", "0.31"), ("31 ％", "0.31"), ("98.0 %", "0.98"), ("0.31", "0.31"), ("100%", "1")],
)
def test_parse_mass_fraction(raw, fraction):
    assert parse_mass_fraction(raw) == Decimal(fraction)


@pytest.mark.parametrize("raw", ["31", "0%", "120%", "abc%"])
def test_parse_mass_fraction_rejects_ambiguous_or_impossible(raw):
    with pytest.raises(QuantityError):
        parse_mass_fraction(raw)
