"""The demo city: 宁波市 with its real ten districts (GB/T 2260 codes), and synthetic streets,
communities and two levels of grids below them (community → 500-household grid → 50-household grid,
as in the Ningde report), plus one demo account per role.

Names and codes below district level are synthetic. The generator is deterministic for a given seed,
so every demo has the same tree; passwords are random and printed once.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from jindu.core.accounts import user_create
from jindu.core.models import OrgUnit, User
from jindu.core.orgunits import orgunits_import, parse_orgunit_csv
from jindu.core.roles import Role
from jindu.core.validators import id_number_check_char

DATA_DIR = Path(__file__).resolve().parent / "demo_data"
CITY_CODE = "330200"

STREET_STEMS = [
    "南门", "江厦", "西门", "月湖", "鼓楼", "白云", "段塘", "望春", "石碶", "集士港", "古林", "高桥", "横街",
    "锦屏", "岳林", "江口", "西坞", "萧王庙", "方桥", "莼湖", "尚田", "溪口", "甬江", "庄桥", "洪塘", "慈城",
    "新碶", "大碶", "小港", "霞浦", "柴桥", "招宝山", "蛟川", "骆驼", "庄市", "九龙湖", "澥浦", "丹城",
    "石浦", "西周", "跃龙", "桃源", "梅林", "桥头胡", "凤山", "兰江", "梨洲", "阳明", "浒山", "白沙路",
    "古塘", "坎墩", "宗汉", "观海卫", "周巷", "钟公庙", "首南", "福明", "明楼", "东胜", "百丈", "潘火",
]  # fmt: skip
COMMUNITY_STEMS = [
    "和平", "幸福", "新华", "东湖", "青林", "翠柏", "紫薇", "春晖", "明月", "雅苑", "文昌", "南苑", "北斗",
    "锦绣", "安居", "朝阳", "康宁", "丽园", "启明", "双桥", "柳汀", "马园", "华严", "天一", "甬港", "湖西",
]  # fmt: skip


def synthetic_tree(seed: int = 2026, streets_per_district: tuple[int, int] = (8, 12)) -> list[dict[str, str]]:
    """Rows (code, name, level, parent_code) below the real districts."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    districts, _ = parse_orgunit_csv((DATA_DIR / "ningbo_districts.csv").read_text(encoding="utf-8"))
    for district in districts:
        if district["level"] != "district":
            continue
        stems = rng.sample(STREET_STEMS, rng.randint(*streets_per_district))
        for street_number, stem in enumerate(stems, start=1):
            street_code = f"{district['code']}{street_number:03d}"
            rows.append(
                {
                    "code": street_code,
                    "name": f"{stem}街道",
                    "level": "street",
                    "parent_code": district["code"],
                }
            )
            for community_number in range(1, rng.randint(5, 9) + 1):
                community_code = f"{street_code}{community_number:03d}"
                name = f"{rng.choice(COMMUNITY_STEMS)}社区"
                rows.append(
                    {"code": community_code, "name": name, "level": "community", "parent_code": street_code}
                )
                for grid_number in range(1, rng.randint(2, 3) + 1):
                    grid_code = f"{community_code}{grid_number:03d}"
                    rows.append(
                        {
                            "code": grid_code,
                            "name": f"第{grid_number}网格",
                            "level": "grid",
                            "parent_code": community_code,
                        }
                    )
                    for micro_number in range(1, rng.randint(2, 4) + 1):
                        rows.append(
                            {
                                "code": f"{grid_code}{micro_number:02d}",
                                "name": f"第{grid_number}网格第{micro_number}微网格",
                                "level": "grid",
                                "parent_code": grid_code,
                            }
                        )
    for line, row in enumerate(rows, start=2):
        row["line"] = str(line)
    return [*districts, *rows]


