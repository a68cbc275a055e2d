"""Benchmark: precursor ledgers on PostgreSQL (issue 4, acceptance point 3).

Run from the repository root (``make bench`` runs it after the people benchmark)::

    .venv/bin/python bench/bench_precursors.py [--firms N] [--months M] [--capture-seconds S]
                                               [--events-per-document N] [--database-url URL] [--keep] [--json FILE]

Targets:

- EPCIS capture at 5,000 events per second or more into PostgreSQL, sustained for a minute: documents of
  ``--events-per-document`` ObjectEvents posted one after the other to ``POST /api/v1/precursors/epcis/capture``
  through the Django test client as firm users (token authentication, JSON parsing, validation, business
  checks, kg pure, COPY into the event and quantity tables, audit record); the documents are serialised before
  the clock starts.
- Mass balance of 2,000 firms x 12 months in under 30 seconds: ``balances.monthly_balances`` over every
  firm and substance (two grouped reads, then the balance arithmetic and tolerance test per firm-month).

The script drops and creates its own database (default ``jindu_bench_precursors``), migrates it, builds a city
with 10 districts, registers the firms (bulk) with a site each, and fills a year of ledgers for every firm
through the real capture service with the demo's generator (``precursors/demo.py``: producers, traders and
users of one substance chain each, shipments matched by receipts, use in process, documented losses, a
month-end stocktake), with a few planted shortages that the balance must find. Keys are random per run
(the data is thrown away); ``--keep`` keeps the database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO / "src"))

from bench_orgtree import machine_info, percentile, postgres_admin_url  # noqa: E402
from benchlib import configure_django, log, recreate_database  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/jindu_bench_precursors"
SEED = 20261123
TARGET_EVENTS_PER_SECOND = 5000.0
TARGET_BALANCE_SECONDS = 30.0
DISTRICTS = 10
CAPTURE_FIRMS = 8  # firms whose users post the timed documents


def build_city_and_firms(firm_count: int) -> list[Any]:
    """Ten districts under the city, then the firms (bulk, as the demo registers them)."""
    from jindu.core.orgunits import orgunit_create
    from jindu.precursors.demo import register_firms

    orgunit_create(actor=None, code="330000", name="浙江省", level="province", parent_code=None)
    orgunit_create(actor=None, code="330200", name="宁波市", level="city", parent_code="330000")
    for index in range(1, DISTRICTS + 1):
        orgunit_create(
            actor=None, code=f"3302{index:02d}", name=f"区{index}", level="district", parent_code="330200"
        )
    return register_firms(firm_count, seed=SEED)


def fill_ledgers(firms: list[Any], first_month: dt.date, months: int) -> dict[str, Any]:
    """A year of coherent ledgers for every firm (the demo's generator), through the capture service."""
    from jindu.precursors.demo import build_ledgers, capture_ledgers

    events, planted = build_ledgers(firms, first_month=first_month, months=months, seed=SEED)
    started = time.perf_counter()
    done = [0]

    def progress(count: int) -> None:
        done[0] += count
        if done[0] % 500 == 0:
            log(f"  ledgers of {done[0]:,} firms captured")

    stored = capture_ledgers(firms, events, progress=progress)
    seconds = time.perf_counter() - started
    return {
        "events": stored,
        "seconds": seconds,
        "events_per_second": stored / seconds,
        "planted": set(planted.leaking),
    }


def time_balances(first_month: dt.date, months: int, planted_ids: set[int]) -> dict[str, Any]:
    from jindu.precursors.balance import BalanceSettings
    from jindu.precursors.balances import monthly_balances

    started = time.perf_counter()
    balances = monthly_balances(first_month=first_month, months=months, settings=BalanceSettings())
    seconds = time.perf_counter() - started
    statuses: dict[str, int] = {}
    flagged_firms = set()
    for balance in balances:
        statuses[balance.result.status] = statuses.get(balance.result.status, 0) + 1
        if balance.result.status in ("warning", "alert"):
            flagged_firms.add(balance.enterprise_id)
    return {
        "seconds": seconds,
        "balances": len(balances),
        "firms": len({b.enterprise_id for b in balances}),
        "statuses": statuses,
        "planted_found": len(planted_ids & flagged_firms),
        "planted": len(planted_ids),
        "clean_firms_flagged": len(flagged_firms - planted_ids),
    }


def capture_documents(
    firms: list[Any], per_document: int, count: int, start: dt.datetime
) -> list[tuple[int, bytes]]:
    """Documents of ObjectEvents (receipts with a source party and a location), serialised in advance, each
    with new event times so that none is a duplicate."""
    from jindu.precursors.demo import CHAINS, document, epcis_event, quantity_element

    rng = random.Random(SEED + 1)
    documents = []
    for number in range(count):
        firm = firms[number % len(firms)]
        partner = firms[(number + 1) % len(firms)]
        events = []
        for index in range(per_document):
            when = start + dt.timedelta(seconds=number * per_document + index)
            cas = CHAINS[index % len(CHAINS)][0]
            events.append(
                epcis_event(
                    "ObjectEvent",
                    when,
                    bizStep="receiving",
                    disposition="in_progress",
                    quantityList=[quantity_element(cas, f"B{number}", rng.uniform(10, 1000))],
                    bizLocation={"id": f"urn:jindu:loc:{firm.uscc}:store-1"},
                    sourceList=[{"type": "owning_party", "source": partner.party_uri}],
                    bizTransactionList=[{"type": "po", "bizTransaction": f"urn:jindu:po:{number}-{index}"}],
                )
            )
        documents.append((number % len(firms), json.dumps(document(events, firm.party_uri)).encode()))
    return documents


def time_capture(
    firms: list[Any], per_document: int, seconds: float, *, profile: bool = False
) -> dict[str, Any]:
    from django.test import Client

    from jindu.core.accounts import token_issue, user_create
    from jindu.core.models import User
    from jindu.core.roles import Role

    capture_firms = firms[:CAPTURE_FIRMS]
    clients = []
    for index, firm in enumerate(capture_firms):
        user_create(
            actor=None,
            username=f"bench_firm_{index}",
            password=secrets.token_urlsafe(16),
            roles=[Role.ENTERPRISE],
            org_unit_code=firm.org_unit.code,
            enterprise_code=firm.uscc,
        )
        raw, _token = token_issue(user=User.objects.get(username=f"bench_firm_{index}"))
        clients.append(Client(headers={"Authorization": f"Bearer {raw}"}, HTTP_HOST="localhost"))
    # Enough documents for the time asked at twice the target rate.
    count = max(4, int(seconds * TARGET_EVENTS_PER_SECOND * 2 / per_document))
    log(f"serialising {count:,} documents of {per_document:,} events ...")
    documents = capture_documents(capture_firms, per_document, count, dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    # Warm-up (first request compiles templates, fills caches), not timed.
    warm = clients[0].post(
        "/api/v1/precursors/epcis/capture", data=documents[0][1], content_type="application/json"
    )
    assert warm.status_code == 202, warm.content[:500]
    latencies, events = [], 0
    started = time.perf_counter()
    for client_index, body in documents[1:]:
        begin = time.perf_counter()
        response = clients[client_index].post(
            "/api/v1/precursors/epcis/capture", data=body, content_type="application/json"
        )
        latencies.append((time.perf_counter() - begin) * 1000)
        if response.status_code != 202:
            raise SystemExit(f"capture failed: {response.status_code} {response.content[:500]!r}")
        events += response.json()["event_count"]
        if time.perf_counter() - started >= seconds:
            break
    elapsed = time.perf_counter() - started
    latencies.sort()
    if profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for client_index, body in documents[-3:]:
            clients[client_index].post(
                "/api/v1/precursors/epcis/capture", data=body, content_type="application/json"
            )
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())
    return {
        "seconds": elapsed,
        "events": events,
        "documents": len(latencies),
        "events_per_document": per_document,
        "events_per_second": events / elapsed,
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "max": max(latencies),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--firms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--capture-seconds", type=float, default=60.0)
    parser.add_argument("--events-per-document", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("JINDU_BENCH_PRECURSORS_URL", DEFAULT_URL))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of three captures")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    if args.firms < CAPTURE_FIRMS + 1 or args.months < 1 or args.events_per_document < 1:
        parser.error(
            f"--firms must be at least {CAPTURE_FIRMS + 1}, --months and --events-per-document at least 1"
        )
    admin_url, name = postgres_admin_url(args.database_url)
    try:
        recreate_database(admin_url, name)
    except Exception as error:  # noqa: BLE001 - any connection failure means "no PostgreSQL here"
        print(f"PostgreSQL is not reachable at {admin_url}: {error}", file=sys.stderr)
        return 2
    configure_django(
        args.database_url,
        var_dir=REPO / "var" / "bench-precursors",
        # Throw-away keys: the data is dropped at the end.
        keys={
            "JINDU_SECRET_KEY": secrets.token_hex(32),
            "JINDU_DATA_KEYS": "b1:" + secrets.token_hex(16),
            "JINDU_BLIND_INDEX_KEY": secrets.token_hex(32),
            "JINDU_AUDIT_KEY": secrets.token_hex(32),
        },
    )
    from django.core.management import call_command
    from django.db import connection

    info = machine_info()
    log(
        f"Jindu precursors benchmark: {args.firms:,} firms x {args.months} months; capture for {args.capture_seconds:.0f} s"
    )
    call_command("migrate", verbosity=0)
    firms = build_city_and_firms(args.firms)
    log(f"registered {len(firms):,} firms")
    first_month = dt.date(2026, 1, 1)
    log("filling a year of ledgers through the capture service ...")
    fill = fill_ledgers(firms, first_month, args.months)
    planted = fill.pop("planted")
    log(f"  {fill['events']:,} events in {fill['seconds']:.1f} s ({fill['events_per_second']:,.0f} events/s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log("timing the monthly balances of every firm ...")
    balances = time_balances(first_month, args.months, planted)
    log(f"  {balances['balances']:,} balances of {balances['firms']:,} firms in {balances['seconds']:.2f} s")
    log(f"timing capture for {args.capture_seconds:.0f} s ...")
    gc.collect()
    capture = time_capture(firms, args.events_per_document, args.capture_seconds, profile=args.profile)
    results = {
        "machine": info,
        "firms": args.firms,
        "months": args.months,
        "fill": fill,
        "balances": balances,
        "capture": capture,
    }
    capture_ok = capture["events_per_second"] >= TARGET_EVENTS_PER_SECOND and capture["seconds"] >= min(
        60.0, args.capture_seconds
    )
    balance_ok = balances["seconds"] < TARGET_BALANCE_SECONDS
    print()
    print(f"{'target':48}{'measured':>22}  {'goal':12}verdict")
    print("-" * 92)
    print(
        f"{'EPCIS capture, sustained':48}{capture['events_per_second']:>15,.0f} ev/s  "
        f"{'>= 5,000/s':12}{'PASS' if capture_ok else 'FAIL'}"
    )
    print(
        f"{f'mass balance, {args.firms:,} firms x {args.months} months':48}{balances['seconds']:>20.2f} s  "
        f"{'< 30 s':12}{'PASS' if balance_ok else 'FAIL'}"
    )
    print(
        f"\ncapture: {capture['events']:,} events in {capture['documents']:,} documents of {args.events_per_document:,} "
        f"over {capture['seconds']:.1f} s; latency per document p50 {capture['latency_ms']['p50']:.0f} ms, "
        f"p95 {capture['latency_ms']['p95']:.0f} ms, max {capture['latency_ms']['max']:.0f} ms"
    )
    print(
        f"balances: {balances['balances']:,} firm-substance-months, statuses {balances['statuses']}; planted "
        f"shortages found in {balances['planted_found']} of {balances['planted']} firms; clean firms flagged: "
        f"{balances['clean_firms_flagged']}"
    )
    print(f"ledgers filled: {fill['events']:,} events in {fill['seconds']:.1f} s through the capture service")
    print(f"machine: {info}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    if not args.keep:
        connection.close()
        recreate_database(admin_url, name, drop_only=True)
    return 0 if capture_ok and balance_ok else 1


if __name__ == "__main__":
    sys.exit(main())
