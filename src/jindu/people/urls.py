from django.urls import include, path

from jindu.people import views

app_name = "people"

urlpatterns = [
    path("persons/", views.person_list, name="person_list"),
    path("persons/new/", views.person_register, name="person_register"),
    path("persons/<int:pk>/", views.person_detail, name="person_detail"),
    path("persons/<int:pk>/tests/", views.record_test, name="record_test"),
    path("persons/<int:pk>/contacts/", views.record_contact, name="record_contact"),
    path("persons/<int:pk>/actions/", views.person_actions, name="person_actions"),
    path("persons/<int:pk>/casework/", views.person_casework, name="person_casework"),
    path("persons/<int:pk>/actions/<slug:action>/", views.person_action, name="person_action"),
    path("worklist/", views.worklist, name="worklist"),
    path("", include("jindu.people.urls_casework")),
    path("", include("jindu.people.urls_documents")),
    path("", include("jindu.people.urls_kpis")),
]
