from django.urls import include, path

app_name = "precursors"

urlpatterns = [
    path("", include("jindu.precursors.urls_ledger")),
    path("", include("jindu.precursors.urls_permits")),
    path("", include("jindu.precursors.urls_warnings")),
    path("", include("jindu.precursors.urls_inspections")),
    path("", include("jindu.precursors.urls_annual_reports")),
]
