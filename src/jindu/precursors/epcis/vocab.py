"""GS1 CBV 2.0 vocabularies used by EPCIS 2.0 events, and normalisation of vocabulary values.

An EPCIS 2.0 JSON-LD document may write the same CBV value three ways (precursors.md §3.4):

- the short name that the standard ``@context`` expands: ``shipping``;
- the full CBV URI: ``https://ref.gs1.org/cbv/BizStep-shipping``;
- a compact IRI with the ``cbv:`` prefix of the standard context: ``cbv:BizStep-shipping``.

EPCIS 1.x URNs (``urn:epcglobal:cbv:bizstep:shipping``) are also understood, because firms migrating from 1.2
systems still emit them. All of these normalise to the short name. Values outside the CBV (for example jindu's
custom business transaction types, ``jd:BTT-purchasePermit``) must be full URIs or compact IRIs whose prefix is
declared in the document's ``@context``; they normalise to the full, expanded URI so that stored values do not
depend on which prefix a sender happened to choose.

The enumerations are the ones in the EPCIS 2.0 JSON Schema (gs1/EPCIS) and CBV 2.0; they are read as reference,
not copied code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

#: JSON-LD context of EPCIS 2.0; every document should reference it first in ``@context``.
STANDARD_CONTEXT_URL: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

#: Namespace of CBV 2.0 vocabulary terms (``https://ref.gs1.org/cbv/BizStep-shipping``).
CBV_NAMESPACE: Final = "https://ref.gs1.org/cbv/"

#: Prefix of EPCIS 1.x CBV URNs (``urn:epcglobal:cbv:bizstep:shipping``).
LEGACY_CBV_URN_PREFIX: Final = "urn:epcglobal:cbv:"

#: Prefixes that the standard EPCIS 2.0 context itself declares, so documents may use them without declaring them.
BUILTIN_PREFIXES: Final[Mapping[str, str]] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV_NAMESPACE,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

#: URI schemes accepted for full (non-compact) custom vocabulary URIs. Anything else before the first ``:`` is
#: taken as a compact-IRI prefix and must be declared in ``@context``; this is what catches ``jd:foo`` sent
#: without a ``jd`` declaration, which JSON-LD would otherwise silently read as a URI with scheme ``jd``.
FULL_URI_SCHEMES: Final = frozenset({"http", "https", "urn", "tag"})

#: Namespace proposed for jindu's own vocabulary (precursors.md §3.5). Documents must still declare the ``jd``
#: prefix in ``@context``; the office may replace this with its own namespace.
JINDU_DEFAULT_NAMESPACE: Final = "https://jindu.example/voc/"

#: jindu's custom business transaction types (local names under the ``jd`` namespace, precursors.md §3.5).
JINDU_BIZ_TRANSACTION_TYPES: Final = (
    "BTT-purchasePermit",
    "BTT-purchaseFiling",
    "BTT-transportPermit",
    "BTT-transportFiling",
    "BTT-productionLicence",
    "BTT-exportLicence",
)

EVENT_TYPES: Final = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)

ACTIONS: Final = frozenset({"ADD", "OBSERVE", "DELETE"})

BIZ_STEPS: Final = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    }
)

DISPOSITIONS: Final = frozenset(
    {
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    }
)

#: CBV 2.0 business transaction types; ``upevt`` (upstream EPCIS event) is new in CBV 2.0.
BIZ_TRANSACTION_TYPES: Final = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)

SOURCE_DESTINATION_TYPES: Final = frozenset({"owning_party", "possessing_party", "location"})

ERROR_REASONS: Final = frozenset({"did_not_occur", "incorrect_data"})

#: UN/ECE Recommendation 20 unit codes accepted in ``quantityList[].uom``. Mass and volume units only: a
#: quantity without ``uom`` already means a count of instances in EPCIS, and every accepted unit must be
#: convertible to kg of pure substance downstream (``jindu.precursors.quantities``). DMQ (dm³ = 1 L) and
#: CMQ (cm³ = 1 mL) are included because laboratory suppliers use them for solvents.
ACCEPTED_UOMS: Final = frozenset(
    {
        # mass
        "KGM",  # kilogram
        "GRM",  # gram
        "MGM",  # milligram
        "TNE",  # tonne (metric ton)
        "LBR",  # pound
        # volume
        "LTR",  # litre
        "MLT",  # millilitre
        "MTQ",  # cubic metre
        "DMQ",  # cubic decimetre
        "CMQ",  # cubic centimetre
    }
)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One CBV vocabulary: its field name, the term prefix used in CBV 2.0 URIs and the 1.x URN segment."""

    field_name: str
    """The EPCIS field the vocabulary is used in, for messages (``bizStep``)."""
    cbv_term_prefix: str
    """Prefix of the term in a CBV 2.0 URI: ``BizStep`` in ``https://ref.gs1.org/cbv/BizStep-shipping``."""
    legacy_urn_segment: str
    """Segment of the EPCIS 1.x URN: ``bizstep`` in ``urn:epcglobal:cbv:bizstep:shipping``."""
    values: frozenset[str]
    """The standard short names."""


