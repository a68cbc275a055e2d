"""Pages of the precursors app: permits (included by urls.py)."""

urlpatterns: list = []
