"""Fixtures of the wastewater tests: the shipped configuration, a lab account, and one site per district."""

from __future__ import annotations

from typing import Any

import pytest

from jindu.core.roles import Role
from jindu.core.testing.helpers import make_user


@pytest.fixture(autouse=True)
def _shipped_configuration(request: pytest.FixtureRequest) -> None:
    """The analytes, shipped factor sets and settings come from a data migration; a transactional (browser) test
    elsewhere flushes them, so this app's database tests put them back first."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from jindu.wastewater.catalogue import install_analytes, install_shipped_cf_sets
    from jindu.wastewater.models import Analyte, CorrectionFactor, CorrectionFactorSet
    from jindu.wastewater.policies import install_default_settings

    install_analytes(Analyte)
    install_shipped_cf_sets(CorrectionFactorSet, CorrectionFactor, Analyte)
    install_default_settings()


@pytest.fixture
def lab(users) -> Any:
    """The city's contracted lab (captures samples anywhere in the city)."""
    return make_user("t_lab", Role.LAB, "330200")


@pytest.fixture
def sites(users) -> dict[str, Any]:
    """Plant A (district A, 200,000 people) and plant B (district B, 80,000 people)."""
    from jindu.wastewater.services import site_create

    site_a = site_create(
        actor=users["district_a"],
        code="HS-01",
        name="海曙污水处理厂",
        org_unit_code="330203",
        population=200_000,
    )
    site_b = site_create(
        actor=users["district_b"],
        code="FH-01",
        name="奉化污水处理厂",
        org_unit_code="330213",
        population=80_000,
    )
    return {"a": site_a, "b": site_b}
