"""The back-calculation chain on the hand-checked numbers of wbe.md §5.3 and its unit conversions."""

import pytest

from jindu.wastewater import backcalc


def test_chinese_unit_example_gives_25_and_58_3():
    # C = 100 ng/L, Q = 5 万m³/d, P = 200,000 (wbe.md §5.3).
    flow = backcalc.flow_m3_per_day(5, "万m3/d")
    assert flow == 50_000
    load = backcalc.daily_load_mg(backcalc.concentration_ng_per_l(100, "ng/L"), flow)
    assert load == pytest.approx(5_000)  # 5.0 g/day
    per_1000 = backcalc.load_per_1000(load, 200_000)
    assert per_1000 == pytest.approx(25.0)
    consumption = backcalc.consumption_per_1000(per_1000, 2.33)
    assert consumption == pytest.approx(58.25)
    assert f"{consumption + 1e-9:.1f}" == "58.3"
    assert backcalc.doses_per_1000(consumption, 30) == pytest.approx(1.94, abs=0.005)


def test_the_same_in_micrograms_and_cubic_metres():
    load = backcalc.daily_load_mg(
        backcalc.concentration_ng_per_l("0.1", "µg/L"), backcalc.flow_m3_per_day(50_000)
    )
    assert backcalc.load_per_1000(load, 200_000) == pytest.approx(25.0)


def test_correction_factor_from_excretion_and_molar_masses():
    # Cocaine through benzoylecgonine at 45 %: (303.36 / 289.33) / 0.45 = 2.33 (wbe.md §2).
    assert backcalc.correction_factor(0.45, 303.358, 289.331) == pytest.approx(2.33, abs=0.005)
    # Methamphetamine is its own biomarker: 1 / 0.43.
    assert backcalc.correction_factor(0.43, 149.237, 149.237) == pytest.approx(2.3256, abs=1e-4)


@pytest.mark.parametrize(
    "call",
    [
        lambda: backcalc.concentration_ng_per_l(1, "ppm"),
        lambda: backcalc.concentration_ng_per_l(-1, "ng/L"),
        lambda: backcalc.concentration_ng_per_l("abc", "ng/L"),
        lambda: backcalc.flow_m3_per_day(5, "gallons/d"),
        lambda: backcalc.flow_m3_per_day(0, "m3/d"),
        lambda: backcalc.load_per_1000(10, 0),
        lambda: backcalc.correction_factor(0, 1, 1),
        lambda: backcalc.correction_factor(1.2, 1, 1),
        lambda: backcalc.doses_per_1000(10, 0),
    ],
)
def test_bad_quantities_are_refused(call):
    with pytest.raises(backcalc.UnitError):
        call()
