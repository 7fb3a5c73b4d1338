//! kiln-train: the training pipeline from a `kiln.toml` to a registered model.
//!
//! ingest (kiln-data) -> validate -> fingerprint/profile -> split -> prep
//! (kiln-prep, fitted on train) -> learn (kiln-learn) -> evaluate
//! (kiln-metrics) -> track (a store or an MLflow server) -> register.
//!
//! Invariants: no HTTP serving here (that is kiln-server); the tracker is the
//! only way out to the store; everything a run needs to be reproduced (config,
//! seed, data fingerprint, Kiln version, git commit) is logged with it.

pub mod candidates;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod pipeline;
pub mod plots;
pub mod tracking;
pub mod tune;
