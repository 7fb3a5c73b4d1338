//! kiln-learn: learners that fit models.
//!
//! A [`Learner`] holds hyperparameters and fits a separate [`Model`] (linfa's
//! `Fit` style), reporting each iteration to [`Callback`]s (early stopping,
//! progress, metric logging, pruning, cancellation). Every model saves to a
//! [`SavedModel`] and loads back to identical predictions.
//!
//! Invariants: no tracking store, no HTTP here. Labels are `f64`: class
//! indices `0..k` for classification, values for regression. Features come as a
//! column-major `f32` [`kiln_data::Matrix`].

pub mod baseline;
pub mod bundle;
pub mod callback;
pub mod ensemble;
pub mod eval;
pub mod learner;
pub mod lightgbm;
pub mod linear;
pub mod params;

pub use callback::{
    Callback, Callbacks, Cancel, Checkpoint, Control, EarlyStopping, FnCallback, History, IterationReport,
};
pub use learner::{load_model, LearnError, Learner, Model, Predictions, SavedModel, Task, TrainSet};
