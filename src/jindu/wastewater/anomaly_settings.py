"""Shipped thresholds of the anomaly rules (the ``anomalies`` key of the wastewater settings) and their checks.

Kept apart from ``anomalies.py`` so that ``policies.py`` can import it without a cycle. A region's settings
version sets only the keys it changes (``policies._merged`` merges dictionaries key by key), so a version written
before a rule existed gets the rule's shipped thresholds. The numbers and their sources are in wbe.md §6.3 and
docs/wastewater.md §8.
"""

from __future__ import annotations

from typing import Any

LEVELS = ("notice", "warning", "alert")

DEFAULT_ANOMALY_SETTINGS: dict[str, Any] = {
    # The nightly run judges the days of the last ``window_days`` up to the evaluated day (reruns are
    # deduplicated, so a wide window only catches samples stored late).
    "window_days": 90,
    # Medians, MADs and flow percentiles come from the quantified days of this trailing window before the day
    # judged (the day itself is not part of its own baseline).
    "history_days": 365,
    # Days with fewer quantified earlier days in the window are not judged (a baseline needs four weeks).
    "min_history": 28,
    # Robust z-score of log10(load per 1000), wbe.md §6.3 rule 5: z = 0.6745·(x − median)/MAD.
    "robust_z": {
        "enabled": True,
        "threshold": 3.5,
        # A MAD of (almost) 0 would make any change infinite: never below this many log10 units (≈ 5 %).
        "min_mad_log10": 0.02,
        "spike_level": "warning",
        "drop_level": "notice",
        "drops": True,
        # Analytes with a weekly rhythm (weekend use): each day is judged against the days of its own type only
        # (weekday or weekend by the settings' day_split), so that every Saturday is not a spike. Codes.
        "day_type_baseline": ["MDMA", "MDA", "COC", "BE"],
    },
    # One-sided CUSUMs (up and down) of the same standardised series, for sustained shifts no single day shows.
    # Slack k and threshold h in σ units; with k = 0.5 and h = 8 a clean series raises a false alarm about once
    # in 19,000 days, and a shift of 2σ is found after about 6 days. Each day adds at most ``clip`` σ, so that
    # one spike (robust_z's) is never taken for a shift: it takes at least four high days in a row.
    "cusum": {
        "enabled": True,
        "slack": 0.5,
        "threshold": 8.0,
        "clip": 3.0,
        # An episode is flagged only when its days were on average at least this much above (or below, as
        # 1/(1 + x)) their trailing median: seasons and slow drifts of a few percent are statistically "sustained"
        # but not what an office acts on (the demo's seasonal series raised dozens of such flags without it).
        "min_shift_percent": 25,
        # The sums start this many days before the window, so that a shift near its start is seen whole.
        "lead_days": 60,
        "level": "warning",
    },
    # AMP/METH load ratio (wbe.md §2 and §6.3 rule 1): after use 0.05–0.25 (Kunming), median 0.09 (Australia,
    # > 6,000 samples). A METH spike with the ratio far below the range: methamphetamine that was not excreted
    # (dumping or production waste). Above the range: amphetamine from elsewhere (selegiline, amphetamine use).
    "meth_ratio": {
        "enabled": True,
        "expected_min": 0.05,
        "expected_median": 0.09,
        "expected_max": 0.25,
        "dumping_max_ratio": 0.03,
        "dumping_level": "alert",
        "high_level": "notice",
    },
    # Methcathinone forms from ephedrine/pseudoephedrine in sewers and households (wbe.md §2, §6.3 rule 2):
    # with (EPH + PSE) at least this many times MCAT it is an artefact; without ephedrine it may be abuse.
    "mcat_ephedrine": {
        "enabled": True,
        "ephedrine_to_mcat_min": 10,
        "artefact_level": "notice",
        "unexplained_level": "warning",
    },
    # Only 6-MAM proves heroin (wbe.md §6.3 rule 3).
    "heroin_marker": {"enabled": True, "level": "warning"},
    # A morphine spike without 6-MAM: codeine/(morphine + codeine) at least ``codeine_share_min`` points to
    # codeine, medical morphine or poppy-shell products (notice); less, and the spike is not explained (warning).
    "morphine_sources": {
        "enabled": True,
        "codeine_share_min": 0.5,
        "level": "notice",
        "unexplained_level": "warning",
    },
    # Rain, a flow above the site's trailing percentile or above its design capacity (wbe.md §6.3 rule 4). By its
    # definition one dry day in twenty lies above the 95th percentile: only a flow more than ``margin_percent``
    # above it counts. A reported rain day whose flow stays under both limits is not flagged unless ``rain_alone``
    # (light rain barely dilutes; a notice on every rainy day buried the real ones).
    "flow": {
        "enabled": True,
        "percentile": 95,
        "margin_percent": 10,
        "min_history": 28,
        "rain_alone": False,
        "level": "notice",
    },
    # Cotinine-implied population (wbe.md §3.1, the Chinese platform rule):
    # P [千人] = C_cot [ng/L] × Q [万m³/d] × 10 × domestic_share / (cigarettes_per_capita_per_day × mg × 1000).
    # Cigarettes per inhabitant and day differ by province; the 3.0 shipped is a placeholder to be set by the
    # region (about a quarter of adults smoking about 15 a day).
    "population_marker": {
        "enabled": True,
        "cigarettes_per_capita_per_day": 3.0,
        "cotinine_mg_per_cigarette": 0.14,
        "domestic_share": 1.0,
        "max_deviation": 0.5,
        "level": "notice",
    },
}

