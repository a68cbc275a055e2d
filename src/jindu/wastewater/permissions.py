"""Permission codes of the wastewater app (污水毒情监测)."""

# Read sites, samples, results, anomalies and rankings of one's jurisdiction (offices, police, the lab).
VIEW_WASTEWATER = "wastewater.view_wastewater"
# Register sampling sites, their served areas and population estimates (city and district offices).
MANAGE_SITES = "wastewater.manage_sites"
# Record samples and measurements, import lab files (the contracted lab; offices).
CAPTURE_SAMPLES = "wastewater.capture_samples"
# Add correction-factor sets and recompute results (the analysts: offices and the lab).
MANAGE_FACTORS = "wastewater.manage_factors"
# Review anomaly flags: confirm or dismiss them with a note (offices, police).
REVIEW_ANOMALIES = "wastewater.review_anomalies"
