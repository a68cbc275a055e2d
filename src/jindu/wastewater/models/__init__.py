from jindu.wastewater.models.anomalies import AnomalyLevel, AnomalyStatus, WastewaterAnomaly
from jindu.wastewater.models.catalogue import Analyte, AnalyteKind, CorrectionFactor, CorrectionFactorSet
from jindu.wastewater.models.reference import ReferenceChange, ReferenceSite, ReferenceTrend, ReferenceWeek
from jindu.wastewater.models.results import AnalyteResult, ResultStatus
from jindu.wastewater.models.samples import LabImport, Measurement, SamplingMode, WastewaterSample
from jindu.wastewater.models.sites import (
    PopulationEstimate,
    PopulationMethod,
    SamplingSite,
    SiteKind,
    SiteServedArea,
)

__all__ = [
    "Analyte",
    "AnalyteKind",
    "AnalyteResult",
    "AnomalyLevel",
    "AnomalyStatus",
    "CorrectionFactor",
    "CorrectionFactorSet",
    "LabImport",
    "Measurement",
    "PopulationEstimate",
    "PopulationMethod",
    "ReferenceChange",
    "ReferenceSite",
    "ReferenceTrend",
    "ReferenceWeek",
    "ResultStatus",
    "SamplingMode",
    "SamplingSite",
    "SiteKind",
    "SiteServedArea",
    "WastewaterAnomaly",
    "WastewaterSample",
]
