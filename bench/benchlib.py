"""What the PostgreSQL benchmarks share: a log line, the bench database's life cycle and pointing Django at it.

Imported by bench_people.py, bench_precursors.py and bench_wastewater.py (run as scripts from the repository
root, so this directory is on ``sys.path``); bench_orgtree.py holds the machine description and percentiles."""

from __future__ import annotations

import os
import time
from pathlib import Path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def server_version(admin_url: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def database_exists(admin_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def recreate_database(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    """Drop the bench database (closing its connections) and, unless ``drop_only``, create it empty."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def configure_django(
    url: str, *, var_dir: Path, key_file: Path | None = None, keys: dict[str, str] | None = None
) -> None:
    """Point Django at the bench database with the keys of ``key_file`` or the ``keys`` given as JINDU_*
    variables, then set it up. Every other JINDU_ variable is removed first: keys from the environment would
    win over the file."""
    for name in list(os.environ):
        if name.startswith("JINDU_"):
            del os.environ[name]
    os.environ["DATABASE_URL"] = url
    if key_file is not None:
        os.environ["JINDU_KEY_FILE"] = str(key_file)
    os.environ.update(keys or {})
    os.environ["JINDU_VAR_DIR"] = str(var_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "jindu.config.settings"
    import django

    django.setup()


def key_check(label: str) -> str:
    """A blind index of a fixed value: it tells whether the key file is the one the data was loaded with."""
    from jindu.core.fields import blind_index

    return blind_index(f"{label}-key-check", context="bench")
