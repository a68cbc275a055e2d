"""易制毒化学品 (precursor chemicals): catalogue, permits, EPCIS ledgers, mass balance and diversion warnings."""
