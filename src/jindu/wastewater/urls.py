from django.urls import include, path

app_name = "wastewater"

# One module per area (one owner each), like the precursors app.
urlpatterns = [
    path("", include("jindu.wastewater.urls_outputs")),
    path("", include("jindu.wastewater.urls_imports")),
    path("", include("jindu.wastewater.urls_anomalies")),
]
