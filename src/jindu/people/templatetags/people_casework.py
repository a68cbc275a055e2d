"""Template tags of the casework section on a person's page (included by people/person_detail.html)."""

from __future__ import annotations

from typing import Any

from django import template

from jindu.people import casework

register = template.Library()


@register.simple_tag(takes_context=True)
def person_casework(context: template.Context, person: Any) -> dict[str, Any]:
    """The help measures, the assignment and the forms that the viewing user gets for this person."""
    return casework.person_casework_panel(context["request"].user, person)
