"""Mass balance (MUF), CUSUM for slow leaks, and shipper–receiver reconciliation (precursors.md §4.1–4.3).

All quantities are ``Decimal`` kilograms of pure substance (see ``quantities.to_kg_pure``); statistics (σ, ratios,
CUSUM) are floats. Nothing here touches the database: the caller aggregates EPCIS events per material balance area
(enterprise × site × substance) and period into ``BalanceTerms`` and stores the results. Every threshold is a
parameter (``BalanceSettings``, ``CusumSettings``, keyword arguments) so the office can version it as policy.

Balance equation, adapted from nuclear material accountancy [S42]::

    book_stock = opening_stock + receipts + production − shipments − consumption − documented_losses
    MUF        = book_stock − closing_stock          (material unaccounted for; positive = shortage)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

BalanceStatus = Literal["ok", "warning", "alert", "no_stocktake"]
ReconciliationStatus = Literal[
    "ok",
    "srd_beyond_allowance",
    "received_more",
    "missing_receipt",
    "in_transit",
    "receipt_before_shipment",
]

_ZERO: Final = Decimal(0)
_TERM_NAMES: Final = (
    "opening_stock",
    "receipts",
    "production",
    "shipments",
    "consumption",
    "documented_losses",
    "closing_stock",
)


class BalanceError(ValueError):
    """Balance, CUSUM or reconciliation input that cannot be evaluated (negative terms, floats, naive times...)."""


def _check_kg(value: object, name: str) -> Decimal:
    """Return ``value`` as a non-negative finite Decimal; ints are accepted, binary floats are refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise BalanceError(f"{name} must be a Decimal number of kg, not {type(value).__name__}.")
    number = value if isinstance(value, Decimal) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise BalanceError(f"{name} must be a finite, non-negative number of kg, got {value}.")
    return number


