"""The one JSON API, under /api/v1, with OpenAPI at /api/v1/openapi.json and docs at /api/v1/docs.

Each domain app contributes one ninja Router from its ``api.py``; only this module imports them.
"""

from django.conf import settings
from ninja import NinjaAPI

from jindu import __version__
from jindu.core.apiutil import AUTH, install_error_handlers

api = NinjaAPI(
    title="Jindu API",
    version=__version__,
    description="禁毒综合治理平台 API. Authenticate with `POST /api/v1/auth/token`, then send "
    "`Authorization: Bearer <token>`. Errors always look like "
    '`{"error": {"code": ..., "message": ..., "fields": {...}}}`.',
    auth=AUTH,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)

api.add_router("/", "jindu.core.api.router")
api.add_router("/people/", "jindu.people.api.router")
api.add_router("/precursors/", "jindu.precursors.api.router")
api.add_router("/wastewater/", "jindu.wastewater.api.router")

# Extra routers named by settings (the test settings mount a test-only sample app here).
for prefix, router in getattr(settings, "JINDU_EXTRA_API_ROUTERS", []):
    api.add_router(prefix, router)
