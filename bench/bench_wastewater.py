"""Benchmark: wastewater results on PostgreSQL (issue 5, acceptance point 3).

Run from the repository root (``make bench`` runs it after the precursors benchmark)::

    .venv/bin/python bench/bench_wastewater.py [--days N] [--runs N] [--repeat N] [--database-url URL]
                                               [--reuse] [--drop] [--profile] [--json FILE]

Targets, with the demo city's 18 sites x 3 years of daily samples x 13 analytes (256,230 measurements):

- every result recomputed (``results.recompute_results()``: point values, the seeded 10,000-draw Monte Carlo
  intervals of every site, analyte and error model, delete and COPY of every ``AnalyteResult`` row) in under
  60 seconds; the simulations' caches are emptied before each run, so every run draws its Monte Carlo anew;
- the results query, ``GET /api/v1/wastewater/results?site=…&from=…&to=…`` through the Django test client as
  the city office (bearer token, middleware, scope, consumption with its interval for the default factor set,
  JSON), in under 200 ms (p95) for one site and one year (4,745 results); a quarter is timed too.

The script creates (or, with ``--reuse``, keeps) its own database (default ``jindu_bench_wastewater``), migrates
it, builds the demo city's districts and streets and loads the demo's data set with the demo's own generator
(``jindu.wastewater.demo``: sites through the services, samples with ``bulk_create``, measurements with
``core.bulk.bulk_insert``, then one recomputation), then runs ``VACUUM ANALYZE``. The database is kept for the
next run (``--reuse`` skips the load when a complete data set of the same size is there); ``--drop`` drops it at
the end. Its keys live in ``var/bench-wastewater/<database>.keys.json``. See ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import datetime as dt
import gc
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO / "src"))

from bench_orgtree import machine_info, percentile, postgres_admin_url  # noqa: E402
from benchlib import configure_django, database_exists, key_check, log, recreate_database, server_version  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/jindu_bench_wastewater"
KEY_DIR = REPO / "var" / "bench-wastewater"  # one key file per bench database: <database>.keys.json
SEED = 2026  # the demo's seed: the bench data set is the demo's
DATA_VERSION = 1  # bump when the generator changes, so that --reuse rebuilds an older data set
TARGET_RECOMPUTE_SECONDS = 60.0
TARGET_QUERY_P95_MS = 200.0
QUERY_SITE = "NB-YZ-01"  # the largest plant


# --- The database and its keys ---------------------------------------------------------------------------------


def stored_meta(url: str) -> dict[str, Any] | None:
    """What the last complete load wrote into ``bench_wastewater_meta`` (None when there is none)."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT value FROM bench_wastewater_meta WHERE key = 'load'").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


# --- Loading -----------------------------------------------------------------------------------------------------


def build_city() -> int:
    """The demo city's province, city, ten districts and their (synthetic) streets, through the org-unit import."""
    from jindu.core.demo import synthetic_tree
    from jindu.core.orgunits import orgunits_import

    rows = [row for row in synthetic_tree() if row["level"] in ("province", "city", "district", "street")]
    report = orgunits_import(actor=None, rows=rows)
    if report.errors:
        raise SystemExit("the demo tree is invalid: " + "; ".join(report.errors[:5]))
    return len(rows)


