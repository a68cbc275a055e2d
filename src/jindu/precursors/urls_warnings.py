"""Pages of the precursors app: warnings (included by urls.py)."""

urlpatterns: list = []
