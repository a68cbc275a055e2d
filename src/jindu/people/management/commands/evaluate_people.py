"""``jindu evaluate_people [--as-of YYYY-MM-DD]``: run the evaluation of everyone now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jindu.people.nightly import evaluation_run


class Command(BaseCommand):
    help = "Evaluate every person (schedules, lost contact, eligibility) for a day (default today)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", default="", help="YYYY-MM-DD, not in the future")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = None
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of {options['as_of']!r} is not a date (YYYY-MM-DD)") from None
            if as_of > timezone.localdate():
                raise CommandError("--as-of lies in the future")
        run = evaluation_run(as_of)
        self.stdout.write(
            f"evaluated {run.persons} persons for {run.day}: {run.items} worklist items, "
            f"{run.alerts_raised} lost-contact alerts raised"
        )
