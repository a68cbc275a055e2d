"""Test URLconf: the real URLs plus the sample app's API and pages."""

from django.urls import path

from jindu.config.urls import urlpatterns as real_urlpatterns

from . import views

urlpatterns = [
    path("sample/records/", views.record_list, name="sample_record_list"),
    path("sample/records/<int:pk>/", views.record_detail, name="sample_record_detail"),
    path("sample/protected/<int:pk>/", views.protected_detail, name="sample_protected_detail"),
    *real_urlpatterns,
]