def load(url: str, days: int) -> dict[str, Any]:
    """Migrate, build the city, write the demo's data set; returns what ``bench_wastewater_meta`` records."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from jindu.wastewater.demo import generate_demo_wastewater, progress_steps

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    units = build_city()
    log(f"  migrated in {migrated - started:.0f} s; {units} org units")
    steps = progress_steps()
    done = [0]

    def progress(count: int) -> None:
        done[0] += count
        if done[0] < steps // 2 + 1:
            log(f"  site {done[0]} of {steps // 2} written")

    generating = time.perf_counter()
    report = generate_demo_wastewater(seed=SEED, today=timezone.localdate(), days=days, progress=progress)
    generated = time.perf_counter()
    log(
        f"  {report.sites} sites, {report.samples:,} samples, {report.measurements:,} measurements, "
        f"{report.results:,} results in {generated - generating:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    meta = {
        "version": DATA_VERSION,
        "days": days,
        "seed": SEED,
        "sites": report.sites,
        "samples": report.samples,
        "measurements": report.measurements,
        "first_day": report.first_day.isoformat(),
        "last_day": report.last_day.isoformat(),
        "loaded_on": dt.date.today().isoformat(),
        "load_seconds": time.perf_counter() - started,
        "generate_seconds": generated - generating,
        "key_check": key_check("bench-wastewater"),
    }
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_wastewater_meta (key text PRIMARY KEY, value jsonb)")
        cursor.execute(
            "INSERT INTO bench_wastewater_meta VALUES ('load', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [json.dumps(meta)],
        )
    return meta


# --- Recomputation -----------------------------------------------------------------------------------------------


class BackendClock:
    """CPU seconds of this connection's PostgreSQL backend (from /proc, same host)."""

    def __init__(self) -> None:
        from django.db import connection

        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.pid = cursor.fetchone()[0]
        self.ticks = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.ticks


def clear_simulation_caches() -> None:
    from jindu.wastewater import results

    results._multipliers.cache_clear()
    results._consumption_multiplier.cache_clear()


def recompute_runs(runs: int) -> list[dict[str, Any]]:
    from jindu.wastewater.models import AnalyteResult
    from jindu.wastewater.results import recompute_results

    clock = BackendClock()
    measured = []
    for run in range(1, runs + 1):
        clear_simulation_caches()
        gc.collect()
        backend_before = clock.seconds()
        cpu_before = time.process_time()
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        written = recompute_results()
        seconds = time.perf_counter() - started
        backend_after = clock.seconds()
        measured.append(
            {
                "run": run,
                "seconds": seconds,
                "results": written,
                "python_cpu": time.process_time() - cpu_before,
                "postgres_cpu": (backend_after - backend_before)
                if backend_after is not None and backend_before is not None
                else None,
                "loadavg": [load_before, os.getloadavg()[0]],
            }
        )
        log(f"  run {run}: {written:,} results in {seconds:.1f} s")
    assert AnalyteResult.objects.count() == measured[-1]["results"]
    return measured


def profile_recompute(top: int = 30) -> str:
    from jindu.wastewater.results import recompute_results

    clear_simulation_caches()
    profiler = cProfile.Profile()
    profiler.enable()
    recompute_results()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --- The results query -------------------------------------------------------------------------------------------


def query_client() -> Any:
    """A city-office user (the whole city in scope) with a bearer token, created once per database."""
    import secrets

    from django.test import Client

    from jindu.core.accounts import token_issue, user_create
    from jindu.core.models import User
    from jindu.core.roles import Role

    user = User.objects.filter(username="bench_city").first()
    if user is None:
        created = user_create(
            actor=None,
            username="bench_city",
            password=secrets.token_urlsafe(16),
            roles=[Role.CITY_OFFICE],
            org_unit_code="330200",
        )
        user = User.objects.get(pk=created.user.pk)
    raw, _token = token_issue(user=user)
    return Client(headers={"Authorization": f"Bearer {raw}"}, HTTP_HOST="localhost")


def time_query(client: Any, url: str, expected: int, repeat: int, warmup: int = 3) -> dict[str, Any]:
    from django.db import connection

    clear_simulation_caches()
    started = time.perf_counter()
    first = client.get(url)
    cold_ms = (time.perf_counter() - started) * 1000
    if first.status_code != 200:
        raise SystemExit(f"GET {url}: {first.status_code} {first.content[:500]!r}")
    count = first.json()["count"]
    if count != expected:
        raise SystemExit(f"GET {url}: {count} results, expected {expected}")
    for _ in range(warmup):
        client.get(url)
    statements: list[str] = []

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    # A wrapper rather than CaptureQueriesContext: each request closes its connection (CONN_MAX_AGE 0).
    with connection.execute_wrapper(counted):
        client.get(url)
    samples = []
    cpu = []
    for _ in range(repeat):
        cpu_before = time.process_time()
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_before) * 1000)
        assert response.status_code == 200
    samples.sort()
    cpu.sort()
    return {
        "url": url,
        "results": count,
        "bytes": len(first.content),
        "queries": len(statements),
        "cold_ms": cold_ms,
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "max": samples[-1],
        "cpu_p50": percentile(cpu, 50),
        "cpu_p95": percentile(cpu, 95),
        "samples": len(samples),
    }


