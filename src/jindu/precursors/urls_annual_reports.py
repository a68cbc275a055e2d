"""Pages of the annual reports (included by urls.py)."""

from django.urls import path

from jindu.precursors import views_annual_reports as views

urlpatterns: list = [
    path("annual-reports/", views.annual_report_list, name="annual_report_list"),
    path("annual-reports/submit/<int:year>/", views.annual_report_form, name="annual_report_form"),
    path("annual-reports/<int:pk>/", views.annual_report_detail, name="annual_report_detail"),
    path("annual-reports/<int:pk>/review/", views.annual_report_review, name="annual_report_review"),
    path("annual-reports/<int:pk>/files/", views.annual_report_file_upload, name="annual_report_file_upload"),
    path(
        "annual-reports/<int:pk>/files/<int:file_pk>/",
        views.annual_report_file_download,
        name="annual_report_file_download",
    ),
]
