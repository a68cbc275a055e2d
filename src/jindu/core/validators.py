"""Validators for Chinese identifiers: 身份证号 (GB 11643), 统一社会信用代码 (GB 32100), mobile numbers."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
# GB/T 2260 province-level codes (first two digits of a region code), plus 71 台湾, 81 香港, 82 澳门.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
        "71", "81", "82",
    }
)  # fmt: skip

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


def normalize_id_number(value: str) -> str:
    return "".join(str(value).split()).upper()


def id_number_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def id_number_birth_date(value: str) -> dt.date:
    value = normalize_id_number(value)
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def validate_id_number(value: str, *, today: dt.date | None = None) -> str:
    """Validate an 18-character 居民身份证号码; return it normalised (upper-case X, no spaces)."""
    value = normalize_id_number(value)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValidationError(_("An ID number has 17 digits followed by a digit or X."), code="id_format")
    if value[:2] not in PROVINCE_CODES or value[2:4] == "00" and value[:2] not in {"71", "81", "82"}:
        raise ValidationError(_("The ID number does not start with a valid region code."), code="id_region")
    try:
        born = id_number_birth_date(value)
    except ValueError:
        raise ValidationError(
            _("The ID number contains an impossible birth date."), code="id_birth_date"
        ) from None
    today = today or dt.date.today()  # noqa: DTZ011 - a calendar date, compared with a birth date
    if born > today or born.year < 1900:
        raise ValidationError(_("The ID number contains an impossible birth date."), code="id_birth_date")
    if id_number_check_char(value[:17]) != value[17]:
        raise ValidationError(_("The ID number's check digit is wrong."), code="id_check_digit")
    return value


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARS.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Validate a 统一社会信用代码 (GB 32100-2015); return it normalised."""
    value = "".join(str(value).split()).upper()
    if not USCC_PATTERN.fullmatch(value):
        raise ValidationError(
            _("A unified social credit code has 18 characters from 0-9 and A-Y without I, O, S, V, Z."),
            code="uscc_format",
        )
    if uscc_check_char(value[:17]) != value[17]:
        raise ValidationError(
            _("The unified social credit code's check character is wrong."), code="uscc_check"
        )
    return value


def normalize_mobile(value: str) -> str:
    value = re.sub(r"[\s-]", "", str(value))
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value


def validate_mobile(value: str) -> str:
    """Validate a mainland mobile number (11 digits starting 13–19); return it normalised."""
    value = normalize_mobile(value)
    if not MOBILE_PATTERN.fullmatch(value):
        raise ValidationError(
            _("A mobile number has 11 digits and starts with 13 to 19."), code="mobile_format"
        )
    return value
