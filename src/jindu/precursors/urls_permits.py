"""Pages of the precursors app: online applications, permits and certificates (included by urls.py)."""

from django.urls import path

from jindu.precursors import views_permits as views

urlpatterns: list = [
    path("firm/", views.enterprise_home, name="enterprise_home"),
    path("enterprises/<int:pk>/", views.enterprise_detail, name="enterprise_detail"),
    path("applications/", views.application_list, name="application_list"),
    path("applications/new/", views.application_new, name="application_new"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("applications/<int:pk>/attachments/", views.attachment_upload, name="attachment_upload"),
    path(
        "applications/<int:pk>/attachments/<int:attachment_pk>/",
        views.attachment_download,
        name="attachment_download",
    ),
    *[
        path(
            f"applications/<int:pk>/{action}/",
            views.application_action,
            {"action": action},
            name=f"application_{action}",
        )
        for action in (*views.FIRM_ACTIONS, *views.OFFICE_ACTIONS)
    ],
    path("permits/", views.permit_list, name="permit_list"),
    path("permits/<int:pk>/", views.permit_detail, name="permit_detail"),
    path("permits/<int:pk>/certificate/", views.permit_certificate, name="permit_certificate"),
    path("permits/<int:pk>/revoke/", views.permit_revoke, name="permit_revoke"),
    path("verify/", views.verify_upload, name="permit_verify_upload"),
    path("verify/<str:token>/", views.permit_verify, name="permit_verify"),
]
