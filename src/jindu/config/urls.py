"""URL configuration: the UI at /, the API at /api/v1/, health at /healthz."""

from django.urls import include, path, re_path

from jindu.config.api import api
from jindu.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    re_path(r"^api/v1/.*$", core_views.api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("people/", include("jindu.people.urls")),
    path("precursors/", include("jindu.precursors.urls")),
    path("wastewater/", include("jindu.wastewater.urls")),
    path("", include("jindu.core.urls")),
]
