"""A demo (and benchmark) world of precursor firms with a year of coherent ledgers.

Firms are producers, traders or users of one substance chain each. Every month producers make the substance,
ship it to traders, traders ship to users, users consume it; each shipment has the customer's receipt of the
same quantity a day later (measured within 0.1 %), documented losses are occasional, and every firm counts
its stock at month end. Everything enters through the real capture service, so the stored events, quantities
and balance terms are what a live system would hold.

Planted cases, for the warnings and balances to find (``PlantedCases`` says which firm has which):
a slow leak (stock counted 3 % short, month after month) at a few firms, a theft (goods ``stolen``), a cash
sale (``jd:paymentMethod`` cash), a shipment whose receipt never comes, and a buyer that collects the same
substance from three sellers within a month. Last year's annual reports (年度报告): most firms filed theirs on
time, a few late and a few not at all (``plant_annual_reports``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from jindu.core.models import OrgUnit
from jindu.core.validators import uscc_check_char
from jindu.precursors.models import Enterprise, IndustrialPark, Site

CHINA = dt.timezone(dt.timedelta(hours=8))
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"jd": "https://jindu.example/voc/"},
]
# Substance chains by CAS, with a typical monthly volume in kg (category 1 in kilograms, solvents in tonnes).
CHAINS = [
    ("67-64-1", 4000.0),  # acetone (3)
    ("108-88-3", 3000.0),  # toluene (3)
    ("7647-01-0", 5000.0),  # hydrochloric acid (3)
    ("7664-93-9", 6000.0),  # sulfuric acid (3)
    ("78-93-3", 1500.0),  # methyl ethyl ketone (3)
    ("7722-64-7", 300.0),  # potassium permanganate (3)
    ("108-24-7", 800.0),  # acetic anhydride (2)
    ("67-66-3", 600.0),  # chloroform (2)
    ("60-29-7", 400.0),  # diethyl ether (2)
    ("120-57-0", 20.0),  # piperonal (1)
]
PARKS = [
    ("zhenhai-petrochem", "宁波石化经济技术开发区"),
    ("daxie", "大榭开发区"),
    ("hangzhouwan", "杭州湾新区化工园"),
]


def demo_uscc(index: int) -> str:
    """A synthetic 统一社会信用代码 with a valid check character."""
    first17 = f"913302{index:06d}MA2B0"
    return first17 + uscc_check_char(first17)


@dataclass
class PlantedCases:
    """Which firms carry which planted case (by firm id)."""

    leaking: list[int] = field(default_factory=list)
    theft: int | None = None
    cash_sale: int | None = None
    missing_receipt: int | None = None  # the shipper
    company_shopping: int | None = None  # the buyer
    annual_report_late: list[int] = field(default_factory=list)
    annual_report_missing: list[int] = field(default_factory=list)


@dataclass
class _Firm:
    enterprise: Enterprise
    role: str  # producer, trader, user
    chain: int
    stock: float = 0.0


def epcis_event(kind: str, when: dt.datetime, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "eventTime": when.isoformat(), "eventTimeZoneOffset": "+08:00"}
    if kind != "TransformationEvent":
        body["action"] = fields.pop("action", "OBSERVE")
    body.update(fields)
    return body


def quantity_element(cas: str, lot: str, kg: float) -> dict[str, Any]:
    return {"epcClass": f"urn:jindu:class:{cas}:{lot}", "quantity": round(kg, 3), "uom": "KGM"}


def document(events: list[dict[str, Any]], sender: str) -> dict[str, Any]:
    """An EPCIS 2.0 document from ``sender`` holding ``events``."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": dt.datetime.now(dt.UTC).isoformat(),
        "sender": sender,
        "epcisBody": {"eventList": events},
    }


def register_firms(
    count: int, *, seed: int, first_index: int = 0, extra_codes: list[str] | None = None
) -> list[Enterprise]:
    """Register ``count`` firms over the city's districts (bulk, as an import would), a warehouse each, and a
    few industrial parks. ``extra_codes`` are credit codes to use first (e.g. the demo firm account's)."""
    rng = random.Random(seed)
    districts = list(OrgUnit.objects.filter(level="district").order_by("code"))
    if not districts:
        raise RuntimeError("no districts: build the org tree first")
    parks = []
    for number, (code, name) in enumerate(PARKS):
        district = districts[number % len(districts)]
        park, _created = IndustrialPark.objects.get_or_create(
            code=code, defaults={"name": name, "org_unit": district, "org_path": district.path}
        )
        parks.append(park)
    codes = list(extra_codes or [])
    index = first_index
    while len(codes) < count:
        candidate = demo_uscc(index)
        index += 1
        if candidate not in codes:
            codes.append(candidate)
    firms = []
    for number, code in enumerate(codes[:count]):
        district = next((d for d in districts if code[2:8] == d.code), districts[number % len(districts)])
        park = parks[number % len(parks)] if rng.random() < 0.4 else None
        firms.append(
            Enterprise(
                uscc=code,
                name=f"{district.name}{rng.choice(['化工', '化学', '精细化工', '医药化工', '贸易'])}有限公司{number:03d}",
                org_unit=district,
                org_path=district.path,
                park=park,
                address=f"{district.name}工业路{rng.randint(1, 300)}号",
                activities=["trade", "store"],
                credit_grade=rng.choices("ABCD", weights=[3, 5, 2, 0.5])[0],
            )
        )
    with transaction.atomic():
        created = Enterprise.objects.bulk_create(firms)
        Site.objects.bulk_create(
            [
                Site(enterprise=firm, name="仓库", location_uri=f"urn:jindu:loc:{firm.uscc}:store-1")
                for firm in created
            ]
        )
    return created


