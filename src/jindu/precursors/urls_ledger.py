"""Pages of the precursors app: ledgers and balances (included by urls.py)."""

from django.urls import path

from jindu.precursors import views_ledger

urlpatterns = [
    path("balances/", views_ledger.balances, name="balances"),
    path("enterprises/<int:pk>/ledger/", views_ledger.ledger, name="ledger"),
    path("ledger/upload/", views_ledger.ledger_upload_page, name="ledger_upload"),
    path("enterprises/<int:pk>/credit/", views_ledger.credit, name="credit"),
]
