//! The model artifact: the fitted preprocessing and the model in one file,
//! so that scoring runs the same code path as training (training-serving parity).
//!
//! `kiln-model.json` holds a [`ModelBundle`]: a format marker and version, the
//! Kiln version that wrote it, the target and its classes, the input columns,
//! the fitted [`kiln_prep::FittedPipeline`], the [`SavedModel`], and the
//! metrics it was selected on. A file of another format version is refused
//! with a message naming both versions.

use std::collections::BTreeMap;

use kiln_data::Table;
use kiln_prep::FittedPipeline;
use serde::{Deserialize, Serialize};

use crate::learner::{load_model, LearnError, Model, Predictions, Result, SavedModel, Task};

/// The `format` field of every bundle.
pub const FORMAT: &str = "kiln-model";
/// The bundle layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The file name inside a model artifact folder.
pub const FILE_NAME: &str = "kiln-model.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelBundle {
    pub format: String,
    pub format_version: u32,
    /// The Kiln version that wrote it.
    pub kiln_version: String,
    /// The name the candidate had in the run (`lightgbm`, `logistic#2`, ...).
    pub name: String,
    pub target: String,
    pub task: Task,
    /// Class labels in index order (classification), as they appear in the data.
    pub classes: Vec<String>,
    pub prep: FittedPipeline,
    pub model: SavedModel,
    /// Metrics it was evaluated with (`valid_auc`, `test_auc`, ...).
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// The data fingerprint of the training table.
    #[serde(default)]
    pub data_fingerprint: String,
}

impl ModelBundle {
    pub fn new(
        name: &str,
        target: &str,
        task: Task,
        classes: Vec<String>,
        prep: FittedPipeline,
        model: SavedModel,
    ) -> ModelBundle {
        ModelBundle {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kiln_version: env!("CARGO_PKG_VERSION").into(),
            name: name.into(),
            target: target.into(),
            task,
            classes,
            prep,
            model,
            metrics: BTreeMap::new(),
            data_fingerprint: String::new(),
        }
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| LearnError::new(format!("serialising the model bundle: {e}")))
    }

    /// Reads a bundle; `source` names the file in errors. Checks the format
    /// and its version before anything else.
    pub fn from_json(bytes: &[u8], source: &str) -> Result<ModelBundle> {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| LearnError::new(format!("{source}: not a Kiln model file (not JSON: {e})")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(LearnError::new(format!(
                "{source}: not a Kiln model file (no \"format\": \"{FORMAT}\")"
            )));
        }
        let version = v.get("format_version").and_then(|f| f.as_u64()).unwrap_or(0);
        if version != FORMAT_VERSION as u64 {
            let by = v
                .get("kiln_version")
                .and_then(|f| f.as_str())
                .unwrap_or("an unknown version");
            let advice = if version > FORMAT_VERSION as u64 {
                "upgrade Kiln to load it"
            } else {
                "retrain it with this Kiln"
            };
            return Err(LearnError::new(format!(
                "{source}: model format version {version} (written by Kiln {by}); this Kiln ({}) reads format version {FORMAT_VERSION}: {advice}",
                env!("CARGO_PKG_VERSION")
            )));
        }
        serde_json::from_value(v).map_err(|e| LearnError::new(format!("{source}: malformed Kiln model file: {e}")))
    }

    /// The bundle ready to score.
    pub fn load(self) -> Result<LoadedBundle> {
        let model = load_model(&self.model)?;
        if model.features() != self.prep.feature_names() {
            return Err(LearnError::new(
                "model bundle is inconsistent: the model's features differ from the preprocessing's outputs",
            ));
        }
        Ok(LoadedBundle { bundle: self, model })
    }
}

/// A bundle with its model loaded.
pub struct LoadedBundle {
    pub bundle: ModelBundle,
    pub model: Box<dyn Model>,
}

impl LoadedBundle {
    /// Preprocesses raw rows with the fitted pipeline and predicts.
    pub fn predict(&self, table: &Table) -> Result<Predictions> {
        let x = self.bundle.prep.transform(table, None)?;
        self.model.predict(&x)
    }

    /// The label of a class index (classification).
    pub fn class_label(&self, index: usize) -> &str {
        self.bundle.classes.get(index).map(String::as_str).unwrap_or("")
    }
}
