"""The data each output chart embeds in its page (``json_script``); ``static/jindu/wastewater.js`` turns it into an
ECharts option. Keeping the numbers here (server side) means a page shows exactly what the API answers, and the
charts need nothing from the network (no tiles, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from jindu.wastewater.aggregates import AggregateSeries
from jindu.wastewater.overview import MapSite, WeekdayProfile
from jindu.wastewater.rankings import INDEX, Ranking
from jindu.wastewater.services import catchment_problem

UNIT = "mg/day/1000"
MAP_NAME = "jindu-catchments"
EXTENT = "__extent__"


def _names() -> dict[str, str]:
    return {
        "value": _("Load per 1000"),
        # xgettext:no-python-format
        "band": _("95 % interval"),
        "low": _("2.5th percentile"),
        "loq": _("Below LOQ (the LOQ as an upper bound)"),
    }


def trend_from_days(points: dict[str, list[Any]], analyte: str) -> dict[str, Any]:
    """Daily points with their stored intervals."""
    return {"type": "trend", "title": analyte, "unit": UNIT, "names": _names(), **points}


def trend_from_periods(result: AggregateSeries) -> dict[str, Any]:
    """Period means with their Monte Carlo intervals (the band is p2.5 to p97.5)."""
    labels, values, lows, highs, loq = [], [], [], [], []
    for value in result.values:
        interval = value.interval
        labels.append(value.period.label)
        values.append(value.point)
        lows.append(interval.p2_5 if interval else None)
        highs.append(interval.p97_5 if interval else None)
        # A period with only below-LOQ days: its bound at the LOQ, drawn apart.
        loq.append(value.bounds.if_at_loq if value.point is None and value.bounds else None)
    return {
        "type": "trend",
        "title": result.analyte.code,
        "unit": UNIT,
        "names": _names(),
        "labels": labels,
        "value": values,
        "low": lows,
        "high": highs,
        "loq": loq,
    }


def weekday_chart(profile: WeekdayProfile) -> dict[str, Any]:
    return {
        "type": "weekday",
        "unit": UNIT,
        "labels": profile.labels,
        "means": profile.means,
        "counts": profile.counts,
        "weekday_mean": profile.weekday_mean,
        "weekend_mean": profile.weekend_mean,
        "weekday_days": profile.weekday_days,
        "weekend_days": profile.weekend_days,
        "names": {
            "means": _("Mean by day of the week"),
            "weekday": _("Weekday mean (EUDA)"),
            "weekend": _("Weekend mean (EUDA)"),
        },
    }


def ranking_chart(result: Ranking) -> dict[str, Any]:
    """Interval bars: ranked units (highest first) with the 95 % interval as a bar and the point on it."""
    items = [item for item in result.items if item.point is not None]
    intervals = [item.interval for item in items]
    return {
        "type": "ranking",
        "unit": _("weighted doses/day/1000") if result.measure == INDEX else UNIT,
        "labels": [item.unit.name for item in items],
        "value": [item.point for item in items],
        "low": [interval.p2_5 if interval else None for interval in intervals],
        "high": [interval.p97_5 if interval else None for interval in intervals],
        "names": {
            "value": _("Point value"),
            # xgettext:no-python-format
            "band": _("95 % interval"),
        },
        "height": max(200, 60 + 36 * len(items)),
    }


def _geometry(catchment: Any) -> dict[str, Any] | None:
    if not catchment or catchment_problem(catchment):
        return None
    return catchment.get("geometry") if catchment.get("type") == "Feature" else catchment


def _positions(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [
        (float(position[0]), float(position[1]))
        for polygon in polygons
        for ring in polygon
        for position in ring
    ]


def map_chart(found: Sequence[MapSite], analyte: str, period: str) -> dict[str, Any]:
    """Catchments as a GeoJSON FeatureCollection named by site code (``echarts.registerMap``), coloured by the load
    per 1000; sites without a catchment as points from their coordinates."""
    features: list[dict[str, Any]] = []
    regions: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    longitudes: list[float] = []
    latitudes: list[float] = []
    for entry in found:
        site = entry.site
        geometry = _geometry(site.catchment)
        label = f"{site.name} ({site.code})"
        if geometry is not None:
            features.append({"type": "Feature", "properties": {"name": site.code}, "geometry": geometry})
            regions.append(
                {"name": site.code, "value": entry.value, "label": label, "days": entry.quantified_days}
            )
        elif site.latitude is not None and site.longitude is not None:
            longitude, latitude = float(site.longitude), float(site.latitude)
            longitudes.append(longitude)
            latitudes.append(latitude)
            points.append(
                {
                    "name": site.code,
                    "value": [longitude, latitude, entry.value],
                    "label": label,
                    "days": entry.quantified_days,
                }
            )
    if points:
        # ECharts fits the map to its features: an invisible box around every catchment and point, so that points
        # outside the catchments (or with no catchment at all) are on the map.
        for feature in features:
            for longitude, latitude in _positions(feature["geometry"]):
                longitudes.append(longitude)
                latitudes.append(latitude)
        west, east = min(longitudes) - 0.02, max(longitudes) + 0.02
        south, north = min(latitudes) - 0.02, max(latitudes) + 0.02
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": EXTENT},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    values = [item["value"] for item in regions if item["value"] is not None] + [
        item["value"][2] for item in points if item["value"][2] is not None
    ]
    return {
        "type": "map",
        "map_name": MAP_NAME,
        "extent": EXTENT,
        "geojson": {"type": "FeatureCollection", "features": features},
        "regions": regions,
        "points": points,
        "min": min(values) if values else 0,
        "max": max(values) if values else 1,
        "unit": UNIT,
        "title": f"{analyte} · {period}",
        "names": {"value": _("Load per 1000"), "none": _("no quantified day")},
    }