# --- Mass balance -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TermUncertainties:
    """Relative standard measurement uncertainty (1σ, as a fraction) of each balance term.

    The defaults are PROPOSED and meant to be overridden per firm from its declared instruments: a certified
    weighbridge is about 0.1 % (receipts/shipments), a tank gauge or stocktake about 0.5 %, a process flowmeter or
    recipe-based consumption about 1 %, and documented losses are estimates (10 %). A manufacturer's "accuracy"
    is usually a ~2σ limit of error; halve it to get a 1σ value.
    """

    opening_stock: float = 0.005
    receipts: float = 0.001
    production: float = 0.005
    shipments: float = 0.001
    consumption: float = 0.01
    documented_losses: float = 0.10
    closing_stock: float = 0.005

    def __post_init__(self) -> None:
        for name in _TERM_NAMES:
            value = getattr(self, name)
            if not (isinstance(value, float | int) and math.isfinite(value) and value >= 0):
                raise BalanceError(f"Uncertainty for {name} must be a finite fraction >= 0, got {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceSettings:
    """Tolerance policy for ``compute_balance`` (one versioned policy row per category/substance, PROPOSED).

    - ``uncertainty``: default relative uncertainties per term (a ``BalanceTerms`` may carry its own).
    - ``warn_sigmas`` / ``alert_sigmas``: |MUF| above this many σ_MUF gives "warning" / "alert" — 2σ is the classic
      limit-of-error test [S43], 3σ the alert level (precursors.md §4.2).
    - ``absolute_floor_kg`` and ``relative_floor_fraction``: no flag while |MUF| ≤ floor, where
      ``floor = max(absolute_floor_kg, relative_floor_fraction × throughput)``; e.g. Cat 1 floor 0 ("any kg"),
      Cat 3 acids 0.5 % of throughput (§4.2). The floor keeps well-measured, high-volume balances from flagging
      MUFs that are statistically significant but operationally trivial.
    - ``exact``: item-level balance (sealed, EPC-counted containers) where any non-zero MUF is an alert.
    """

    uncertainty: TermUncertainties = field(default_factory=TermUncertainties)
    warn_sigmas: float = 2.0
    alert_sigmas: float = 3.0
    absolute_floor_kg: Decimal = _ZERO
    relative_floor_fraction: Decimal = _ZERO
    exact: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.warn_sigmas <= self.alert_sigmas:
            raise BalanceError(
                f"Need 0 < warn_sigmas <= alert_sigmas, got {self.warn_sigmas} and {self.alert_sigmas}."
            )
        _check_kg(self.absolute_floor_kg, "absolute_floor_kg")
        _check_kg(self.relative_floor_fraction, "relative_floor_fraction")


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceTerms:
    """The terms of one material balance area × period, in Decimal kg of pure substance.

    ``opening_stock`` is the physical stock at period start (last stocktake); ``None`` is allowed only in
    ``balance_period_series``, which then chains it from the previous period. ``closing_stock`` is ``None`` when
    there was no stocktake at period end. ``uncertainty`` overrides ``BalanceSettings.uncertainty`` as a whole for
    this balance (use ``dataclasses.replace`` on the default to change one term). ``opening_stock_sigma_kg`` is an
    absolute 1σ for the opening stock that replaces ``relative × opening_stock`` — used when the opening value is a
    carried-forward book stock whose uncertainty was already propagated.
    """

    opening_stock: Decimal | None
    receipts: Decimal = _ZERO
    production: Decimal = _ZERO
    shipments: Decimal = _ZERO
    consumption: Decimal = _ZERO
    documented_losses: Decimal = _ZERO
    closing_stock: Decimal | None = None
    uncertainty: TermUncertainties | None = None
    opening_stock_sigma_kg: float | None = None
    # The opening stock is the previous period's book stock (no stocktake in between), which may be negative:
    # a firm that recorded more going out than coming in. The balance carries it on rather than failing, and
    # the next counted stock shows the gap as MUF.
    opening_is_book_stock: bool = False

    def __post_init__(self) -> None:
        # Normalise ints to Decimal and refuse negative terms: corrections are separate events, not negative flows.
        for name in _TERM_NAMES:
            value = getattr(self, name)
            if value is None and name in ("opening_stock", "closing_stock"):
                continue
            if name == "opening_stock" and self.opening_is_book_stock and isinstance(value, Decimal):
                if not value.is_finite():
                    raise BalanceError(f"opening_stock must be finite, got {value}.")
                continue
            number = _check_kg(value, name)
            if number is not value:
                object.__setattr__(self, name, number)
        sigma = self.opening_stock_sigma_kg
        if sigma is not None and not (math.isfinite(sigma) and sigma >= 0):
            raise BalanceError(f"opening_stock_sigma_kg must be a finite number >= 0, got {sigma!r}.")


@dataclass(frozen=True, slots=True)
class BalanceResult:
    """Outcome of ``compute_balance``; see that function for the formulas.

    ``muf``, ``sigma_muf``, ``z_score`` and ``muf_ratio`` are ``None`` without a closing stocktake;
    ``muf_ratio`` is also ``None`` when throughput is 0, and ``z_score`` when σ_MUF is 0.
    """

    terms: BalanceTerms
    book_stock: Decimal
    sigma_book_kg: float
    closing_stock: Decimal | None
    muf: Decimal | None
    sigma_muf: float | None
    z_score: float | None
    throughput: Decimal
    muf_ratio: float | None
    floor_kg: Decimal
    exact: bool
    status: BalanceStatus

    @property
    def negative_book_stock(self) -> bool:
        """More recorded going out than coming in: the records lack a receipt, production or opening stock."""
        return self.book_stock < 0


def compute_balance(
    terms: BalanceTerms, settings: BalanceSettings, *, exact: bool | None = None
) -> BalanceResult:
    """Compute book stock, MUF, its standard uncertainty and a status for one balance period.

    Formulas (all kg of pure substance):

    - ``book_stock = opening + receipts + production − shipments − consumption − documented_losses``
    - ``muf = book_stock − closing_stock`` (positive = shortage, negative = unexplained surplus)
    - ``throughput = receipts + production``; ``muf_ratio = muf / throughput`` when throughput > 0
    - ``σ_book = sqrt(Σ (u_i × term_i)²)`` over the six book terms, where ``u_i`` is the term's relative 1σ
      uncertainty (``opening_stock_sigma_kg`` replaces ``u_opening × opening`` when given), and
      ``σ_MUF = sqrt(σ_book² + (u_closing × closing)²)``. This is first-order error propagation assuming the terms
      are measured independently of each other, while the error *within* a term is taken as fully correlated
      (u × the period total, i.e. a systematic instrument bias), the conservative choice for aggregated events.
      The σ of the closing stock is reused when it becomes the next opening stock, so consecutive MUFs are
      negatively correlated; the CUSUM below tolerates that.
    - ``z_score = muf / σ_MUF``; ``floor = max(absolute_floor_kg, relative_floor_fraction × throughput)``.

    Status: "no_stocktake" without closing stock; for exact (item-level) balances "alert" when muf ≠ 0, else "ok";
    otherwise "ok" when |muf| ≤ floor, "alert" when |muf| > alert_sigmas × σ_MUF, "warning" when
    |muf| > warn_sigmas × σ_MUF, else "ok". Both shortages and surpluses are flagged: a surplus means unrecorded
    receipts or production. With σ_MUF = 0 any MUF above the floor is an alert.

    ``exact`` overrides ``settings.exact`` for this call. Raises ``BalanceError`` when ``opening_stock`` is None.
    """
    opening = terms.opening_stock
    if opening is None:
        raise BalanceError(
            "opening_stock is None; pass the last stocktake or use balance_period_series to chain it."
        )
    is_exact = settings.exact if exact is None else exact
    u = terms.uncertainty or settings.uncertainty

    book_stock = (
        opening
        + terms.receipts
        + terms.production
        - terms.shipments
        - terms.consumption
        - terms.documented_losses
    )
    opening_sigma = (
        terms.opening_stock_sigma_kg
        if terms.opening_stock_sigma_kg is not None
        else u.opening_stock * float(opening)
    )
    book_variance = (
        opening_sigma**2
        + (u.receipts * float(terms.receipts)) ** 2
        + (u.production * float(terms.production)) ** 2
        + (u.shipments * float(terms.shipments)) ** 2
        + (u.consumption * float(terms.consumption)) ** 2
        + (u.documented_losses * float(terms.documented_losses)) ** 2
    )
    throughput = terms.receipts + terms.production
    floor_kg = max(settings.absolute_floor_kg, settings.relative_floor_fraction * throughput)

    closing = terms.closing_stock
    if closing is None:
        return BalanceResult(
            terms=terms,
            book_stock=book_stock,
            sigma_book_kg=math.sqrt(book_variance),
            closing_stock=None,
            muf=None,
            sigma_muf=None,
            z_score=None,
            throughput=throughput,
            muf_ratio=None,
            floor_kg=floor_kg,
            exact=is_exact,
            status="no_stocktake",
        )

    muf = book_stock - closing
    sigma_muf = math.sqrt(book_variance + (u.closing_stock * float(closing)) ** 2)
    abs_muf = abs(muf)
    status: BalanceStatus
    if is_exact:
        status = "alert" if muf != 0 else "ok"
    elif abs_muf <= floor_kg:
        status = "ok"
    elif float(abs_muf) > settings.alert_sigmas * sigma_muf:
        status = "alert"
    elif float(abs_muf) > settings.warn_sigmas * sigma_muf:
        status = "warning"
    else:
        status = "ok"
    return BalanceResult(
        terms=terms,
        book_stock=book_stock,
        sigma_book_kg=math.sqrt(book_variance),
        closing_stock=closing,
        muf=muf,
        sigma_muf=sigma_muf,
        z_score=float(muf) / sigma_muf if sigma_muf > 0 else None,
        throughput=throughput,
        muf_ratio=float(muf) / float(throughput) if throughput > 0 else None,
        floor_kg=floor_kg,
        exact=is_exact,
        status=status,
    )


def balance_period_series(
    terms_by_period: Sequence[BalanceTerms], settings: BalanceSettings, *, exact: bool | None = None
) -> list[BalanceResult]:
    """Compute consecutive periods of one balance area, chaining stock from one period to the next.

    When a period's ``opening_stock`` is None it is taken from the previous period: its physical closing stock
    (with that stocktake's absolute σ, ``u_closing × closing``) or, when there was no stocktake, its book stock
    (with σ_book). Chaining through book stock makes the next MUF cover both periods, which is the right answer
    when the firm skipped a stocktake. The first period must have an opening stock (0 for a new firm).
    """
    results: list[BalanceResult] = []
    previous: BalanceResult | None = None
    for index, terms in enumerate(terms_by_period):
        if terms.opening_stock is None:
            if previous is None:
                raise BalanceError(
                    f"Period {index} has no opening stock and no previous period to chain from."
                )
            if previous.closing_stock is not None:
                u_prev = previous.terms.uncertainty or settings.uncertainty
                opening, opening_sigma = (
                    previous.closing_stock,
                    u_prev.closing_stock * float(previous.closing_stock),
                )
            else:
                opening, opening_sigma = previous.book_stock, previous.sigma_book_kg
            terms = dataclasses.replace(
                terms,
                opening_stock=opening,
                opening_stock_sigma_kg=opening_sigma,
                opening_is_book_stock=previous.closing_stock is None,
            )
        previous = compute_balance(terms, settings, exact=exact)
        results.append(previous)
    return results


# --- CUSUM ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CusumSettings:
    """CUSUM parameters in units of the in-control σ of the monitored series (PROPOSED defaults).

    ``k = slack_sigmas × σ`` and ``h = threshold_sigmas × σ``. k = 0.5σ is optimal for detecting a sustained shift
    of 1σ. For normal data, Siegmund's approximation gives this one-sided scheme an in-control average run length
    of about 940 periods with h = 5σ (a 1σ shift is then found after about 10 periods) and about 340 with h = 4σ
    (1σ shift: about 8.4). Montgomery's tables (*Introduction to Statistical Quality Control*) list 465 and 168
    for the two-sided scheme, which alarms about twice as often. Mind the fleet-wide false-alarm rate: 6,000
    monthly series at ARL 940 still give about 6 false alarms a month, so h is a policy knob.
    """

    slack_sigmas: float = 0.5
    threshold_sigmas: float = 5.0

    def limits(self, sigma: float) -> tuple[float, float]:
        """Return ``(slack_k, threshold_h)`` for a series whose in-control standard deviation is ``sigma``."""
        if not (math.isfinite(sigma) and sigma > 0):
            raise BalanceError(f"sigma must be a positive finite number, got {sigma!r}.")
        return self.slack_sigmas * sigma, self.threshold_sigmas * sigma


@dataclass(frozen=True, slots=True)
class CusumResult:
    """The CUSUM statistic ``S_t`` for each input value and the first index where ``S_t > h`` (or None)."""

    statistics: list[float]
    first_alarm_index: int | None
    slack_k: float
    threshold_h: float

    @property
    def alarm(self) -> bool:
        """Whether the series crossed the threshold at least once."""
        return self.first_alarm_index is not None


def cusum(values: Sequence[float], *, target: float = 0.0, slack_k: float, threshold_h: float) -> CusumResult:
    """One-sided upper Page CUSUM on a series where shortages are positive (e.g. monthly MUF / throughput).

    ``S_0 = 0``; ``S_t = max(0, S_{t−1} + (x_t − target − k))``; alarm at the first t with ``S_t > h``. The
    statistic keeps running after an alarm (no reset) so the caller can chart it. Choose k and h from the
    in-control σ of the series with ``CusumSettings().limits(sigma)`` (k = 0.5σ, h = 5σ by default), σ estimated
    from the firm's history (e.g. ``robust_sigma``) or taken from measurement. Alternative that handles varying
    throughput: feed the standardised ``BalanceResult.z_score`` values with σ = 1.
    """
    if not (math.isfinite(slack_k) and slack_k >= 0):
        raise BalanceError(f"slack_k must be a finite number >= 0, got {slack_k!r}.")
    if not (math.isfinite(threshold_h) and threshold_h > 0):
        raise BalanceError(f"threshold_h must be a positive finite number, got {threshold_h!r}.")
    statistics: list[float] = []
    first_alarm: int | None = None
    running = 0.0
    for index, value in enumerate(values):
        if not math.isfinite(value):
            raise BalanceError(f"CUSUM value at index {index} is not a finite number: {value!r}.")
        running = max(0.0, running + (value - target - slack_k))
        statistics.append(running)
        if first_alarm is None and running > threshold_h:
            first_alarm = index
    return CusumResult(statistics, first_alarm, slack_k, threshold_h)


def robust_sigma(values: Sequence[float]) -> float:
    """Estimate σ of a series as 1.4826 × median absolute deviation, which a few planted diversions do not inflate.

    Raises ``BalanceError`` for fewer than 3 values (too little history to estimate a spread).
    """
    if len(values) < 3:
        raise BalanceError(f"Need at least 3 values to estimate sigma, got {len(values)}.")
    ordered = sorted(values)
    median = _median(ordered)
    return 1.4826 * _median(sorted(abs(value - median) for value in ordered))


def _median(ordered: Sequence[float]) -> float:
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# --- Shipper–receiver reconciliation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Outcome of ``reconcile_shipment``.

    ``srd_kg`` (shipper–receiver difference, positive = received less) and ``srd_fraction`` are None until a
    receipt exists; ``due_by = shipped_at + max_transit``; ``received_late`` is True when the receipt came after
    ``due_by`` (a quantity status can still be "ok"; a slow delivery is evidence for route rules).
    """

    shipped_kg: Decimal
    received_kg: Decimal | None
    srd_kg: Decimal | None
    srd_fraction: Decimal | None
    allowance_kg: Decimal
    due_by: datetime
    transit_time: timedelta | None
    received_late: bool
    status: ReconciliationStatus


def _check_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise BalanceError(f"{name} must be a timezone-aware datetime, got {value!r}.")


def reconcile_shipment(
    shipped_kg: Decimal,
    received_kg: Decimal | None,
    shipped_at: datetime,
    received_at: datetime | None,
    *,
    as_of: datetime,
    max_transit: timedelta,
    allowance_fraction: Decimal = Decimal("0.005"),
    allowance_floor_kg: Decimal = _ZERO,
    clock_skew: timedelta = timedelta(minutes=30),
) -> Reconciliation:
    """Compare a shipper's dispatched quantity with the receiver's received quantity and dates (§4.3).

    ``srd = shipped − received``; ``srd_fraction = srd / shipped`` (rounded to 6 decimals, for display);
    ``allowance = max(allowance_fraction × shipped, allowance_floor_kg)``, default 0.5 % (the bulk-liquid transit
    allowance [S44]; use 0 for sealed Cat 1 packages). Status, first match wins:

    - "receipt_before_shipment": received_at earlier than shipped_at − clock_skew (two firms' clocks differ a
      little; more than that is a back-dated or wrong event);
    - "srd_beyond_allowance": received less than shipped by more than the allowance (possible diversion in
      transit);
    - "received_more": received more than shipped by more than the allowance — also an anomaly (mislabelled
      concentration, a second undeclared load, or a shipper under-declaring);
    - "ok": received, |srd| ≤ allowance (exactly at the allowance is within it);
    - "missing_receipt": no receipt and ``as_of > shipped_at + max_transit`` ("in transit too long"; N = permit
      validity or route ETA + 48 h, decided by the caller);
    - "in_transit": no receipt yet, still within ``max_transit``.

    Raises ``BalanceError`` for shipped_kg ≤ 0, negative or float quantities, naive datetimes, or a receipt
    quantity without a receipt time (or the reverse).
    """
    shipped = _check_kg(shipped_kg, "shipped_kg")
    if shipped == 0:
        raise BalanceError("shipped_kg must be positive; a shipment of 0 kg cannot be reconciled.")
    fraction = _check_kg(allowance_fraction, "allowance_fraction")
    floor = _check_kg(allowance_floor_kg, "allowance_floor_kg")
    _check_aware(shipped_at, "shipped_at")
    _check_aware(as_of, "as_of")
    if max_transit <= timedelta(0):
        raise BalanceError(f"max_transit must be positive, got {max_transit}.")
    if (received_kg is None) != (received_at is None):
        raise BalanceError("received_kg and received_at must both be given or both be None.")

    allowance = max(fraction * shipped, floor)
    due_by = shipped_at + max_transit
    if received_kg is None or received_at is None:
        return Reconciliation(
            shipped_kg=shipped,
            received_kg=None,
            srd_kg=None,
            srd_fraction=None,
            allowance_kg=allowance,
            due_by=due_by,
            transit_time=None,
            received_late=False,
            status="missing_receipt" if as_of > due_by else "in_transit",
        )

    received = _check_kg(received_kg, "received_kg")
    _check_aware(received_at, "received_at")
    srd = shipped - received
    status: ReconciliationStatus
    if received_at < shipped_at - clock_skew:
        status = "receipt_before_shipment"
    elif srd > allowance:
        status = "srd_beyond_allowance"
    elif -srd > allowance:
        status = "received_more"
    else:
        status = "ok"
    return Reconciliation(
        shipped_kg=shipped,
        received_kg=received,
        srd_kg=srd,
        srd_fraction=(srd / shipped).quantize(Decimal("0.000001")),
        allowance_kg=allowance,
        due_by=due_by,
        transit_time=received_at - shipped_at,
        received_late=received_at > due_by,
        status=status,
    )
