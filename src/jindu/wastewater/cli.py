"""``jindu wastewater …``: the wastewater commands of the CLI (exit codes as in ``jindu.cli``: 2 = bad input).

jindu wastewater recompute [--site CODE ...]
jindu wastewater import FILE
jindu wastewater import-euda [DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jindu.cli import CliError


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register the subcommands on the ``wastewater`` parser (called before Django starts: no model imports)."""
    sub = parser.add_subparsers(dest="wastewater_command", required=True)
    recompute = sub.add_parser("recompute", help="recompute the stored results (all sites, or these)")
    recompute.add_argument("--site", action="append", help="site code; repeat for several")
    recompute.set_defaults(handler=command_recompute)
    importer = sub.add_parser(
        "import", help="import a lab file (.xlsx or .csv): stored whole, or refused with a report"
    )
    importer.add_argument("file")
    importer.set_defaults(handler=command_import)
    euda = sub.add_parser("import-euda", help="load the EUDA/SCORE files as the international comparison set")
    euda.add_argument(
        "directory", nargs="?", help="the directory of the ww2025-*.csv files (default: packaged)"
    )
    euda.set_defaults(handler=command_import_euda)


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


def command_import(args: argparse.Namespace) -> int:
    """Import a lab file as the server operator: the counts (exit 0), or one line per problem (exit 2)."""
    from jindu.core.errors import ServiceError
    from jindu.wastewater.lab_import import LabFileRefused, describe_outcome, lab_file_import

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        outcome = lab_file_import(actor=None, file_name=path.name, content=path.read_bytes())
    except LabFileRefused as refused:
        for problem in refused.problems:
            print(f"{path}: {problem.line()}", file=sys.stderr)
        if refused.total > len(refused.problems):
            print(f"… and {refused.total - len(refused.problems)} more problems", file=sys.stderr)
        print(f"{path}: {refused.total} problem(s); nothing was imported", file=sys.stderr)
        return 2
    except ServiceError as error:
        raise CliError(f"{path}: {error.message}") from None
    number = f" (import #{outcome.lab_import.pk})" if outcome.lab_import else ""
    print(f"{path}: {describe_outcome(outcome)}{number}")
    if outcome.site_codes:
        print(f"sites: {', '.join(outcome.site_codes)}")
    return 0


def command_import_euda(args: argparse.Namespace) -> int:
    """Load the EUDA files (default: the packaged 2025 release): counts (exit 0), or every problem (exit 2)."""
    from jindu.wastewater.euda import DEFAULT_DIRECTORY, EudaFilesInvalid, euda_import

    directory = Path(args.directory) if args.directory else DEFAULT_DIRECTORY
    if not directory.is_dir():
        raise CliError(f"{directory}: no such directory")
    try:
        report = euda_import(actor=None, directory=directory)
    except EudaFilesInvalid as invalid:
        for problem in invalid.problems:
            print(problem, file=sys.stderr)
        if invalid.total > len(invalid.problems):
            print(f"… and {invalid.total - len(invalid.problems)} more problems", file=sys.stderr)
        print("nothing was loaded", file=sys.stderr)
        return 2
    print(f"EUDA comparison set from {directory}:")
    print(f"  sites: {report.sites}")
    print(f"  weeks: {report.weeks}")
    print(f"  changes: {report.changes}")
    print(f"  trends: {report.trends}")
    if report.sites_without_info:
        print(
            f"  {len(report.sites_without_info)} site(s) not in the site table, created from the other files: "
            + ", ".join(report.sites_without_info[:20])
        )
    if not report.changed:
        print("nothing changed")
    return 0