RULE_SECTIONS = (
    "robust_z",
    "cusum",
    "meth_ratio",
    "mcat_ephedrine",
    "heroin_marker",
    "morphine_sources",
    "flow",
    "population_marker",
)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    """Collects problems, each naming its key (``anomalies.robust_z.threshold``)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.problems: list[str] = []

    def value(self, path: str) -> Any:
        node: Any = self.settings
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def number(
        self,
        path: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        above: float | None = None,
        whole: bool = False,
    ) -> float | None:
        value = self.value(path)
        ok = _number(value) and (not whole or float(value).is_integer())
        if ok and minimum is not None and value < minimum:
            ok = False
        if ok and maximum is not None and value > maximum:
            ok = False
        if ok and above is not None and not value > above:
            ok = False
        if ok:
            return float(value)
        kind = "a whole number" if whole else "a number"
        if above is not None and maximum is not None:
            bounds = f" greater than {above:g} and at most {maximum:g}"
        elif above is not None:
            bounds = f" greater than {above:g}"
        elif minimum is not None and maximum is not None:
            bounds = f" between {minimum:g} and {maximum:g}"
        elif minimum is not None:
            bounds = f" of at least {minimum:g}"
        else:
            bounds = ""
        self.problems.append(f"anomalies.{path} must be {kind}{bounds}.")
        return None

    def level(self, path: str) -> None:
        if self.value(path) not in LEVELS:
            self.problems.append(f"anomalies.{path} must be one of {', '.join(LEVELS)}.")

    def flag(self, path: str) -> None:
        if not isinstance(self.value(path), bool):
            self.problems.append(f"anomalies.{path} must be true or false.")


def anomaly_settings_problems(settings: Any) -> list[str]:
    """Problems of the ``anomalies`` settings (merged over the shipped defaults), as messages naming the key."""
    if not isinstance(settings, dict):
        return ["anomalies must be an object."]
    check = _Checker(settings)
    for key, value in settings.items():
        if key not in DEFAULT_ANOMALY_SETTINGS:
            check.problems.append(f"anomalies.{key} is not a setting of the anomaly rules.")
        elif isinstance(DEFAULT_ANOMALY_SETTINGS[key], dict):
            if not isinstance(value, dict):
                check.problems.append(f"anomalies.{key} must be an object.")
                continue
            for inner in value:
                if inner not in DEFAULT_ANOMALY_SETTINGS[key]:
                    check.problems.append(f"anomalies.{key}.{inner} is not a setting of the anomaly rules.")
    if check.problems:
        return check.problems
    check.number("window_days", minimum=1, maximum=3650, whole=True)
    history = check.number("history_days", minimum=7, maximum=3650, whole=True)
    minimum = check.number("min_history", minimum=3, maximum=3650, whole=True)
    if history is not None and minimum is not None and minimum > history:
        check.problems.append("anomalies.min_history cannot exceed anomalies.history_days.")
    for section in RULE_SECTIONS:
        check.flag(f"{section}.enabled")
    check.number("robust_z.threshold", above=0, maximum=100)
    check.number("robust_z.min_mad_log10", above=0, maximum=5)
    check.level("robust_z.spike_level")
    check.level("robust_z.drop_level")
    check.flag("robust_z.drops")
    codes = check.value("robust_z.day_type_baseline")
    if not isinstance(codes, list) or not all(
        isinstance(code, str) and 0 < len(code) <= 16 for code in codes
    ):
        check.problems.append("anomalies.robust_z.day_type_baseline must be a list of analyte codes.")
    check.number("cusum.slack", minimum=0, maximum=10)
    check.number("cusum.threshold", above=0, maximum=1000)
    slack, clip = check.value("cusum.slack"), check.number("cusum.clip", above=0, maximum=100)
    if clip is not None and _number(slack) and clip <= slack:
        check.problems.append("anomalies.cusum.clip must be greater than anomalies.cusum.slack.")
    check.number("cusum.lead_days", minimum=0, maximum=3650, whole=True)
    check.number("cusum.min_shift_percent", minimum=0, maximum=1000)
    check.level("cusum.level")
    ratios = [
        check.number(f"meth_ratio.{key}", above=0, maximum=100)
        for key in ("dumping_max_ratio", "expected_min", "expected_median", "expected_max")
    ]
    known = [value for value in ratios if value is not None]
    if len(known) == len(ratios) and known != sorted(set(known)):
        check.problems.append(
            "anomalies.meth_ratio needs dumping_max_ratio < expected_min < expected_median < expected_max."
        )
    check.level("meth_ratio.dumping_level")
    check.level("meth_ratio.high_level")
    check.number("mcat_ephedrine.ephedrine_to_mcat_min", above=0, maximum=100_000)
    check.level("mcat_ephedrine.artefact_level")
    check.level("mcat_ephedrine.unexplained_level")
    check.level("heroin_marker.level")
    check.number("morphine_sources.codeine_share_min", above=0, maximum=1)
    check.level("morphine_sources.level")
    check.level("morphine_sources.unexplained_level")
    check.number("flow.percentile", minimum=50, maximum=100)
    check.number("flow.margin_percent", minimum=0, maximum=1000)
    check.number("flow.min_history", minimum=3, maximum=3650, whole=True)
    check.flag("flow.rain_alone")
    check.level("flow.level")
    check.number("population_marker.cigarettes_per_capita_per_day", above=0, maximum=100)
    check.number("population_marker.cotinine_mg_per_cigarette", above=0, maximum=100)
    check.number("population_marker.domestic_share", above=0, maximum=1)
    check.number("population_marker.max_deviation", above=0, maximum=100)
    check.level("population_marker.level")
    return check.problems
