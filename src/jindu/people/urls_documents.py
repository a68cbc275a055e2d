"""Pages of the people app: 一人一档, the case file documents (included by jindu.people.urls)."""

from django.urls import path

from jindu.people import views_documents

urlpatterns: list = [
    path("persons/<int:pk>/documents/", views_documents.person_documents, name="person_documents"),
    path("persons/<int:pk>/documents/generate/", views_documents.document_generate, name="document_generate"),
    path("persons/<int:pk>/documents/upload/", views_documents.document_upload, name="document_upload"),
    path("persons/<int:pk>/archive/", views_documents.person_archive, name="person_archive"),
    path("documents/<int:pk>/content/", views_documents.document_content, name="document_content"),
]
