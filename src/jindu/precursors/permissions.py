"""Permission codes of the precursors app (易制毒化学品)."""

# Read the registry, ledgers, balances and warnings of the firms in one's jurisdiction (offices, police).
VIEW_PRECURSORS = "precursors.view_precursors"
# Register and change firms, parks and sites; decide applications (offices, police).
MANAGE_ENTERPRISES = "precursors.manage_enterprises"
# Keep the substance catalogue (the city office publishes catalogue changes).
MANAGE_CATALOGUE = "precursors.manage_catalogue"
# A firm's own user: read its own firm, capture its ledger events (EPCIS), file applications.
ACT_FOR_ENTERPRISE = "precursors.act_for_enterprise"
