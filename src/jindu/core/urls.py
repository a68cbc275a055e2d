from django.urls import path

from jindu.core import views

app_name = "core"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("login/", views.login_view, name="login"),
    path("login/setup/", views.first_login, name="first_login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("orgunits/", views.orgunit_list, name="orgunit_list"),
    path("orgunits/import/", views.orgunit_import, name="orgunit_import"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    path("break-glass/", views.break_glass, name="break_glass"),
    path("audit/", views.audit_list, name="audit_list"),
    path("security/", views.security, name="security"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
]
