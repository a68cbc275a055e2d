"""System checks of the conventions the scoping code relies on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.core import checks


@checks.register(checks.Tags.models)
def check_org_path_indexes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every model keeping ``org_path`` declares an index holding it: ``org_path`` carries no index of its
    own (see ``OrgPathMixin``), and a scoped list without one would read the whole table."""
    models = (
        apps.get_models()
        if app_configs is None
        else [model for app_config in app_configs for model in app_config.get_models()]
    )
    return org_path_index_errors(models)


def org_path_index_errors(models: Iterable[type]) -> list[checks.CheckMessage]:
    from jindu.core.models.base import OrgPathMixin

    errors: list[checks.CheckMessage] = []
    for model in models:
        if not issubclass(model, OrgPathMixin) or model._meta.proxy:
            continue
        if not any("org_path" in index.fields for index in model._meta.indexes):
            errors.append(
                checks.Error(
                    f"{model._meta.label} keeps org_path but declares no index holding it.",
                    hint='Add e.g. models.Index(fields=["org_path", …]) to Meta.indexes.',
                    obj=model,
                    id="core.E010",
                )
            )
    return errors
