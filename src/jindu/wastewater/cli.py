"""``jindu wastewater …``: the wastewater commands of the CLI (exit codes as in ``jindu.cli``: 2 = bad input).

jindu wastewater recompute [--site CODE ...]
"""

from __future__ import annotations

import argparse

from jindu.cli import CliError


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the subcommands on the ``wastewater`` parser (called before Django starts: no model imports)."""
    sub = parser.add_subparsers(dest="wastewater_command", required=True)
    recompute = sub.add_parser("recompute", help="recompute the stored results (all sites, or these)")
    recompute.add_argument("--site", action="append", help="site code; repeat for several")
    recompute.set_defaults(handler=command_recompute)


def command_recompute(args: argparse.Namespace) -> int:
    from jindu.core.audit import audit_write
    from jindu.core.models import AuditAction
    from jindu.wastewater.models import SamplingSite
    from jindu.wastewater.results import recompute_results

    site_ids = None
    if args.site:
        found = dict(SamplingSite.objects.filter(code__in=args.site).values_list("code", "pk"))
        missing = sorted(set(args.site) - set(found))
        if missing:
            raise CliError(f"no such site: {', '.join(missing)}")
        site_ids = list(found.values())
    written = recompute_results(site_ids=site_ids)
    audit_write(
        action=AuditAction.UPDATE,
        object_type="wastewater.analyteresult",
        object_repr=f"{written} results",
        detail={"sites": args.site or "all", "results": written},
    )
    print(f"recomputed {written} results")
    return 0
