"""The shipped substance catalogue (precursors.md §1.2) and its installation.

Each row is (code, 中文名, English name, CAS, other CAS, category, 药品类, listed from, source notice, verified).
"Listed from" is a date where the reference gives one, else only the year: such rows are stored as listed
from 1 January of that year, unverified, with a note saying the day must be taken from the notice.
Rows the reference marks VERIFY (CAS, category or listing date not yet checked against the official 公告)
ship with ``verified=False``; the UI shows them as unverified, and the office confirms or corrects them by
editing the row. Catalogue items listed later (2024, 2025) whose category the reference leaves open are
seeded with the category it reports as most likely and ``verified=False``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

D = dt.date

# fmt: off
SEED_SUBSTANCES: list[tuple[str, str, str, str, list[str], int, bool, dt.date | int, str, bool]] = [
    ("p2p", "1-苯基-2-丙酮", "1-phenyl-2-propanone (P-2-P, BMK)", "103-79-7", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("pmk", "3,4-亚甲基二氧苯基-2-丙酮", "3,4-MDP-2-P (PMK)", "4676-39-5", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("piperonal", "胡椒醛", "piperonal", "120-57-0", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("safrole", "黄樟素", "safrole", "94-59-7", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("sassafras-oil", "黄樟油", "sassafras oil", "8006-80-2", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("isosafrole", "异黄樟素", "isosafrole", "120-58-1", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("n-acetylanthranilic-acid", "N-乙酰邻氨基苯酸", "N-acetylanthranilic acid", "89-52-1", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("anthranilic-acid", "邻氨基苯甲酸", "anthranilic acid", "118-92-3", [], 1, False, D(2005, 11, 1), "国务院令第445号", True),
    ("lysergic-acid", "麦角酸", "lysergic acid", "82-58-6", [], 1, True, D(2005, 11, 1), "国务院令第445号", True),
    ("ergotamine", "麦角胺", "ergotamine", "113-15-5", [], 1, True, D(2005, 11, 1), "国务院令第445号", True),
    ("ergometrine", "麦角新碱", "ergometrine", "60-79-7", [], 1, True, D(2005, 11, 1), "国务院令第445号", True),
    ("ephedrines", "麻黄素类", "ephedrines (ephedrine, pseudoephedrine, racephedrine, norephedrine, methylephedrine, ephedra extract)", "299-42-3", ["90-82-4", "90-81-3", "14838-15-4", "552-79-4"], 1, True, D(2005, 11, 1), "国务院令第445号", True),
    ("hydroxylimine", "羟亚胺", "hydroxylimine", "90717-16-1", [], 1, False, D(2008, 8, 1), "公安部等公告 2008", False),
    ("o-chlorophenyl-cyclopentyl-ketone", "邻氯苯基环戊酮", "2-chlorophenyl cyclopentyl ketone", "6740-85-8", [], 1, False, 2012, "国办函 2012", False),
    ("2-bromo-1-phenyl-1-propanone", "1-苯基-2-溴-1-丙酮", "2-bromo-1-phenyl-1-propanone", "2114-00-3", [], 1, False, 2014, "国办函 2014", False),
    ("apaan", "3-氧-2-苯基丁腈", "APAAN", "4468-48-8", [], 1, False, 2014, "国办函 2014", False),
    ("npp", "N-苯乙基-4-哌啶酮", "NPP", "39742-60-4", [], 1, False, D(2018, 2, 1), "公安部等公告 2017", True),
    ("anpp", "4-苯胺基-N-苯乙基哌啶", "ANPP", "21409-26-7", [], 1, False, D(2018, 2, 1), "公安部等公告 2017", True),
    ("chloroephedrine", "N-甲基-1-苯基-1-氯-2-丙胺", "chloroephedrine", "25394-33-6", [], 1, False, 2018, "公安部等公告 2017", False),
    ("phenylacetic-acid", "苯乙酸", "phenylacetic acid", "103-82-2", [], 2, False, D(2005, 11, 1), "国务院令第445号", True),
    ("acetic-anhydride", "醋酸酐", "acetic anhydride", "108-24-7", [], 2, False, D(2005, 11, 1), "国务院令第445号", True),
    ("chloroform", "三氯甲烷", "chloroform", "67-66-3", [], 2, False, D(2005, 11, 1), "国务院令第445号", True),
    ("diethyl-ether", "乙醚", "diethyl ether", "60-29-7", [], 2, False, D(2005, 11, 1), "国务院令第445号", True),
    ("piperidine", "哌啶", "piperidine", "110-89-4", [], 2, False, D(2005, 11, 1), "国务院令第445号", True),
    ("bromine", "溴素", "bromine", "7726-95-6", [], 2, False, 2018, "公安部等公告 2017", False),
    ("propiophenone", "1-苯基-1-丙酮", "propiophenone", "93-55-0", [], 2, False, 2018, "公安部等公告 2017", False),
    ("mapa", "α-苯乙酰乙酸甲酯", "MAPA", "16648-44-5", [], 2, False, 2021, "国办函〔2021〕58号", True),
    ("apaa", "α-乙酰乙酰苯胺", "APAA", "4433-77-6", [], 2, False, 2021, "国办函〔2021〕58号", True),
    ("pmk-glycidic-acid", "3,4-亚甲基二氧苯基-2-丙酮缩水甘油酸(酯)", "PMK glycidic acid and glycidate", "13605-48-6", [], 2, False, 2021, "国办函〔2021〕58号", False),
    ("4-ap", "4-苯胺基哌啶", "4-AP", "23056-29-3", [], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", True),
    ("1-boc-4-ap", "1-叔丁氧羰基-4-苯胺基哌啶", "1-boc-4-AP", "125541-22-2", [], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", True),
    ("norfentanyl", "去甲芬太尼", "norfentanyl", "1609-66-1", [], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", True),
    ("cannabidiol", "大麻二酚", "cannabidiol (CBD)", "13956-29-1", [], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", False),
    ("bmk-glycidic-acid", "2-甲基-3-苯基缩水甘油酸及其酯类", "BMK glycidic acid and esters", "25547-51-7", ["80532-66-7"], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", False),
    ("3-oxo-2-phenylbutanoic-acid", "3-氧-2-苯基丁酸及其酯类", "3-oxo-2-phenylbutanoic acid and esters", "", ["5413-05-8"], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", False),
    ("pmk-glycidic-esters", "PMK缩水甘油酸酯类", "PMK glycidic acid esters", "", [], 2, False, D(2024, 9, 1), "公安部等公告 2024-08-02", False),
    ("4-piperidone", "4-哌啶酮", "4-piperidone", "41661-47-6", [], 2, False, D(2025, 7, 20), "公安部等公告 2025-06-24", False),
    ("1-boc-4-piperidone", "1-叔丁氧羰基-4-哌啶酮", "1-boc-4-piperidone", "79099-07-3", [], 2, False, D(2025, 7, 20), "公安部等公告 2025-06-24", False),
    ("toluene", "甲苯", "toluene", "108-88-3", [], 3, False, D(2005, 11, 1), "国务院令第445号", True),
    ("acetone", "丙酮", "acetone", "67-64-1", [], 3, False, D(2005, 11, 1), "国务院令第445号", True),
    ("methyl-ethyl-ketone", "甲基乙基酮", "methyl ethyl ketone", "78-93-3", [], 3, False, D(2005, 11, 1), "国务院令第445号", True),
    ("potassium-permanganate", "高锰酸钾", "potassium permanganate", "7722-64-7", [], 3, False, D(2005, 11, 1), "国务院令第445号", True),
    ("sulfuric-acid", "硫酸", "sulfuric acid", "7664-93-9", [], 3, False, D(2005, 11, 1), "国务院令第445号", True),
    ("hydrochloric-acid", "盐酸", "hydrochloric acid", "7647-01-0", [], 3, False, D(2005, 11, 1), "国务院令第445号", True),
    ("benzyl-cyanide", "苯乙腈", "benzyl cyanide", "140-29-4", [], 3, False, 2021, "国办函〔2021〕58号", True),
    ("gbl", "γ-丁内酯", "γ-butyrolactone (GBL)", "96-48-0", [], 3, False, 2021, "国办函〔2021〕58号", True),
]
# fmt: on

# GBL mixtures (6 ministries, in force 2024-01-01): below these fractions no licence or filing is needed.
SEED_MIXTURE_RULES: list[dict[str, Any]] = [
    {
        "substance": "gbl",
        "max_fraction": "0.60",
        "product_types": ["photoresist", "polyimide film", "electronic chemicals"],
        "effective_from": D(2024, 1, 1),
        "source_notice": "六部门公告 2024-01-03",
    },
    {
        "substance": "gbl",
        "max_fraction": "0.20",
        "product_types": ["printing ink"],
        "effective_from": D(2024, 1, 1),
        "source_notice": "六部门公告 2024-01-03",
    },
]


def install_catalogue(substance_model: Any, mixture_model: Any) -> None:
    """Insert the shipped rows that are missing (by code); rows an office has edited stay as they are."""
    existing = set(substance_model.objects.values_list("code", flat=True))
    for (
        code,
        name_zh,
        name_en,
        cas,
        other_cas,
        category,
        drug_class,
        listed,
        notice,
        verified,
    ) in SEED_SUBSTANCES:
        if code in existing:
            continue
        note = ""
        if isinstance(listed, int):
            listed, verified = dt.date(listed, 1, 1), False
            note = "Listing date known to the year only: take the day from the notice."
        substance_model.objects.create(
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            cas=cas,
            other_cas=other_cas,
            category=category,
            drug_class=drug_class,
            listed_from=listed,
            source_notice=notice,
            verified=verified,
            note=note,
        )
    by_code = {row.code: row for row in substance_model.objects.all()}
    for rule in SEED_MIXTURE_RULES:
        substance = by_code[rule["substance"]]
        if not mixture_model.objects.filter(substance=substance, max_fraction=rule["max_fraction"]).exists():
            mixture_model.objects.create(
                substance=substance,
                max_fraction=rule["max_fraction"],
                product_types=rule["product_types"],
                effective_from=rule["effective_from"],
                source_notice=rule["source_notice"],
            )
