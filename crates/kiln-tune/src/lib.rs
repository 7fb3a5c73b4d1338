//! kiln-tune: hyperparameter optimisation.
//!
//! * [`space`]: distributions and declared spaces (with conditions);
//! * [`samplers`]: random, grid, Sobol, TPE, GP (EI / UCB), CMA-ES, NSGA-II, auto;
//! * [`pruners`]: median, percentile, successive halving, ASHA, Hyperband;
//! * [`pbt`]: population-based training;
//! * [`study`]: define-by-run trials, ask-and-tell, parallel `optimize`;
//! * [`storage`]: in-memory and SQL (kiln-store: SQLite / PostgreSQL) storages;
//! * [`importance`], [`plots`], [`report`]: results (fANOVA importances, SVG plots, tables, TOML);
//! * [`config`]: the `[tune]` section of `kiln.toml`.
//!
//! Invariants: no HTTP and no training code here (the server and the training
//! pipeline build on this crate); samplers are deterministic given the study
//! seed and the trials they see.

// Numeric code: index loops walk several arrays in step, and `!(x > 0.0)`
// deliberately counts NaN as failing the test.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod config;
pub mod error;
pub mod importance;
pub mod linalg;
pub mod pareto;
pub mod pbt;
pub mod plots;
pub mod pruners;
pub mod report;
pub mod rng;
pub mod samplers;
pub mod space;
pub mod stats;
pub mod storage;
pub mod study;
pub mod trial;

pub use error::{Result, TuneError};
pub use pruners::{Pruner, PrunerConfig, PrunerKind};
pub use samplers::{Sampler, SamplerConfig, SamplerKind};
pub use space::{Distribution, ParamDecl, ParamValue, SearchSpace};
pub use storage::{MemoryStorage, SqlStorage, Storage};
pub use study::{Objective, OptimizeOptions, Outcome, Study, StudyOptions, Trial, TrialError, TrialHandle, Values};
pub use trial::{Direction, FrozenTrial, TrialState};
