"""The ``jindu`` command.

    jindu demo [--port N] [--reset] [--no-serve]
    jindu serve [--port N] [--workers N]
    jindu worker | beat
    jindu createuser USERNAME --role ROLE --org-unit CODE [--search-scope CODE ...]
    jindu audit verify
    jindu keys init | rotate | reencrypt | status
    jindu import orgunits FILE
    jindu wastewater recompute | import FILE | import-euda DIR
    jindu <any Django management command>

Exit codes: 0 success, 1 the check failed (e.g. a broken audit chain), 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

OWN_COMMANDS = {
    "demo",
    "serve",
    "worker",
    "beat",
    "createuser",
    "audit",
    "keys",
    "import",
    "wastewater",
    "help",
    "--help",
    "-h",
}


class CliError(Exception):
    """Bad input on the command line: printed as 'jindu: …' with exit code 2."""


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jindu.config.settings")
    import django
    from django.utils import translation

    django.setup()
    translation.activate("en")  # the CLI speaks English; the web UI and API follow each request's language


def _progress(total: int, description: str):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="", leave=False, disable=not sys.stderr.isatty())
    return bar


def _port(args: argparse.Namespace) -> int:
    return int(args.port or os.environ.get("JINDU_PORT") or 8000)


def command_demo(args: argparse.Namespace) -> int:
    from django.conf import settings

    if args.reset and not settings.DATABASE_URL:
        _close_connections()
        for suffix in ("", "-wal", "-shm"):
            Path(str(settings.SQLITE_PATH) + suffix).unlink(missing_ok=True)
    elif args.reset:
        raise CliError(
            "--reset only removes the embedded SQLite database; drop a PostgreSQL database yourself"
        )
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from jindu.core.demo import credentials_text, demo_is_loaded, generate_demo, synthetic_tree

    port = _port(args)
    url = f"http://127.0.0.1:{port}/"
    credentials_file = settings.VAR_DIR / "demo-credentials.txt"
    if demo_is_loaded():
        print(
            f"Demo data already present; accounts are listed in {credentials_file} (use --reset to start over)."
        )
    else:
        bar = _progress(len(synthetic_tree()), "demo org units")
        accounts = generate_demo(progress=bar.update)
        bar.close()
        from jindu.people.demo import DEFAULT_COUNT, generate_demo_persons

        bar = _progress(DEFAULT_COUNT, "demo persons and their history")
        generate_demo_persons(count=DEFAULT_COUNT, progress=bar.update)
        bar.close()
        from jindu.precursors.demo import DEFAULT_FIRMS, generate_demo_precursors

        bar = _progress(DEFAULT_FIRMS, "demo precursor firms and a year of their ledgers")
        generate_demo_precursors(firms=DEFAULT_FIRMS, progress=bar.update)
        bar.close()
        from jindu.wastewater.demo import generate_demo_wastewater, progress_steps

        bar = _progress(progress_steps(), "demo wastewater sites and three years of samples")
        generate_demo_wastewater(progress=bar.update)
        bar.close()
        text = credentials_text(accounts, url)
        credentials_file.parent.mkdir(parents=True, exist_ok=True)
        credentials_file.write_text(text, encoding="utf-8")
        credentials_file.chmod(0o600)
        print(text)
        print(f"(also stored in {credentials_file})")
    if args.no_serve:
        return 0
    return command_serve(args)


def _close_connections() -> None:
    from django.db import connections

    connections.close_all()


def command_serve(args: argparse.Namespace) -> int:
    from django.conf import settings

    port = _port(args)
    host = os.environ.get("JINDU_HOST", "127.0.0.1")
    _close_connections()
    workers = str(getattr(args, "workers", None) or (2 if settings.DATABASE_URL else 1))
    print(f"Serving Jindu on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    command = [
        sys.executable, "-m", "gunicorn", "jindu.config.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", workers, "--threads", "4",
        "--access-logfile", "-", "--graceful-timeout", "5",
    ]  # fmt: skip
    sys.stdout.flush()
    # Replace this process, so that signals (Ctrl-C, SIGTERM from a supervisor) reach gunicorn directly.
    os.execv(sys.executable, command)
    return 0  # not reached


def _exec_celery(*arguments: str) -> int:
    from django.conf import settings

    if not settings.JINDU_BROKER_URL:
        raise CliError("no broker configured: set JINDU_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "jindu.config.celery", *arguments])
    return 0  # not reached


def command_worker(args: argparse.Namespace) -> int:
    extra = [argument for argument in args.extra if argument != "--"]
    return _exec_celery("worker", "--loglevel", "INFO", *extra)


def command_beat(args: argparse.Namespace) -> int:
    from django.conf import settings

    return _exec_celery("beat", "--loglevel", "INFO", "-s", str(settings.VAR_DIR / "celerybeat-schedule"))


def command_createuser(args: argparse.Namespace) -> int:
    from jindu.core.accounts import user_create
    from jindu.core.errors import ServiceError

    password = os.environ.get("JINDU_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("no password: set JINDU_PASSWORD or run in a terminal to be prompted")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CliError("the passwords differ")
    try:
        created = user_create(
            actor=None,
            username=args.username,
            password=password,
            roles=args.role,
            org_unit_code=args.org_unit,
            search_scope_codes=args.search_scope or [],
            full_name=args.full_name or "",
            id_number=args.id_number or "",
            phone=args.phone or "",
            enterprise_code=args.enterprise or "",
        )
    except ServiceError as error:
        raise CliError(error.message) from None
    print(f"created user {created.user.username} ({', '.join(args.role)}) in {args.org_unit}")
    if created.otpauth_uri:
        print(
            f"two-factor authentication is mandatory for this role; enrol this URI once:\n{created.otpauth_uri}"
        )
    return 0


def command_audit(args: argparse.Namespace) -> int:
    from jindu.core.audit import audit_verify
    from jindu.core.models import AuditRecord

    bar = _progress(AuditRecord.objects.count(), "audit records")
    result = audit_verify(progress=bar.update)
    bar.close()
    if result.ok:
        print(f"audit chain intact: {result.checked} records verified")
        return 0
    print(
        f"audit chain BROKEN at record #{result.broken_sequence} (id {result.broken_id}): {result.problem}; "
        f"{result.checked} records before it verified",
        file=sys.stderr,
    )
    return 1


def command_keys(args: argparse.Namespace) -> int:
    from django.conf import settings

    from jindu.core.errors import ServiceError
    from jindu.core.keys import encrypted_columns, key_usage, keys_reencrypt, keys_rotate

    if args.action == "status":
        print(
            f"active data key: {settings.JINDU_KEYRING.active_data_key} (keys: {', '.join(settings.JINDU_KEYRING.data_keys)})"
        )
        for key_id, count in sorted(key_usage().items()):
            print(f"  {key_id}: {count} values")
        return 0
    total = sum(model._base_manager.count() for model, _ in encrypted_columns())
    bar = _progress(total, "re-encrypting rows")
    try:
        if args.action == "rotate":
            report = keys_rotate(progress=bar.update)
        else:
            report = keys_reencrypt(progress=bar.update)
    except ServiceError as error:
        raise CliError(error.message) from None
    finally:
        bar.close()
    print(
        f"active data key is now {report.new_key_id}; re-encrypted {report.values} values in {report.rows} rows"
    )
    for key_id, count in sorted(key_usage().items()):
        print(f"  {key_id}: {count} values")
    return 0


def command_import(args: argparse.Namespace) -> int:
    from jindu.core.orgunits import orgunits_import, parse_orgunit_csv

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text") from None
    rows, problems = parse_orgunit_csv(text)
    if not problems:
        bar = _progress(len(rows), "org units")
        report = orgunits_import(actor=None, rows=rows, progress=bar.update)
        bar.close()
        problems = report.errors
    if problems:
        for problem in problems[:50]:
            print(f"{path}: {problem}", file=sys.stderr)
        if len(problems) > 50:
            print(f"… and {len(problems) - 50} more problems", file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return 2
    print(
        f"imported {path}: {report.created} created, {report.updated} renamed, {report.unchanged} unchanged"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jindu", description="Jindu anti-drug governance platform")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="set up the embedded demo city and serve it")
    demo.add_argument("--port", type=int)
    demo.add_argument("--reset", action="store_true", help="delete the embedded database first")
    demo.add_argument("--no-serve", action="store_true", help="set up only")
    demo.set_defaults(handler=command_demo)

    serve = sub.add_parser("serve", help="serve the web application (gunicorn)")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(handler=command_serve)

    worker = sub.add_parser("worker", help="run a Celery worker (needs JINDU_BROKER_URL)")
    worker.add_argument("extra", nargs=argparse.REMAINDER)
    worker.set_defaults(handler=command_worker)
    sub.add_parser("beat", help="run Celery beat for periodic jobs").set_defaults(handler=command_beat)

    create = sub.add_parser("createuser", help="create an account (password from JINDU_PASSWORD or a prompt)")
    create.add_argument("username")
    create.add_argument("--role", action="append", required=True, help="role code; repeat for several roles")
    create.add_argument("--org-unit", required=True, help="org unit code; also the capture scope")
    create.add_argument("--search-scope", action="append", help="org unit code; repeat for several")
    create.add_argument("--full-name")
    create.add_argument("--id-number")
    create.add_argument("--phone")
    create.add_argument("--enterprise", help="unified social credit code (enterprise users)")
    create.set_defaults(handler=command_createuser)

    audit = sub.add_parser("audit", help="audit trail tools")
    audit.add_argument("action", choices=["verify"])
    audit.set_defaults(handler=command_audit)

    keys = sub.add_parser("keys", help="data-encryption keys")
    keys.add_argument("action", choices=["init", "rotate", "reencrypt", "status"])
    keys.set_defaults(handler=command_keys)

    importer = sub.add_parser("import", help="import reference data")
    importer.add_argument("kind", choices=["orgunits"])
    importer.add_argument("file")
    importer.set_defaults(handler=command_import)

    from jindu.wastewater.cli import add_commands as add_wastewater_commands

    add_wastewater_commands(sub.add_parser("wastewater", help="wastewater monitoring (污水毒情监测)"))
    return parser


def command_keys_init() -> int:
    """Write a new key file before the first start of a PostgreSQL installation (never overwrites)."""
    from jindu.core.keyring import ENV_DATA_KEYS, generate_keyring, write_key_file

    key_file = Path(
        os.environ.get("JINDU_KEY_FILE") or Path(os.environ.get("JINDU_VAR_DIR") or "var") / "keys.json"
    )
    if key_file.exists():
        raise CliError(
            f"{key_file} exists: refusing to overwrite keys (that would make stored data unreadable)"
        )
    if os.environ.get(ENV_DATA_KEYS):
        raise CliError(f"{ENV_DATA_KEYS} is set: keys come from the environment, no key file is needed")
    write_key_file(key_file.resolve(), generate_keyring())
    print(f"wrote {key_file.resolve()} (mode 0600): back it up apart from the database")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["keys", "init"]:
        # Runs before Django starts: the settings need keys to load at all.
        try:
            return command_keys_init()
        except CliError as error:
            print(f"jindu: {error}", file=sys.stderr)
            return 2
    if argv[:1] == ["worker"] and len(argv) > 1 and argv[1] not in {"-h", "--help"}:
        # Everything after `worker` goes to Celery unchanged (e.g. --concurrency 4 -Q default).
        argv = ["worker", "--", *argv[1:]]
    if argv and argv[0] not in OWN_COMMANDS:
        # Anything else is a Django management command (migrate, shell, check, …).
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jindu.config.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(["jindu", *argv])
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup_django()
        return int(args.handler(args) or 0)
    except CliError as error:
        print(f"jindu: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        from django.core.exceptions import ImproperlyConfigured

        if isinstance(error, ImproperlyConfigured):
            print(f"jindu: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
