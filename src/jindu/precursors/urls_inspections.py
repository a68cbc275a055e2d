"""Pages of inspections, rectification and penalties (included by urls.py)."""

from django.urls import path

from jindu.precursors import views_inspections as views

urlpatterns: list = [
    path("inspections/", views.inspection_list, name="inspection_list"),
    path("inspections/<int:pk>/", views.inspection_detail, name="inspection_detail"),
    path("inspections/<int:pk>/record/", views.inspection_record, name="inspection_record"),
    path("inspections/<int:pk>/penalty/", views.penalty_open, name="penalty_open"),
    path("findings/<int:pk>/photos/", views.finding_photo, name="finding_photo"),
    path("findings/<int:pk>/rectification/", views.rectification_order, name="rectification_order"),
    path("rectifications/", views.rectification_list, name="rectification_list"),
    path("rectifications/<int:pk>/submit/", views.rectification_submit, name="rectification_submit"),
    path("rectifications/<int:pk>/verify/", views.rectification_verify, name="rectification_verify"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence_download"),
    path("penalties/", views.penalty_list, name="penalty_list"),
    path("penalties/<int:pk>/decide/", views.penalty_decide, name="penalty_decide"),
]
