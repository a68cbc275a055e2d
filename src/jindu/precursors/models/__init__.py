# Each area's module registers its models here (one owner per module).
from jindu.precursors.models import annual_reports as annual_reports  # noqa: F401
from jindu.precursors.models import inspections as inspections  # noqa: F401
from jindu.precursors.models import permits as permits  # noqa: F401
from jindu.precursors.models import warnings as warnings  # noqa: F401
from jindu.precursors.models.catalogue import MixtureRule, Substance, SubstanceCategory
from jindu.precursors.models.credit import CreditRating
from jindu.precursors.models.enterprises import (
    Enterprise,
    EnterpriseStatus,
    IndustrialPark,
    Site,
)
from jindu.precursors.models.epcis import (
    BalanceTerm,
    CaptureSource,
    EpcisCapture,
    EpcisEvent,
    EpcisQuantity,
    ProductClass,
)

__all__ = [
    "BalanceTerm",
    "CaptureSource",
    "CreditRating",
    "Enterprise",
    "EnterpriseStatus",
    "EpcisCapture",
    "EpcisEvent",
    "EpcisQuantity",
    "IndustrialPark",
    "MixtureRule",
    "ProductClass",
    "Site",
    "Substance",
    "SubstanceCategory",
]
