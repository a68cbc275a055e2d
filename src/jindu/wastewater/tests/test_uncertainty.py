"""The Monte Carlo intervals: the per-sample shortcut is exact, the distributions are the ones documented, periods
draw the constant parameters once per iteration, and everything is reproducible from its seed."""

import math

import numpy as np
import pytest

from jindu.wastewater.uncertainty import (
    ErrorModel,
    SiteDays,
    consumption_draws,
    consumption_multiplier,
    derive_seed,
    excretion_fractions,
    interval_of,
    lognormal_sigma,
    mean_one,
    period_per_1000,
    sample_draws,
    sample_multipliers,
)

MODEL = ErrorModel(sampling_rsd=0.1, flow_rsd=0.1, analysis_rsd=0.1, population_rsd=0.2)


def test_a_results_interval_is_its_point_times_the_multiplier_percentiles():
    """The stored shortcut equals simulating the result itself with the same draws, to rounding."""
    draws = sample_draws(MODEL, seed=42)
    multipliers = sample_multipliers(draws)
    concentration, flow, population = 100.0, 50_000.0, 200_000.0
    point = concentration * flow * 1e-3 * 1000 / population
    simulated = concentration * flow * 1e-3 * draws.day * 1000 / (population * draws.population)
    direct = interval_of(simulated)
    shortcut = multipliers.per_1000.scaled(point)
    for a, b in zip(direct.as_dict().values(), shortcut.as_dict().values(), strict=True):
        assert a == pytest.approx(b, rel=1e-12)
    assert direct.p2_5 < point < direct.p97_5


def test_one_combined_day_draw_has_the_distribution_of_three_separate_errors():
    rng = np.random.default_rng(7)
    n = 400_000
    separate = (
        mean_one(rng.standard_normal(n), lognormal_sigma(0.1))
        * mean_one(rng.standard_normal(n), lognormal_sigma(0.15))
        * mean_one(rng.standard_normal(n), lognormal_sigma(0.2))
    )
    model = ErrorModel(sampling_rsd=0.1, flow_rsd=0.15, analysis_rsd=0.2, population_rsd=0)
    combined = mean_one(rng.standard_normal(n), model.day_sigma)
    for q in (2.5, 50, 97.5):
        assert np.percentile(combined, q) == pytest.approx(np.percentile(separate, q), rel=0.01)
    assert combined.mean() == pytest.approx(1.0, abs=0.002)
    # First-order RSD of a product: √(0.1² + 0.15² + 0.2²) ≈ 27 %.
    assert combined.std() == pytest.approx(math.sqrt(0.01 + 0.0225 + 0.04), rel=0.05)


def test_the_combined_rsd_of_the_reference_budget():
    """wbe.md §3.3: sampling, flow and analysis 10 % each and population 20 % give about 26 % for the load per
    1000; with a 26 % excretion error consumption is about 37 %."""
    model = ErrorModel(0.1, 0.1, 0.1, 0.2)
    draws = sample_draws(model, seed=derive_seed("budget"), draws=200_000)
    per_1000 = draws.day / draws.population
    assert per_1000.std() / per_1000.mean() == pytest.approx(0.26, abs=0.02)
    fractions = excretion_fractions(draws.excretion_z, 0.45, 0.26)
    consumption = per_1000 * (0.45 / fractions)
    assert consumption.std() / consumption.mean() == pytest.approx(0.37, abs=0.03)


def test_draws_are_reproducible_and_depend_on_the_seed():
    first = sample_multipliers(sample_draws(MODEL, seed=1))
    again = sample_multipliers(sample_draws(MODEL, seed=1))
    other = sample_multipliers(sample_draws(MODEL, seed=2))
    assert first == again
    assert first != other
    assert derive_seed("CODE", "METH") == derive_seed("CODE", "METH") != derive_seed("CODE", "AMP")
    assert 0 <= derive_seed("x") < 2**63


def test_excretion_fractions_stay_in_the_unit_interval():
    fractions = excretion_fractions(np.random.default_rng(3).standard_normal(100_000), 0.9, 0.5)
    assert fractions.max() <= 1.0
    assert fractions.min() > 0


def test_consumption_interval_is_wider_than_the_load_per_1000_one():
    draws = sample_draws(MODEL, seed=5)
    per_1000 = sample_multipliers(draws).per_1000
    consumption = consumption_multiplier(draws, 0.43, 0.26)
    assert consumption.p97_5 - consumption.p2_5 > per_1000.p97_5 - per_1000.p2_5
    assert consumption_multiplier(draws, 0.43, 0.0) == per_1000


def _site(loads, *, population=200_000.0, share=1.0, name="S1", population_rsd=0.2):
    return SiteDays(
        loads=loads,
        day_seeds=[derive_seed(name, day) for day in range(len(loads))],
        day_sigma=MODEL.day_sigma,
        population=population,
        population_rsd=population_rsd,
        population_seed=derive_seed(name, "population"),
        share=share,
    )


def test_period_point_value_is_the_population_weighted_mean():
    a = _site([5000.0, 7000.0], population=200_000, name="A")
    b = _site([1000.0], population=50_000, share=0.5, name="B")
    result = period_per_1000([a, b])
    expected = 1000 * (6000.0 + 0.5 * 1000.0) / (200_000 + 0.5 * 50_000)
    assert result.point == pytest.approx(expected)
    assert len(result.draws) == 10_000
    assert result.interval.p2_5 < expected < result.interval.p97_5


def test_a_period_draws_the_population_once_per_iteration():
    """Averaging 90 days shrinks the day errors but not the population error: the interval of a quarter stays
    about as wide as the population's 20 % (it would shrink towards the day errors' √(1/90) if the population
    were drawn per day)."""
    loads = [5000.0] * 90
    quarter = period_per_1000([_site(loads)]).interval
    relative_width = (quarter.p97_5 - quarter.p2_5) / quarter.median
    population_only = interval_of(
        1 / mean_one(np.random.default_rng(1).standard_normal(200_000), lognormal_sigma(0.2))
    )
    assert relative_width == pytest.approx(
        (population_only.p97_5 - population_only.p2_5) / population_only.median, rel=0.08
    )
    without_population = period_per_1000([_site(loads, population_rsd=0.0)]).interval
    assert (without_population.p97_5 - without_population.p2_5) / without_population.median < 0.1


def test_period_consumption_draws_the_excretion_fraction_once_per_iteration():
    per_1000 = period_per_1000([_site([5000.0] * 30, population_rsd=0.0)])
    consumption = consumption_draws(
        per_1000, factor=2.33, excretion_fraction=0.43, excretion_rsd=0.26, seed=9
    )
    assert consumption.point == pytest.approx(per_1000.point * 2.33)
    width = (consumption.interval.p97_5 - consumption.interval.p2_5) / consumption.interval.median
    assert width > 0.8  # dominated by the 26 % excretion error, not averaged away over 30 days


def test_a_day_keeps_its_draws_whatever_period_it_is_in():
    week = period_per_1000([_site([5000.0] * 7)])
    again = period_per_1000([_site([5000.0] * 7)])
    assert np.array_equal(week.draws, again.draws)


def test_bad_error_models_and_inputs_are_refused():
    with pytest.raises(ValueError):
        ErrorModel(-0.1, 0.1, 0.1, 0.1)
    with pytest.raises(ValueError):
        ErrorModel(0.1, float("nan"), 0.1, 0.1)
    with pytest.raises(ValueError):
        period_per_1000([_site([])])
    with pytest.raises(ValueError):
        SiteDays(loads=[1.0], day_seeds=[], day_sigma=0.1, population=1, population_rsd=0, population_seed=1)
