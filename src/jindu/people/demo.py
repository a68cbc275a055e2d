"""Demo persons for the demo city (synthetic names, valid synthetic ID numbers and phones)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from jindu.core.demo import synthetic_id_number, synthetic_phone
from jindu.core.models import OrgUnit
from jindu.people.services import person_register

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌波辉宁海林峰"
SUBSTANCES = ["methamphetamine", "heroin", "ketamine", "mdma", "cannabis", "cocaine"]


def generate_demo_persons(
    *, count: int = 300, seed: int = 2027, progress: Callable[[int], None] | None = None
) -> int:
    """Register ``count`` persons spread over the demo city's communities."""
    rng = random.Random(seed)
    communities = list(
        OrgUnit.objects.filter(level="community").values_list("code", flat=True).order_by("code")
    )
    created = 0
    seen: set[str] = set()
    while created < count:
        community = rng.choice(communities)
        id_number = synthetic_id_number(rng, community[:6])
        if id_number in seen:
            continue
        seen.add(id_number)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        person_register(
            actor=None,
            id_number=id_number,
            name=name,
            residence_code=community,
            phone=synthetic_phone(rng),
            first_found_date=dt.date(2026, 1, 1) - dt.timedelta(days=rng.randint(90, 3650)),
            substances=rng.sample(SUBSTANCES, rng.randint(1, 2)),
        )
        created += 1
        if progress:
            progress(1)
    return created
