"""Wastewater pages: outputs (sites, samples, rankings, map, export, quarterly reports)."""

from django.urls import path

from jindu.wastewater import views_outputs, views_outputs_areas, views_samples

urlpatterns: list = [
    path("sites/", views_outputs.site_list, name="site_list"),
    path("sites/<slug:code>/", views_outputs.site_detail, name="site_detail"),
    path("sites/<slug:code>/population/", views_outputs.population_add, name="population_add"),
    path(
        "sites/<slug:code>/population/<int:estimate_id>/default/",
        views_outputs.population_default,
        name="population_default",
    ),
    path("samples/<int:pk>/", views_samples.sample_detail, name="sample_detail"),
    path("rankings/", views_outputs_areas.ranking_page, name="rankings"),
    path("map/", views_outputs_areas.map_page, name="map"),
    path("export/", views_outputs_areas.export_page, name="export"),
    path("reports/", views_outputs_areas.report_page, name="reports"),
]
