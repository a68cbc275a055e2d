from django.urls import include, path

from jindu.people import views

app_name = "people"

urlpatterns = [
    path("persons/", views.person_list, name="person_list"),
    path("persons/new/", views.person_register, name="person_register"),
    path("persons/<int:pk>/", views.person_detail, name="person_detail"),
    path("", include("jindu.people.urls_casework")),
    path("", include("jindu.people.urls_documents")),
    path("", include("jindu.people.urls_kpis")),
]
