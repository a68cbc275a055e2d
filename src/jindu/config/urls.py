"""URL configuration: the UI at /, the API at /api/v1/, health at /healthz."""

from django.urls import include, path

from jindu.config.api import api
from jindu.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("jindu.core.urls")),
]