def build_ledgers(
    firms: list[Enterprise], *, first_month: dt.date, months: int, seed: int
) -> tuple[dict[int, list[dict[str, Any]]], PlantedCases]:
    """Each firm's events for ``months`` months from ``first_month``, coherent across firms, with the planted
    cases. Returns (events by firm id, planted cases)."""
    rng = random.Random(seed)
    world: list[_Firm] = []
    for number, enterprise in enumerate(firms):
        role = "producer" if number % 10 == 0 else ("trader" if number % 10 < 5 else "user")
        # Blocks of ten firms share a chain: one producer, four traders, five users.
        world.append(_Firm(enterprise, role, (number // 10) % len(CHAINS)))
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    planted = PlantedCases()
    # Sellers (traders, who ship to users) carry the sale cases; anyone but a producer the others.
    traders = [firm for firm in world if firm.role == "trader"]
    others = [firm for firm in world if firm.role == "user"]
    rng.shuffle(traders)
    rng.shuffle(others)
    if len(traders) >= 3 and len(others) >= 5:
        planted.leaking = [others[0].enterprise.pk, others[1].enterprise.pk, traders[0].enterprise.pk]
        planted.theft = others[2].enterprise.pk
        planted.company_shopping = others[3].enterprise.pk
        planted.cash_sale = traders[1].enterprise.pk
        planted.missing_receipt = traders[2].enterprise.pk
    by_chain: dict[int, dict[str, list[_Firm]]] = defaultdict(lambda: defaultdict(list))
    for firm in world:
        by_chain[firm.chain][firm.role].append(firm)

    done = {"cash": False}
    last_year = first_month.year + (first_month.month - 1 + months - 1) // 12
    last_month = dt.date(last_year, (first_month.month - 1 + months - 1) % 12 + 1, 1)

    def store(firm: _Firm) -> str:
        return f"urn:jindu:loc:{firm.enterprise.uscc}:store-1"

    def ship(
        seller: _Firm, buyer: _Firm, cas: str, lot: str, kg: float, when: dt.datetime, *, receipt: bool = True
    ) -> None:
        kg = min(kg, seller.stock)
        if kg <= 0:
            return
        seller.stock -= round(kg, 3)
        extra: dict[str, Any] = {}
        # The cash sale is the seller's first sale of the last month (recent, as the nightly run sees it).
        if planted.cash_sale == seller.enterprise.pk and not done["cash"] and when.date() >= last_month:
            extra["jd:paymentMethod"] = "cash"
            done["cash"] = True
        events[seller.enterprise.pk].append(
            epcis_event(
                "ObjectEvent",
                when,
                bizStep="shipping",
                disposition="in_transit",
                quantityList=[quantity_element(cas, lot, kg)],
                readPoint={"id": store(seller)},
                destinationList=[{"type": "owning_party", "destination": buyer.enterprise.party_uri}],
                bizTransactionList=[
                    {
                        "type": "po",
                        "bizTransaction": f"urn:jindu:po:{buyer.enterprise.uscc}:{when:%Y%m%d%H%M}",
                    }
                ],
                **extra,
            )
        )
        if not receipt:
            return
        measured = round(kg * rng.uniform(0.999, 1.001), 3)
        buyer.stock += measured
        events[buyer.enterprise.pk].append(
            epcis_event(
                "ObjectEvent",
                when + dt.timedelta(days=1),
                bizStep="receiving",
                disposition="in_progress",
                quantityList=[quantity_element(cas, lot, measured)],
                bizLocation={"id": store(buyer)},
                sourceList=[{"type": "owning_party", "source": seller.enterprise.party_uri}],
            )
        )

    missing_done = False
    for month_index in range(months):
        year = first_month.year + (first_month.month - 1 + month_index) // 12
        month = (first_month.month - 1 + month_index) % 12 + 1
        lot = f"L{year}{month:02d}"
        for chain, roles in by_chain.items():
            cas, volume = CHAINS[chain]
            producers, traders, users = roles["producer"], roles["trader"], roles["user"]
            for producer in producers:
                made = volume * rng.uniform(0.8, 1.2)
                producer.stock += round(made, 3)
                events[producer.enterprise.pk].append(
                    epcis_event(
                        "TransformationEvent",
                        dt.datetime(year, month, 2, 9, tzinfo=CHINA),
                        bizStep="commissioning",
                        transformationID=f"urn:jindu:transformation:{producer.enterprise.uscc}:P-{lot}",
                        outputQuantityList=[quantity_element(cas, lot, made)],
                        bizLocation={"id": store(producer)},
                    )
                )
            sellers = producers or traders
            for number, trader in enumerate(traders if producers else []):
                seller = producers[number % len(producers)]
                ship(
                    seller,
                    trader,
                    cas,
                    lot,
                    volume * rng.uniform(0.15, 0.3),
                    dt.datetime(year, month, 5, 10, tzinfo=CHINA),
                )
            for number, user in enumerate(users):
                seller = (
                    (traders or sellers)[number % len(traders or sellers)] if (traders or sellers) else None
                )
                if seller is None:
                    continue
                when = dt.datetime(year, month, 10 + number % 8, 14, tzinfo=CHINA)
                receipt = not (
                    seller.enterprise.pk == planted.missing_receipt
                    and not missing_done
                    and month_index == months - 2
                )
                if not receipt:
                    missing_done = True
                ship(seller, user, cas, lot, volume * rng.uniform(0.05, 0.1), when, receipt=receipt)
                used = user.stock * rng.uniform(0.4, 0.7)
                if used > 0:
                    user.stock -= round(used, 3)
                    events[user.enterprise.pk].append(
                        epcis_event(
                            "TransformationEvent",
                            dt.datetime(year, month, 20, 9, tzinfo=CHINA),
                            bizStep="jd:consuming",
                            transformationID=f"urn:jindu:transformation:{user.enterprise.uscc}:WO-{lot}",
                            inputQuantityList=[quantity_element(cas, lot, used)],
                        )
                    )
            # The company-shopping buyer collects the same substance from three sellers in one month.
            shopper = next((f for f in users + traders if f.enterprise.pk == planted.company_shopping), None)
            if shopper is not None and month_index == months - 1:
                for number, seller in enumerate((traders + producers)[:3]):
                    if seller is not shopper:
                        ship(
                            seller,
                            shopper,
                            cas,
                            lot,
                            volume * 0.05,
                            dt.datetime(year, month, 3 + number * 7, 11, tzinfo=CHINA),
                        )
        for firm in world:
            cas = CHAINS[firm.chain][0]
            if rng.random() < 0.15 and firm.stock > 10:
                lost = firm.stock * rng.uniform(0.0005, 0.002)
                firm.stock -= round(lost, 3)
                events[firm.enterprise.pk].append(
                    epcis_event(
                        "ObjectEvent",
                        dt.datetime(year, month, 25, 16, tzinfo=CHINA),
                        action="DELETE",
                        bizStep="jd:lossRecording",
                        disposition="destroyed",
                        quantityList=[quantity_element(cas, lot, lost)],
                    )
                )
            if firm.enterprise.pk == planted.theft and month_index == months - 1 and firm.stock > 0:
                stolen = firm.stock * 0.1
                firm.stock -= round(stolen, 3)
                events[firm.enterprise.pk].append(
                    epcis_event(
                        "ObjectEvent",
                        dt.datetime(year, month, 26, 2, tzinfo=CHINA),
                        bizStep="jd:incident",
                        disposition="stolen",
                        quantityList=[quantity_element(cas, lot, stolen)],
                        bizLocation={"id": store(firm)},
                    )
                )
            if firm.enterprise.pk in planted.leaking:
                firm.stock *= 0.97  # 3 % of the stock goes missing every month
            firm.stock = round(max(firm.stock, 0.0), 3)
            events[firm.enterprise.pk].append(
                epcis_event(
                    "ObjectEvent",
                    dt.datetime(year, month, 28, 17, tzinfo=CHINA),
                    bizStep="stock_taking",
                    quantityList=[quantity_element(cas, lot, firm.stock)],
                    bizLocation={"id": store(firm)},
                )
            )
    return events, planted


def capture_ledgers(
    firms: list[Enterprise],
    events: dict[int, list[dict[str, Any]]],
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 5000,
) -> int:
    """Capture each firm's events through the real capture service (as the firm's own system would)."""
    from jindu.precursors.services import epcis_capture

    stored = 0
    for firm in firms:
        firm_events = sorted(events.get(firm.pk, []), key=lambda e: e["eventTime"])
        for start in range(0, len(firm_events), chunk):
            capture = epcis_capture(
                actor=None,
                enterprise=firm,
                document=document(firm_events[start : start + chunk], firm.party_uri),
            )
            stored += capture.event_count
        if progress is not None:
            progress(1)
    return stored


def simulate_timely_capture(firm_ids: list[int]) -> None:
    """A year of history is captured at once when the demo is built; in the story the firms captured each
    event two hours after it happened (else every firm would look like it reported its sales late)."""
    from django.db.models import F

    from jindu.precursors.models import EpcisEvent

    EpcisEvent.objects.filter(enterprise_id__in=firm_ids).update(
        record_time=F("event_time") + dt.timedelta(hours=2)
    )


def plant_annual_reports(
    firms: list[Enterprise], *, year: int, today: dt.date, seed: int
) -> tuple[list[int], list[int]]:
    """The firms' annual reports on ``year``, for every firm with ledger activity in it: one in twenty files late
    and one in twenty not at all, the others on time. Each report goes through the real service (the platform's
    figures, accepted as pre-filled), then is dated back to the day the story has it filed: on time between
    mid-January and the deadline, late 5 to 40 days after it, never after ``today``. While the deadline has not
    passed on ``today`` the late firms have not filed yet, and nothing is missing yet (due). A firm whose report is
    already there keeps it, so a later day can be planted after an earlier one with the same seed (the same firms
    are late and missing). Returns (late, missing) firm ids."""
    from jindu.precursors.annual_reports import annual_report_states, annual_report_submit
    from jindu.precursors.models.annual_reports import AnnualReport, AnnualReportRevision

    rng = random.Random(seed)
    states = annual_report_states([(firm.pk, firm.org_path) for firm in firms], [year], today=today)
    active = [firm for firm in firms if states[(firm.pk, year)].active]
    rng.shuffle(active)
    share = max(1, len(active) // 20)
    late, missing = active[:share], active[share : 2 * share]
    filed_late: list[int] = []
    opens = dt.date(year + 1, 1, 15)
    for firm in active:
        if firm in missing or states[(firm.pk, year)].report_id is not None:
            continue
        deadline = states[(firm.pk, year)].deadline
        if firm in late:
            if deadline >= today:
                continue  # not late yet: still due
            day = min(deadline + dt.timedelta(days=rng.randint(5, 40)), today)
            filed_late.append(firm.pk)
        else:
            last = min(deadline, today)
            if last < opens:
                continue
            day = opens + dt.timedelta(days=rng.randint(0, (last - opens).days))
        report = annual_report_submit(actor=None, enterprise=firm, year=year)
        when = dt.datetime.combine(day, dt.time(10), tzinfo=CHINA)
        AnnualReport.objects.filter(pk=report.pk).update(submitted_at=when, revised_at=when)
        AnnualReportRevision.objects.filter(report=report).update(submitted_at=when)
    return filed_late, [firm.pk for firm in missing if states[(firm.pk, year)].deadline < today]


DEFAULT_FIRMS = 300


def generate_demo_precursors(
    *,
    firms: int = DEFAULT_FIRMS,
    seed: int = 2026,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> PlantedCases:
    """The demo: ``firms`` firms (the demo firm account's among them) with the twelve months before this one."""
    from jindu.core.demo import DEMO_ENTERPRISE_CODE

    today = today or timezone.localdate()
    first_month = dt.date(today.year - 1, today.month, 1)
    registered = register_firms(firms, seed=seed, extra_codes=[DEMO_ENTERPRISE_CODE])
    events, planted = build_ledgers(registered, first_month=first_month, months=12, seed=seed)
    capture_ledgers(registered, events, progress=progress)
    simulate_timely_capture([firm.pk for firm in registered])
    planted.annual_report_late, planted.annual_report_missing = plant_annual_reports(
        registered, year=today.year - 1, today=today, seed=seed
    )
    # What the nightly and monthly jobs would have found by now: warnings and credit grades.
    from jindu.precursors.rating import rate_enterprises

    replay_warnings(first_month, today)
    rate_enterprises(as_of=today, trigger="demo")
    return planted


def replay_warnings(
    first_day: dt.date, until: dt.date, *, every_days: int = 15, baseline_days: int = 60
) -> None:
    """Run the warning rules as the nightly job would have over the demo's history (every ``every_days`` days:
    each run looks back 45 days, and reruns never duplicate a warning). The first ``baseline_days`` of the
    history are the baseline the rules compare with (every customer would be "new" in the first weeks of a
    ledger that starts from nothing), so the runs begin after it."""
    from jindu.precursors.warnings import run_warnings

    day = first_day + dt.timedelta(days=baseline_days)
    while day < until:
        run_warnings(day)
        day += dt.timedelta(days=every_days)
    run_warnings(until)
