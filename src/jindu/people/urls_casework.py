"""Pages of the people app: casework (included by jindu.people.urls)."""

from django.urls import path

from jindu.people import views_casework

urlpatterns = [
    path("caseloads/", views_casework.caseloads, name="caseloads"),
    path("workers/<str:username>/summary/", views_casework.worker_summary, name="worker_summary"),
    path("persons/<int:pk>/help/", views_casework.help_refer, name="help_refer"),
    path("help/<int:pk>/outcome/", views_casework.help_outcome, name="help_outcome"),
    path("persons/<int:pk>/assignment/", views_casework.worker_assign, name="worker_assign"),
]
