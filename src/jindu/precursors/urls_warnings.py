"""Pages of the precursors app: warnings (included by urls.py)."""

from django.urls import path

from jindu.precursors import views_warnings

urlpatterns = [
    path("warnings/", views_warnings.warning_list, name="warning_list"),
    path("warnings/precision/", views_warnings.warning_precision, name="warning_precision"),
    path("warnings/<int:pk>/", views_warnings.warning_detail, name="warning_detail"),
    path("warnings/<int:pk>/assign/", views_warnings.warning_assign, name="warning_assign"),
    path("warnings/<int:pk>/verify/", views_warnings.warning_verify, name="warning_verify"),
    path("warnings/<int:pk>/close/", views_warnings.warning_close, name="warning_close"),
    path("warnings/<int:pk>/events/<int:event_id>/", views_warnings.warning_event, name="warning_event"),
]
