"""What a captured EPCIS event does to a firm's stock: the mass-balance term of each quantity element
(precursors.md §3.5 maps jindu's ledger steps to EPCIS events; §4.1 defines the terms).

Pure functions over the parser's ``CapturedEvent``; the capture service stores the term on each quantity row,
so a balance is one grouped read.
"""

from __future__ import annotations

from typing import Any

# Business steps and dispositions by what they mean for the stock (CBV 2.0 short names; jindu's own steps are
# full URIs under the office's namespace, matched by their last segment).
RECEIVING_STEPS = frozenset({"receiving", "accepting", "arriving"})
SHIPPING_STEPS = frozenset({"shipping", "departing", "staging_outbound"})
STOCKTAKE_STEPS = frozenset({"cycle_counting", "stock_taking"})
LOSS_STEPS = frozenset({"destroying", "lossRecording", "decommissioning"})
LOSS_DISPOSITIONS = frozenset({"destroyed", "disposed", "damaged"})
INCIDENT_DISPOSITIONS = frozenset({"stolen", "unknown"})
CONSUMING_STEPS = frozenset({"consuming"})


def _last_segment(value: str | None) -> str:
    """``https://jindu.example/voc/lossRecording`` and ``jd:lossRecording`` → ``lossRecording``."""
    if not value:
        return ""
    for separator in ("/", ":", "#"):
        value = value.rsplit(separator, 1)[-1]
    return value


def balance_terms(event: Any) -> dict[str, str]:
    """The balance term of each quantity role of an event: ``{"quantity": "receipt"}``, ``{"input":
    "consumption", "output": "production"}``…; a role absent from the result changes no stock.

    - TransformationEvent: inputs are consumed, outputs produced (production, mixing, use in process).
    - ObjectEvent: a stocktake counts the stock; stolen or missing goods are an incident; a documented loss
      (destroying, a loss-recording step, or a destroyed/disposed/damaged disposition) is a loss; receiving is a
      receipt; shipping is a shipment. An ObjectEvent that only observes goods elsewhere changes nothing.
    - Transaction, Aggregation and Association events link goods to documents, containers or trackers: no
      stock change.
    """
    step = _last_segment(event.biz_step)
    disposition = _last_segment(event.disposition)
    if event.event_type == "TransformationEvent":
        return {"input": "consumption", "output": "production"}
    if event.event_type != "ObjectEvent":
        return {}
    if step in STOCKTAKE_STEPS:
        return {"quantity": "stocktake"}
    if disposition in INCIDENT_DISPOSITIONS:
        return {"quantity": "incident"}
    if step in LOSS_STEPS or disposition in LOSS_DISPOSITIONS or event.action == "DELETE":
        return {"quantity": "loss"}
    if step in CONSUMING_STEPS:
        return {"quantity": "consumption"}
    if step in RECEIVING_STEPS:
        return {"quantity": "receipt"}
    if step in SHIPPING_STEPS:
        return {"quantity": "shipment"}
    return {}