BIZ_STEP: Final = Vocabulary("bizStep", "BizStep", "bizstep", BIZ_STEPS)
DISPOSITION: Final = Vocabulary("disposition", "Disp", "disp", DISPOSITIONS)
BIZ_TRANSACTION_TYPE: Final = Vocabulary("bizTransaction type", "BTT", "btt", BIZ_TRANSACTION_TYPES)
SOURCE_DESTINATION_TYPE: Final = Vocabulary("source/destination type", "SDT", "sdt", SOURCE_DESTINATION_TYPES)
ERROR_REASON: Final = Vocabulary("errorDeclaration reason", "ER", "er", ERROR_REASONS)


class VocabularyError(ValueError):
    """A vocabulary value that is neither a known CBV term nor an acceptable custom URI.

    ``code`` is a short machine code: ``unknown_vocabulary`` (unknown CBV term or short name) or
    ``undeclared_prefix`` (a compact IRI whose prefix ``@context`` does not declare).
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def expand_compact_iri(value: str, prefixes: Mapping[str, str]) -> str | None:
    """Expand ``prefix:local`` using ``prefixes`` (document prefixes; the built-in ones are consulted too).

    Returns the full URI, ``value`` itself when it already is a full URI (scheme in ``FULL_URI_SCHEMES``), or
    ``None`` when the part before ``:`` is neither a declared prefix nor a full-URI scheme (or there is no ``:``).
    """
    prefix, colon, local = value.partition(":")
    if not colon or not prefix:
        return None
    # A document may redefine a built-in prefix; its own declaration wins, as in JSON-LD.
    namespace = prefixes.get(prefix)
    if namespace is None:
        namespace = BUILTIN_PREFIXES.get(prefix)
    if namespace is not None and not local.startswith("//"):
        return namespace + local
    if prefix in FULL_URI_SCHEMES:
        return value
    return None


def normalise_vocabulary_value(value: str, vocabulary: Vocabulary, prefixes: Mapping[str, str]) -> str:
    """Normalise a CBV value to its short name, or a custom value to its full URI.

    ``shipping``, ``https://ref.gs1.org/cbv/BizStep-shipping``, ``cbv:BizStep-shipping`` and
    ``urn:epcglobal:cbv:bizstep:shipping`` all give ``shipping`` for ``BIZ_STEP``. ``jd:lossRecording`` with
    ``{"jd": "https://jindu.example/voc/"}`` gives ``https://jindu.example/voc/lossRecording``.

    Raises ``VocabularyError`` for an unknown short name, a CBV URI naming no term of this vocabulary (including
    a term of another vocabulary, e.g. a disposition used as bizStep), or a compact IRI with an undeclared prefix.
    """
    if value in vocabulary.values:
        return value
    if ":" not in value:
        raise VocabularyError(
            f"Unknown {vocabulary.field_name} {value!r}: not a CBV 2.0 value; custom values must be full URIs "
            f"or use a prefix declared in @context.",
            "unknown_vocabulary",
        )
    full = expand_compact_iri(value, prefixes)
    if full is None:
        prefix = value.partition(":")[0]
        raise VocabularyError(
            f"{vocabulary.field_name} {value!r} uses the prefix {prefix!r}, which @context does not declare.",
            "undeclared_prefix",
        )
    if full.startswith(CBV_NAMESPACE):
        term = full[len(CBV_NAMESPACE) :]
        term_prefix, dash, short = term.partition("-")
        if dash and term_prefix == vocabulary.cbv_term_prefix and short in vocabulary.values:
            return short
        raise VocabularyError(
            f"{value!r} is not a CBV 2.0 {vocabulary.field_name} "
            f"(expected {CBV_NAMESPACE}{vocabulary.cbv_term_prefix}-<name>).",
            "unknown_vocabulary",
        )
    if full.startswith(LEGACY_CBV_URN_PREFIX):
        segment, colon, short = full[len(LEGACY_CBV_URN_PREFIX) :].partition(":")
        if colon and segment == vocabulary.legacy_urn_segment and short in vocabulary.values:
            return short
        raise VocabularyError(
            f"{value!r} is not a CBV {vocabulary.field_name} "
            f"(expected {LEGACY_CBV_URN_PREFIX}{vocabulary.legacy_urn_segment}:<name>).",
            "unknown_vocabulary",
        )
    return full


def cbv_uri(short_name: str, vocabulary: Vocabulary) -> str:
    """The full CBV 2.0 URI of a short name (``shipping`` -> ``https://ref.gs1.org/cbv/BizStep-shipping``).

    Raises ``VocabularyError`` when ``short_name`` is not a value of ``vocabulary``.
    """
    if short_name not in vocabulary.values:
        raise VocabularyError(f"Unknown {vocabulary.field_name} {short_name!r}.", "unknown_vocabulary")
    return f"{CBV_NAMESPACE}{vocabulary.cbv_term_prefix}-{short_name}"
