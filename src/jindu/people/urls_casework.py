"""Pages of the people app: casework (included by jindu.people.urls)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
