"""The analytes the labs report and the correction-factor sets shipped with the platform (wbe.md §2).

Molar masses are of the free base from the formula (wbe.md §2, computed with IUPAC atomic weights). Each shipped
factor names its source; values the reference marks as recalled rather than re-read ([R]) ship with
``verified=False`` and the UI says so. Sets are installed by data migrations and are never edited: an analyst who
disagrees adds a set of their own (or a new version of a set) through the API or the UI.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# code, Chinese name, English name, kind, drug, molar mass, standard panel, aliases
ANALYTES: list[tuple[str, str, str, str, str, str, bool, list[str]]] = [
    ("METH", "甲基苯丙胺", "Methamphetamine", "drug", "methamphetamine", "149.237", True,
     ["甲基苯丙胺", "甲苯丙胺", "冰毒", "methamphetamine", "meth", "ma"]),
    ("AMP", "苯丙胺", "Amphetamine", "drug", "amphetamine", "135.210", True, ["苯丙胺", "amphetamine", "amp"]),
    ("MDMA", "3,4-亚甲二氧基甲基苯丙胺", "MDMA", "drug", "MDMA", "193.246", True,
     ["亚甲二氧基甲基苯丙胺", "3,4-亚甲二氧基甲基苯丙胺", "摇头丸", "mdma"]),
    ("MDA", "3,4-亚甲二氧基苯丙胺", "MDA", "drug", "MDA", "179.219", True,
     ["亚甲二氧基苯丙胺", "3,4-亚甲二氧基苯丙胺", "mda"]),
    ("COC", "可卡因", "Cocaine", "drug", "cocaine", "303.358", True, ["可卡因", "cocaine", "coc"]),
    ("BE", "苯甲酰爱康宁", "Benzoylecgonine", "drug", "cocaine", "289.331", True,
     ["苯甲酰爱康宁", "苯甲酰芽子碱", "benzoylecgonine", "be", "bze"]),
    ("MOR", "吗啡", "Morphine", "drug", "heroin", "285.343", True, ["吗啡", "morphine", "mor"]),
    ("6MAM", "6-单乙酰吗啡", "6-Monoacetylmorphine", "drug", "heroin", "327.380", True,
     ["6-单乙酰吗啡", "o6-单乙酰吗啡", "单乙酰吗啡", "6-乙酰吗啡", "6-mam", "o6-mam", "6mam"]),
    ("COD", "可待因", "Codeine", "drug", "codeine", "299.370", True, ["可待因", "codeine", "cod"]),
    ("KET", "氯胺酮", "Ketamine", "drug", "ketamine", "237.727", True, ["氯胺酮", "k粉", "ketamine", "ket"]),
    ("NK", "去甲氯胺酮", "Norketamine", "drug", "ketamine", "223.700", True,
     ["去甲氯胺酮", "norketamine", "nk", "norket"]),
    ("THCCOOH", "四氢大麻酸", "THC-COOH", "drug", "cannabis", "344.451", True,
     ["四氢大麻酸", "11-去甲-9-羧基-四氢大麻酚", "thc-cooh", "thccooh"]),
    ("COT", "可替宁", "Cotinine", "population", "nicotine", "176.215", True, ["可替宁", "cotinine", "cot"]),
    ("EPH", "麻黄碱", "Ephedrine", "precursor", "", "165.232", False, ["麻黄碱", "麻黄素", "ephedrine", "eph"]),
    ("PSE", "伪麻黄碱", "Pseudoephedrine", "precursor", "", "165.232", False,
     ["伪麻黄碱", "伪麻黄素", "pseudoephedrine", "pse"]),
    ("MCAT", "甲卡西酮", "Methcathinone", "drug", "methcathinone", "163.220", False,
     ["甲卡西酮", "methcathinone", "mcat"]),
    ("MTD", "美沙酮", "Methadone", "drug", "methadone", "309.453", False, ["美沙酮", "methadone", "mtd"]),
    ("EDDP", "EDDP", "EDDP", "drug", "methadone", "277.411", False, ["eddp", "美沙酮代谢物"]),
    ("NFEN", "去甲芬太尼", "Norfentanyl", "drug", "fentanyl", "232.327", False, ["去甲芬太尼", "norfentanyl"]),
    ("ETO", "依托咪酯", "Etomidate", "drug", "etomidate", "244.294", False, ["依托咪酯", "etomidate", "eto"]),
]  # fmt: skip

# Parent drugs' molar masses (free base) where the biomarker is a metabolite.
HEROIN = "369.417"
COCAINE = "303.358"
THC = "314.469"
KETAMINE = "237.727"

ZUCCATO_2008 = "Zuccato et al. 2008, Environ Health Perspect 116:1027 (SCORE conventional factors)"
BASELT_2011 = "Baselt & Cravey 2011, as used in Korean WBE studies (43 % METH)"
BAKER_2014 = "Baker et al. 2014 (63.8 % codeine), as cited by Korean WBE studies"
CASTIGLIONI_2013 = "Castiglioni et al. 2013, Environ Sci Technol 47:1452 (29 % BE, RSD 26 %)"
GRACIA_LOR_2016 = "Gracia-Lor, Zuccato & Castiglioni 2016, Sci Total Environ 573:1648 (refined factors)"
DU_2020 = "Du, Zheng, Thomas, Li & Thai 2020, Environ Int 138:105645 (ketamine 20 %)"

# analyte, excretion fraction, parent molar mass, biomarker molar mass, excretion RSD (None: default), source,
# verified
Factor = tuple[str, str, str, str, str | None, str, bool]

_CONVENTIONAL: list[Factor] = [
    ("METH", "0.43", "149.237", "149.237", None, BASELT_2011, True),
    ("AMP", "0.30", "135.210", "135.210", None, ZUCCATO_2008, False),
    ("MDMA", "0.65", "193.246", "193.246", None, ZUCCATO_2008, False),
    ("BE", "0.45", COCAINE, "289.331", "0.26", ZUCCATO_2008, False),
    ("MOR", "0.42", HEROIN, "285.343", None, ZUCCATO_2008, False),
    ("6MAM", "0.013", HEROIN, "327.380", None, ZUCCATO_2008, False),
    ("THCCOOH", "0.006", THC, "344.451", None, ZUCCATO_2008, False),
    ("KET", "0.023", KETAMINE, KETAMINE, None, "older pharmacokinetic value (wbe.md §2, recalled)", False),
    ("NK", "0.016", KETAMINE, "223.700", None, "older pharmacokinetic value (wbe.md §2, recalled)", False),
    ("COD", "0.638", "299.370", "299.370", None, BAKER_2014, True),
]

SHIPPED_CF_SETS: list[dict[str, Any]] = [
    {
        "name": "SCORE-2008",
        "description": "The conventional SCORE factors (Zuccato et al. 2008), methamphetamine 43 % (Baselt).",
        "source": ZUCCATO_2008,
        "factors": _CONVENTIONAL,
    },
    {
        "name": "China-Du2020",
        "description": (
            "SCORE-2008 with ketamine itself as biomarker at 20 % excretion (Du et al. 2020), as Chinese studies "
            "now use; the platform's default set."
        ),
        "source": f"{ZUCCATO_2008}; {DU_2020}",
        "factors": [
            factor if factor[0] != "KET" else ("KET", "0.20", KETAMINE, KETAMINE, None, DU_2020, True)
            for factor in _CONVENTIONAL
        ],
    },
    {
        "name": "GraciaLor-2016",
        "description": (
            "Refined factors (Gracia-Lor et al. 2016): methamphetamine 39 %, amphetamine 37 %, MDMA 22.5 %, "
            "benzoylecgonine 29 % (Castiglioni et al. 2013). Values recalled, to be checked against the paper."
        ),
        "source": GRACIA_LOR_2016,
        "factors": [
            {
                "METH": ("METH", "0.39", "149.237", "149.237", None, GRACIA_LOR_2016, False),
                "AMP": ("AMP", "0.37", "135.210", "135.210", None, GRACIA_LOR_2016, False),
                "MDMA": ("MDMA", "0.225", "193.246", "193.246", None, GRACIA_LOR_2016, False),
                "BE": ("BE", "0.29", COCAINE, "289.331", "0.26", CASTIGLIONI_2013, False),
            }.get(factor[0], factor)
            for factor in _CONVENTIONAL
        ],
    },
]
DEFAULT_CF_SET = "China-Du2020"


def install_analytes(analyte_model: Any) -> None:
    """Create or update the analyte list (data migration; tests after a flush)."""
    for order, (code, name_zh, name_en, kind, drug, molar_mass, panel, aliases) in enumerate(ANALYTES):
        analyte_model.objects.update_or_create(
            code=code,
            defaults={
                "name_zh": name_zh,
                "name_en": name_en,
                "kind": kind,
                "drug": drug,
                "molar_mass": Decimal(molar_mass),
                "standard_panel": panel,
                "aliases": aliases,
                "sort_order": order,
            },
        )


def install_shipped_cf_sets(set_model: Any, factor_model: Any, analyte_model: Any) -> None:
    """Install the shipped sets as version 1 of their names, once (an existing set is never changed)."""
    analytes = {analyte.code: analyte for analyte in analyte_model.objects.all()}
    for spec in SHIPPED_CF_SETS:
        factor_set, created = set_model.objects.get_or_create(
            name=spec["name"],
            version=1,
            defaults={"description": spec["description"], "source": spec["source"], "shipped": True},
        )
        if not created:
            continue
        factor_model.objects.bulk_create(
            factor_model(
                factor_set=factor_set,
                analyte=analytes[code],
                excretion_fraction=Decimal(fraction),
                parent_molar_mass=Decimal(parent),
                biomarker_molar_mass=Decimal(biomarker),
                excretion_rsd=Decimal(rsd) if rsd is not None else None,
                source=source,
                verified=verified,
            )
            for code, fraction, parent, biomarker, rsd, source, verified in spec["factors"]
        )
