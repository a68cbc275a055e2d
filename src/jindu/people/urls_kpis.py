"""Pages of the people app: kpis (included by jindu.people.urls)."""

from django.urls import path

from jindu.people import views_kpis

urlpatterns: list = [
    path("kpis/", views_kpis.kpis, name="kpis"),
]