def synthetic_id_number(rng: random.Random, region: str) -> str:
    """A syntactically valid, synthetic 身份证号 (birth 1960–2000, random sequence)."""
    year = rng.randint(1960, 2000)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    first17 = f"{region}{year:04d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
    return first17 + id_number_check_char(first17)


def synthetic_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


@dataclass
class DemoAccount:
    username: str
    password: str
    role: str
    org_unit: str
    otpauth_uri: str = ""


def demo_accounts_spec(tree: list[dict[str, str]]) -> list[tuple[str, str, str, str, list[str]]]:
    """(username, role, full name, org unit code, search scope) for each demo account."""
    first_street = next(r["code"] for r in tree if r["level"] == "street" and r["parent_code"] == "330203")
    first_community = next(
        r["code"] for r in tree if r["level"] == "community" and r["parent_code"] == first_street
    )
    return [
        ("sysadmin", Role.SYSADMIN, "系统管理员", CITY_CODE, []),
        ("secadmin", Role.SECADMIN, "安全管理员", CITY_CODE, []),
        ("auditadmin", Role.AUDITADMIN, "审计管理员", CITY_CODE, []),
        ("city", Role.CITY_OFFICE, "市禁毒办", CITY_CODE, []),
        ("haishu", Role.DISTRICT_OFFICE, "海曙区禁毒办", "330203", []),
        ("fenghua", Role.DISTRICT_OFFICE, "奉化区禁毒办", "330213", []),
        ("street", Role.STREET_OFFICE, "街道禁毒办", first_street, []),
        ("worker", Role.SOCIAL_WORKER, "禁毒社工", first_community, [first_street]),
        ("police", Role.POLICE, "公安禁毒", "330203", [CITY_CODE]),
        ("enterprise", Role.ENTERPRISE, "企业用户", "330206", []),
        ("school", Role.SCHOOL_ADMIN, "学校管理员", "330212", []),
        ("lab", Role.LAB, "污水监测实验室", CITY_CODE, []),
    ]


DEMO_ENTERPRISE_CODE = "91330206MA2AH1XQ7C"  # synthetic, with a valid GB 32100 check character


def demo_is_loaded() -> bool:
    return (
        OrgUnit.objects.filter(code=CITY_CODE).exists() and User.objects.filter(username="sysadmin").exists()
    )


def generate_demo(*, seed: int = 2026, progress: Callable[[int], None] | None = None) -> list[DemoAccount]:
    """Create the demo city and accounts; returns the accounts with their one-time passwords."""
    tree = synthetic_tree(seed)
    rng = random.Random(seed + 1)
    with transaction.atomic():
        report = orgunits_import(actor=None, rows=tree, progress=progress)
        if report.errors:
            raise RuntimeError("demo tree is invalid: " + "; ".join(report.errors[:5]))
        accounts = []
        for username, role, full_name, unit_code, search in demo_accounts_spec(tree):
            password = secrets.token_urlsafe(12)
            created = user_create(
                actor=None,
                username=username,
                password=password,
                roles=[role],
                org_unit_code=unit_code,
                search_scope_codes=search,
                full_name=full_name,
                id_number=synthetic_id_number(rng, unit_code[:6]),
                phone=synthetic_phone(rng),
                enterprise_code=DEMO_ENTERPRISE_CODE if role == Role.ENTERPRISE else "",
            )
            accounts.append(DemoAccount(username, password, str(role), unit_code, created.otpauth_uri))
    return accounts


def credentials_text(accounts: list[DemoAccount], url: str) -> str:
    lines = [
        "Jindu demo accounts (generated once; change or disable them before real use)",
        f"URL: {url}",
        "",
        f"{'username':<12} {'role':<16} {'org unit':<14} password",
    ]
    for account in accounts:
        lines.append(f"{account.username:<12} {account.role:<16} {account.org_unit:<14} {account.password}")
        if account.otpauth_uri:
            lines.append(f"{'':<12} TOTP (add to an authenticator app): {account.otpauth_uri}")
    return "\n".join(lines) + "\n"
