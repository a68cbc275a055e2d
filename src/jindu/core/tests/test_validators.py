"""Validators for 身份证号 (GB 11643), 统一社会信用代码 (GB 32100) and mobile numbers; masked display.

Check characters are recomputed here from the weights published in the standards, independently of the
code under test, so a wrong constant in ``jindu.core.validators`` makes these tests fail.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from jindu.core.masking import mask_id_number, mask_name, mask_phone
from jindu.core.validators import validate_id_number, validate_mobile, validate_uscc

# GB 11643-1999: weights W_i = 2^(17-i) mod 11 and the check-character table indexed by sum mod 11.
GB11643_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
GB11643_CHECK = "10X98765432"

# GB 32100-2015: 31-character code set (no I, O, S, V, Z) and weights W_i = 3^(i-1) mod 31.
GB32100_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def id_check(first17: str) -> str:
    assert len(first17) == 17 and first17.isdigit()
    return GB11643_CHECK[sum(int(d) * w for d, w in zip(first17, GB11643_WEIGHTS, strict=True)) % 11]


def make_id(region: str, birth: str, sequence: str = "123") -> str:
    """A well-formed ID number with the check digit computed here."""
    first17 = region + birth + sequence
    return first17 + id_check(first17)


def wrong_check(number: str) -> str:
    """The same number with a different (wrong) check character."""
    other = next(c for c in GB11643_CHECK if c != number[17])
    return number[:17] + other


def uscc_check(first17: str) -> str:
    total = sum(GB32100_CHARS.index(c) * w for c, w in zip(first17, GB32100_WEIGHTS, strict=True))
    return GB32100_CHARS[(31 - total % 31) % 31]


def error_code(excinfo: pytest.ExceptionInfo[ValidationError]) -> str | None:
    return excinfo.value.code


# 身份证号 ----------------------------------------------------------------------------------------------


def test_weights_used_here_are_those_of_the_standard():
    # Sanity check of the test's own constants: W_i = 2^(17-i) mod 11 (i = 1..17, from the left).
    assert [pow(2, 17 - i, 11) for i in range(17)] == GB11643_WEIGHTS
    assert [pow(3, i, 31) for i in range(17)] == GB32100_WEIGHTS


def test_published_example_id_number_is_valid():
    # GB 11643-1999 appendix example: 11010519491231002X (北京市朝阳区, born 1949-12-31).
    # Worked by hand: 1*7 + 1*9 + 0*10 + 1*5 + 0*8 + 5*4 + 1*2 + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10
    #                 + 1*5 + 0*8 + 0*4 + 2*2 = 167; 167 mod 11 = 2; table[2] = "X".
    assert 7 + 9 + 0 + 5 + 0 + 20 + 2 + 9 + 24 + 27 + 7 + 18 + 30 + 5 + 0 + 0 + 4 == 167
    assert GB11643_CHECK[167 % 11] == "X"
    assert validate_id_number("11010519491231002X") == "11010519491231002X"


@pytest.mark.parametrize(
    ("region", "birth"),
    [
        ("330203", "19900101"),  # 宁波市海曙区
        ("440305", "20000229"),  # leap day in a year divisible by 400
        ("650102", "19010101"),
        ("810000", "19850615"),  # 香港: "00" after the province code is allowed
        ("330213", "19721130"),
    ],
)
def test_valid_id_numbers(region, birth):
    for sequence in ("001", "123", "456", "789", "999"):
        number = make_id(region, birth, sequence)
        assert validate_id_number(number) == number


def test_id_number_with_every_check_character_is_accepted_when_correct():
    # Walk sequence numbers until each of the 11 possible check characters has been produced once.
    seen = {}
    for sequence in range(1000):
        number = make_id("330203", "19900101", f"{sequence:03d}")
        seen.setdefault(number[17], number)
    assert set(seen) == set(GB11643_CHECK)
    for number in seen.values():
        assert validate_id_number(number) == number


def test_wrong_check_digit_is_rejected():
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number("110105194912310021")
    assert error_code(excinfo) == "id_check_digit"
    for sequence in ("001", "123", "777"):
        number = make_id("330203", "19900101", sequence)
        with pytest.raises(ValidationError) as excinfo:
            validate_id_number(wrong_check(number))
        assert error_code(excinfo) == "id_check_digit"


@pytest.mark.parametrize(
    "birth",
    [
        "19900230",  # 30 February
        "19900231",
        "19000229",  # 1900 is not a leap year
        "19901301",  # month 13
        "19900001",  # month 0
        "19900100",  # day 0
        "19900431",  # 31 April
        "18991231",  # before 1900
    ],
)
def test_impossible_birth_dates_are_rejected(birth):
    number = make_id("330203", birth)  # correct check digit: only the date is wrong
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(number)
    assert error_code(excinfo) == "id_birth_date"


def test_future_birth_date_is_rejected():
    tomorrow = dt.date.today() + dt.timedelta(days=1)  # noqa: DTZ011
    number = make_id("330203", tomorrow.strftime("%Y%m%d"))
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(number)
    assert error_code(excinfo) == "id_birth_date"
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(make_id("330203", "20990101"))
    assert error_code(excinfo) == "id_birth_date"


def test_birth_date_is_compared_with_the_given_today():
    number = make_id("330203", "20200101")
    assert validate_id_number(number, today=dt.date(2020, 1, 1)) == number  # born today
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(number, today=dt.date(2019, 12, 31))
    assert error_code(excinfo) == "id_birth_date"


@pytest.mark.parametrize("region", ["990101", "000000", "100101", "200101", "700101", "910101", "110001"])
def test_bad_region_is_rejected(region):
    number = make_id(region, "19900101")
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(number)
    assert error_code(excinfo) == "id_region"


def test_lower_case_x_is_normalised():
    assert validate_id_number("11010519491231002x") == "11010519491231002X"


def test_spaces_are_stripped():
    assert validate_id_number(" 110105 19491231 002X ") == "11010519491231002X"
    assert validate_id_number("110105\t1949 1231\n002x") == "11010519491231002X"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "110105491231002",  # old 15-digit format
        "1101051949123100X2",  # X not in the last position
        "11010519491231002Y",
        "110105-19491231-002X",
    ],
)
def test_malformed_id_numbers_are_rejected(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(value)
    assert error_code(excinfo) == "id_format"


# 统一社会信用代码 -------------------------------------------------------------------------------------


def test_known_uscc_is_valid_by_hand_computation():
    code = "91350100M000100Y43"
    # Values: 9 1 3 5 0 1 0 0 M=21 0 0 0 1 0 0 Y=30 4
    # 9*1 + 1*3 + 3*9 + 5*27 + 1*26 + 21*20 + 1*8 + 30*30 + 4*28 = 1640; 1640 mod 31 = 28; 31 - 28 = 3.
    values = [GB32100_CHARS.index(c) for c in code[:17]]
    assert values == [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]
    total = sum(v * w for v, w in zip(values, GB32100_WEIGHTS, strict=True))
    assert total == 1640
    assert GB32100_CHARS[31 - total % 31] == "3" == code[17]
    assert validate_uscc(code) == code


@pytest.mark.parametrize(
    "first17", ["91330206MA2AH1XQ7", "12100000400000624", "52330203MJ0000000", "9111000071093"]
)
def test_uscc_with_computed_check_character_is_valid(first17):
    first17 = (first17 + "0000")[:17]
    code = first17 + uscc_check(first17)
    assert validate_uscc(code) == code


def test_uscc_check_character_can_be_zero():
    # (31 - total % 31) % 31 == 0 when total is a multiple of 31: find such a code by varying one char.
    for char in GB32100_CHARS:
        first17 = "91330206MA2AH1X" + char + "0"
        if uscc_check(first17) == "0":
            assert validate_uscc(first17 + "0") == first17 + "0"
            break
    else:  # pragma: no cover - the loop above always finds one for some character
        pytest.fail("no code with check character 0 found")


def test_uscc_is_normalised():
    assert validate_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_uscc_wrong_check_character_is_rejected():
    for wrong in ("0", "4", "A", "Y"):
        with pytest.raises(ValidationError) as excinfo:
            validate_uscc("91350100M000100Y4" + wrong)
        assert error_code(excinfo) == "uscc_check"


@pytest.mark.parametrize("bad", ["I", "O", "S", "V", "Z"])
def test_uscc_invalid_characters_are_rejected(bad):
    valid = "91350100M000100Y43"
    for position in (0, 8, 15, 17):
        code = valid[:position] + bad + valid[position + 1 :]
        with pytest.raises(ValidationError) as excinfo:
            validate_uscc(code)
        assert error_code(excinfo) == "uscc_format", code


@pytest.mark.parametrize(
    "value",
    [
        "",
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "9135010AM000100Y43",  # region code (positions 3-8) must be digits
        "91350100M000100Y4-",
    ],
)
def test_uscc_malformed_is_rejected(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_uscc(value)
    assert error_code(excinfo) == "uscc_format"


# Mobile numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("19912345678", "19912345678"),
        ("15000000000", "15000000000"),
    ],
)
def test_valid_mobile_numbers_are_normalised(value, expected):
    assert validate_mobile(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "138123456789",  # 12 digits
        "1381234567",  # 10 digits
        "12812345678",  # starts 12
        "10812345678",  # starts 10
        "11812345678",  # starts 11
        "23812345678",
        "+8712812345678",
        "1381234567a",
        "+86 128 1234 5678",
    ],
)
def test_invalid_mobile_numbers_are_rejected(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_mobile(value)
    assert error_code(excinfo) == "mobile_format"


# Masking ----------------------------------------------------------------------------------------------


def test_mask_id_number():
    assert mask_id_number("330203199001011234") == "330203********1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    masked = mask_id_number("330203199001011234")
    assert len(masked) == 18
    assert "19900101" not in masked


def test_mask_id_number_short_and_empty():
    assert mask_id_number("") == ""
    assert mask_id_number(None) == ""
    assert mask_id_number("1234567890") == "**********"
    assert mask_id_number("12345") == "*****"


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("19900001111") == "199****1111"
    assert mask_phone("") == ""
    assert mask_phone(None) == ""
    assert mask_phone("12345") == "*****"


def test_mask_name():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧***"
    assert mask_name("李") == "*"
    assert mask_name("") == ""
    assert mask_name(None) == ""
