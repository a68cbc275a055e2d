"""Pages of the wastewater app: lab-file import, correction-factor sets, international comparison."""

from django.urls import path

from jindu.wastewater import views_imports

urlpatterns = [
    path("import/", views_imports.import_page, name="import"),
    path("import/template.<str:kind>", views_imports.import_template, name="import_template"),
    path("imports/<int:pk>/", views_imports.import_detail, name="import_detail"),
    path("cf-sets/", views_imports.cf_set_list, name="cf_set_list"),
    path("cf-sets/new/", views_imports.cf_set_create, name="cf_set_create"),
    path("cf-sets/<int:pk>/", views_imports.cf_set_detail, name="cf_set_detail"),
    path("comparison/", views_imports.comparison, name="comparison"),
]
