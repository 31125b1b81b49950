//! Driver fingerprints: consistency, sector baselines and anomaly alerts (to be written).
