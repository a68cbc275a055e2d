"""Wastewater pages: anomalies."""

from django.urls import path

from jindu.wastewater import views_anomalies

urlpatterns = [
    path("anomalies/", views_anomalies.anomaly_list, name="anomaly_list"),
    path("anomalies/run/", views_anomalies.anomaly_run, name="anomaly_run"),
    path("anomalies/<int:pk>/", views_anomalies.anomaly_detail, name="anomaly_detail"),
    path("anomalies/<int:pk>/review/", views_anomalies.anomaly_review, name="anomaly_review"),
]