def measure_queries(repeat: int, last_day: dt.date, profile: bool) -> dict[str, Any]:
    from jindu.wastewater.models import Analyte

    panel = Analyte.objects.filter(standard_panel=True).count()
    client = query_client()
    year_from = last_day - dt.timedelta(days=364)
    quarter_from = last_day - dt.timedelta(days=90)
    measured = {
        "year": time_query(
            client,
            f"/api/v1/wastewater/results?site={QUERY_SITE}&from={year_from}&to={last_day}",
            365 * panel,
            repeat,
        ),
        "quarter": time_query(
            client,
            f"/api/v1/wastewater/results?site={QUERY_SITE}&from={quarter_from}&to={last_day}",
            91 * panel,
            repeat,
        ),
    }
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(5):
            client.get(measured["year"]["url"])
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        measured["profile"] = out.getvalue()
    return measured


# --- Main ----------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=3 * 365, help="days of samples per site (default 1095)")
    parser.add_argument(
        "--runs", type=int, default=3, help="timed recomputations (default 3; 0 with --reuse: queries only)"
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per query (default 30)")
    parser.add_argument("--database-url", default=os.environ.get("JINDU_BENCH_WASTEWATER_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true", help="keep a complete data set of the same size")
    parser.add_argument("--drop", action="store_true", help="drop the database (and its keys) at the end")
    parser.add_argument(
        "--profile", action="store_true", help="print cProfiles of a recomputation and queries"
    )
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    if args.days < 365 or args.runs < 0 or args.repeat < 1:
        parser.error("--days must be at least 365, --runs at least 0, --repeat at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    admin_url, name = postgres_admin_url(args.database_url)
    try:
        machine["postgresql"] = server_version(admin_url)
    except Exception as error:  # noqa: BLE001 - every connection problem is reported the same way
        print(f"PostgreSQL is unreachable at {args.database_url}: {error}", file=sys.stderr)
        return 2
    print(
        f"Jindu wastewater benchmark: 18 sites x {args.days} days x the 13-analyte panel\n"
        f"Machine: {machine['cpus']} CPUs, {machine['cpu_model']}, {machine['memory']} RAM, {machine['os']}\n"
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}",
        flush=True,
    )
    key_file = KEY_DIR / f"{name}.keys.json"
    meta = stored_meta(args.database_url) if args.reuse and database_exists(admin_url, name) else None
    reuse = (
        meta is not None
        and meta.get("version") == DATA_VERSION
        and meta.get("days") == args.days
        and key_file.is_file()
    )
    if not reuse:
        log(f"creating the database {name} and its keys")
        recreate_database(admin_url, name)
        from jindu.core.keyring import generate_keyring, write_key_file

        KEY_DIR.mkdir(parents=True, exist_ok=True)
        key_file.unlink(missing_ok=True)
        write_key_file(key_file, generate_keyring())
    var_dir = Path(tempfile.mkdtemp(prefix="jindu-bench-wastewater-"))
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    configure_django(args.database_url, key_file=key_file, var_dir=var_dir)
    from django.core.management import call_command
    from django.db import connection

    if reuse:
        assert meta is not None
        if meta.get("key_check") != key_check("bench-wastewater"):
            raise SystemExit(f"{key_file} does not belong to the data in {name}: run without --reuse")
        log(f"reusing the data set loaded on {meta['loaded_on']} ({meta['measurements']:,} measurements)")
        call_command("migrate", verbosity=0, interactive=False)  # migrations added since the load
    else:
        log(f"loading the demo's data set ({args.days} days) ...")
        meta = load(args.database_url, args.days)
        log(f"  loaded in {meta['load_seconds']:.0f} s")
    assert meta is not None
    results: dict[str, Any] = {
        "machine": machine,
        "load": meta,
        "args": vars(args) | {"json": str(args.json)},
    }
    runs: list[dict[str, Any]] = []
    if args.runs:
        log(f"recomputing every result {args.runs} times ...")
        runs = recompute_runs(args.runs)
    results["recompute"] = runs
    median = statistics.median(run["seconds"] for run in runs) if runs else None
    if runs and (args.profile or (median or 0) >= TARGET_RECOMPUTE_SECONDS):
        log("profiling a recomputation (cProfile) ...")
        results["recompute_profile"] = profile_recompute()
        print(results["recompute_profile"])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE wastewater_analyteresult")  # what autovacuum does after the rewrite
    log(f"timing the results query ({args.repeat} requests each) ...")
    queries = measure_queries(args.repeat, dt.date.fromisoformat(meta["last_day"]), args.profile)
    if "profile" in queries:
        print(queries["profile"])
    results["queries"] = queries
    results["loadavg"] = list(os.getloadavg())
    ok = report(results, median)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"Wrote {args.json}")
    if args.drop:
        connection.close()
        recreate_database(admin_url, name, drop_only=True)
        key_file.unlink(missing_ok=True)
        log(f"dropped {name}")
    return 0 if ok else 1


def report(results: dict[str, Any], median: float | None) -> bool:
    """Print the figures and the verdicts; True when every measured target passes."""
    meta, runs, queries = results["load"], results["recompute"], results["queries"]
    recompute_ok = median is None or median < TARGET_RECOMPUTE_SECONDS
    year_ok = queries["year"]["p95"] < TARGET_QUERY_P95_MS
    quarter_ok = queries["quarter"]["p95"] < TARGET_QUERY_P95_MS
    print("\n" + "=" * 100)
    print(
        f"Data: {meta['sites']} sites, {meta['samples']:,} samples, {meta['measurements']:,} measurements "
        f"({meta['first_day']} to {meta['last_day']}); loaded on {meta['loaded_on']} in "
        f"{meta['load_seconds']:.0f} s (demo generator {meta['generate_seconds']:.0f} s); load average now "
        f"{results['loadavg'][0]:.2f}"
    )
    for run in runs:
        cpu = f"Python CPU {run['python_cpu']:.1f} s"
        if run["postgres_cpu"] is not None:
            cpu += f", PostgreSQL CPU {run['postgres_cpu']:.1f} s"
        print(
            f"recompute run {run['run']}: {run['results']:,} results in {run['seconds']:.1f} s ({cpu}; load "
            f"average {run['loadavg'][0]:.1f} -> {run['loadavg'][1]:.1f})"
        )
    for label, measured in (("one year", queries["year"]), ("one quarter", queries["quarter"])):
        print(
            f"results query, {label}: {measured['results']:,} results, {measured['bytes'] / 1024:.0f} KiB, "
            f"{measured['queries']} queries; p50 {measured['p50']:.1f} ms, p95 {measured['p95']:.1f} ms, max "
            f"{measured['max']:.1f} ms over {measured['samples']} requests; Python CPU per request p50 "
            f"{measured['cpu_p50']:.1f} ms, p95 {measured['cpu_p95']:.1f} ms (first request, cold caches: "
            f"{measured['cold_ms']:.1f} ms)"
        )
    print()
    print(f"{'target':58}{'measured':>14}  {'goal':10}verdict")
    print("-" * 92)
    if median is None:
        print(f"{'recompute everything (10,000 draws)':58}{'not run':>14}  {'< 60 s':10}-")
    else:
        print(
            f"{'recompute everything (10,000 draws), median of ' + str(len(runs)):58}{median:>12.1f} s  "
            f"{'< 60 s':10}{'PASS' if recompute_ok else 'FAIL'}"
        )
    print(
        f"{'results query, one site x one year, p95':58}{queries['year']['p95']:>11.1f} ms  "
        f"{'< 200 ms':10}{'PASS' if year_ok else 'FAIL'}"
    )
    print(
        f"{'results query, one site x one quarter, p95':58}{queries['quarter']['p95']:>11.1f} ms  "
        f"{'< 200 ms':10}{'PASS' if quarter_ok else 'FAIL'}"
    )
    machine = results["machine"]
    print(
        f"\nmachine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory']} RAM, {machine['os']}; "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}"
    )
    return recompute_ok and year_ok and quarter_ok


if __name__ == "__main__":
    sys.exit(main())
