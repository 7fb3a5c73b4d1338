//! `kiln.toml`: what `kiln train` does, in one file.
//!
//! ```toml
//! seed = 42                           # same data + config + seed -> same models, bit for bit
//!
//! [data]
//! source = "data/churn.csv"           # a file, a folder or a glob; CSV, NDJSON/JSON, Parquet, Avro
//! target = "churned"                  # the column to predict
//! task = "binary"                     # binary | multiclass | regression | auto (default auto)
//! # contract = "churn.contract.toml"  # optional data contract (see `kiln data infer`)
//! # features = ["tenure", "plan"]     # default: every column but the target, id and dropped ones
//! # drop = ["customer_id"]            # columns never used as features
//! # dedup = "rows"                    # "rows", or a list of key columns: ["customer_id"]
//! # weight = "w"                      # optional per-row weight column
//! # [data.csv]                        # CSV reading options
//! # delimiter = ","
//! # has_header = true
//! # null_values = ["", "NA"]
//! # [data.types]                      # override inferred column types
//! # zip = "string"
//!
//! [split]
//! scheme = "stratified"               # random | stratified | group | time (default: stratified
//!                                     # for classification, random for regression)
//! valid = 0.15                        # fraction for validation (0: none)
//! test = 0.15                         # fraction held out for the final test
//! # folds = 5                         # k-fold CV on train+valid instead of one valid split
//! # group = "customer_id"             # scheme = "group": no group in two splits
//! # time = "signup_date"              # scheme = "time": train before valid before test
//!
//! [prep]                              # see kiln-prep: impute, encode, scale, transforms, derive
//! impute = "median"
//! encode = "onehot"
//!
//! [[model]]                           # one table per candidate; `kind` picks the learner
//! kind = "lightgbm"                   # lightgbm | random_forest | logistic | linear | majority |
//! rounds = 500                        # mean | stratified | rule | voting | stacking
//! learning_rate = 0.1
//! num_leaves = 31
//! early_stopping = 50
//!
//! [[model]]
//! kind = "logistic"
//!
//! [select]
//! metric = "auc"                      # the metric that picks the winner (default by task)
//! baselines = true                    # also train the floor: majority/mean, stratified, one rule
//!
//! [track]
//! uri = "sqlite:///kiln.db"           # a store, or http://host:5000 (kiln server or mlflow server)
//! artifacts = "./kiln-artifacts"      # embedded store only: where artifacts go
//! experiment = "churn"
//! register = "churn-model"            # register the winner as a new version of this model
//! alias = "champion"                  # and point this alias at it
//!
//! [tune]                              # for `kiln tune kiln.toml` (see kiln-tune)
//! trials = 50
//! sampler = "tpe"
//! pruner = "median"                   # prunes LightGBM by boosting round
//! [tune.space.lightgbm]
//! num_leaves = { int = [8, 256], log = true }
//! learning_rate = { float = [0.005, 0.3], log = true }
//! ```
//!
//! Unknown keys and wrong types are errors that name the key and its line.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use toml::Spanned;

/// The whole `kiln.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed for splits, preprocessing folds, learners.
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub data: DataConfig,
    #[serde(default)]
    pub split: SplitConfig,
    #[serde(default)]
    pub prep: kiln_prep::PrepConfig,
    /// The candidates, `[[model]]` tables.
    #[serde(default, rename = "model")]
    pub models: Vec<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    pub select: SelectConfig,
    #[serde(default)]
    pub track: TrackConfig,
    /// `[tune]`: what `kiln tune kiln.toml` searches (see kiln-tune's config).
    #[serde(default)]
    pub tune: Option<kiln_tune::config::TuneConfig>,
}

fn default_seed() -> u64 {
    42
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub task: TaskName,
    pub contract: Option<String>,
    pub format: Option<String>,
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub drop: Vec<String>,
    pub dedup: Option<Dedup>,
    pub weight: Option<String>,
    #[serde(default)]
    pub csv: CsvConfig,
    /// Column type overrides: `int`, `float`, `string`, `bool`, `date`, `timestamp`.
    #[serde(default)]
    pub types: BTreeMap<String, String>,
}

/// `task = ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskName {
    #[default]
    Auto,
    Binary,
    Multiclass,
    Regression,
}

/// `dedup = "rows"` or `dedup = ["key", ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Dedup {
    Rows(DedupRows),
    Key(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupRows {
    Rows,
}

/// `[data.csv]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub has_header: Option<bool>,
    pub null_values: Option<Vec<String>>,
}

/// `[split]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    pub scheme: Option<SplitScheme>,
    #[serde(default = "default_fraction")]
    pub valid: f64,
    #[serde(default = "default_fraction")]
    pub test: f64,
    pub folds: Option<usize>,
    pub group: Option<String>,
    pub time: Option<String>,
}

fn default_fraction() -> f64 {
    0.15
}

impl Default for SplitConfig {
    fn default() -> SplitConfig {
        SplitConfig {
            scheme: None,
            valid: 0.15,
            test: 0.15,
            folds: None,
            group: None,
            time: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitScheme {
    Random,
    Stratified,
    Group,
    Time,
}

/// `[select]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectConfig {
    pub metric: Option<String>,
    #[serde(default = "yes")]
    pub baselines: bool,
}

fn yes() -> bool {
    true
}

impl Default for SelectConfig {
    fn default() -> SelectConfig {
        SelectConfig {
            metric: None,
            baselines: true,
        }
    }
}

/// `[track]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackConfig {
    pub uri: Option<String>,
    pub artifacts: Option<String>,
    pub experiment: Option<String>,
    pub register: Option<String>,
    pub alias: Option<String>,
    pub run_name: Option<String>,
}

/// One `[[model]]` table, read: its kind, its hyperparameters as JSON, and
/// the line of each key (for error messages).
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub kind: String,
    /// 1-based line of the `[[model]]` table.
    pub line: usize,
    pub params: BTreeMap<String, serde_json::Value>,
    pub key_lines: BTreeMap<String, usize>,
}

/// A loaded config and the text it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: TrainConfig,
    pub models: Vec<ModelSpec>,
    /// Where it was read from (for messages), and its text (logged as an artifact).
    pub path: String,
    pub text: String,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect())
        }
    }
}

impl LoadedConfig {
    /// Parses config text; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<LoadedConfig> {
        let config: TrainConfig = toml::from_str(text).map_err(|e| anyhow!("{path}: {e}"))?;
        let mut models = Vec::new();
        for m in &config.models {
            let line = line_of(text, m.span().start);
            let table = m.get_ref();
            let kind = match table.get("kind").map(|v| v.get_ref()) {
                Some(toml::Value::String(k)) => k.clone(),
                Some(other) => bail!(
                    "{path}, line {}: [[model]] kind must be a string, got {other}",
                    line_of(text, table["kind"].span().start)
                ),
                None => bail!(
                    "{path}, line {line}: [[model]] needs a `kind` (lightgbm, random_forest, logistic, linear, ...)"
                ),
            };
            let mut params = BTreeMap::new();
            let mut key_lines = BTreeMap::new();
            for (k, v) in table {
                if k == "kind" {
                    continue;
                }
                key_lines.insert(k.clone(), line_of(text, v.span().start));
                params.insert(k.clone(), toml_to_json(v.get_ref()));
            }
            models.push(ModelSpec {
                kind,
                line,
                params,
                key_lines,
            });
        }
        let loaded = LoadedConfig {
            config,
            models,
            path: path.to_string(),
            text: text.to_string(),
        };
        loaded.check()?;
        Ok(loaded)
    }

    /// Reads and parses a config file.
    pub fn load(path: &str) -> Result<LoadedConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("reading the config {path}: {e}"))?;
        LoadedConfig::parse(path, &text)
    }

    /// An error about a model's key, with the key's line when it can be found
    /// in the message (`... 'num_leafs' ...`).
    pub fn model_error(&self, index: usize, message: &str) -> anyhow::Error {
        let spec = &self.models[index];
        let line = spec
            .key_lines
            .iter()
            .find(|(k, _)| message.contains(&format!("'{k}'")))
            .map(|(_, l)| *l)
            .unwrap_or(spec.line);
        anyhow!("{}, line {line}: {message}", self.path)
    }

    /// Checks what serde cannot: fractions, scheme requirements.
    fn check(&self) -> Result<()> {
        let s = &self.config.split;
        let p = &self.path;
        for (name, v) in [("valid", s.valid), ("test", s.test)] {
            if !(0.0..1.0).contains(&v) {
                bail!("{p}: [split] {name} must be a fraction in [0, 1), got {v}");
            }
        }
        if s.valid + s.test >= 0.95 {
            bail!(
                "{p}: [split] valid + test = {} leaves too little for training (at most 0.95)",
                s.valid + s.test
            );
        }
        if let Some(k) = s.folds {
            if !(2..=100).contains(&k) {
                bail!("{p}: [split] folds must be between 2 and 100, got {k}");
            }
        }
        match s.scheme {
            Some(SplitScheme::Group) if s.group.is_none() => {
                bail!("{p}: [split] scheme = \"group\" needs `group = \"<column>\"`")
            }
            Some(SplitScheme::Time) if s.time.is_none() => {
                bail!("{p}: [split] scheme = \"time\" needs `time = \"<column>\"`")
            }
            _ => {}
        }
        if self.config.data.target.trim().is_empty() {
            bail!("{p}: [data] target must name a column");
        }
        if self.models.is_empty() && !self.config.select.baselines {
            bail!("{p}: no [[model]] tables and baselines = false: nothing to train");
        }
        if let Some(d) = &self.config.data.csv.delimiter {
            if d.len() != 1 {
                bail!("{p}: [data.csv] delimiter must be one character, got {d:?}");
            }
        }
        if let Some(q) = &self.config.data.csv.quote {
            if q.len() != 1 {
                bail!("{p}: [data.csv] quote must be one character, got {q:?}");
            }
        }
        if let Err(e) = self.config.prep.validate() {
            bail!("{p}: {e}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
seed = 7
[data]
source = "d.csv"
target = "y"
task = "binary"

[split]
valid = 0.2
test = 0.1

[[model]]
kind = "lightgbm"
num_leaves = 15
learning_rate = 0.05

[[model]]
kind = "logistic"

[track]
experiment = "e"
register = "m"
"#;

    #[test]
    fn parses_a_full_config() {
        let c = LoadedConfig::parse("kiln.toml", GOOD).unwrap();
        assert_eq!(c.config.seed, 7);
        assert_eq!(c.config.data.task, TaskName::Binary);
        assert_eq!(c.models.len(), 2);
        assert_eq!(c.models[0].kind, "lightgbm");
        assert_eq!(c.models[0].params["num_leaves"], serde_json::json!(15));
        assert_eq!(c.models[0].key_lines["num_leaves"], 14);
        assert_eq!(c.models[0].line, 12);
        assert!(c.config.select.baselines);
        assert_eq!(c.config.split.valid, 0.2);
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key_and_line() {
        let bad = GOOD.replace("valid = 0.2", "vaild = 0.2");
        let e = LoadedConfig::parse("kiln.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("vaild") && e.contains("line 9"), "{e}");

        let bad = GOOD.replace("seed = 7", "seed = \"seven\"");
        let e = LoadedConfig::parse("kiln.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("seed") && e.contains("line 2"), "{e}");

        let bad = GOOD.replace("task = \"binary\"", "task = \"clustering\"");
        let e = LoadedConfig::parse("kiln.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("clustering") && e.contains("line 6"), "{e}");

        let c = LoadedConfig::parse("kiln.toml", GOOD).unwrap();
        let e = c
            .model_error(0, "model 'lightgbm': unknown hyperparameter 'learning_rate'")
            .to_string();
        assert_eq!(
            e,
            "kiln.toml, line 15: model 'lightgbm': unknown hyperparameter 'learning_rate'"
        );
        let e = c.model_error(1, "something else").to_string();
        assert!(e.starts_with("kiln.toml, line 17:"), "{e}");
    }

    #[test]
    fn semantic_checks() {
        let bad = GOOD.replace("test = 0.1", "test = 0.8");
        let e = LoadedConfig::parse("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("too little for training"), "{e}");
        let bad = GOOD.replace("test = 0.1", "test = 0.1\nscheme = \"group\"");
        let e = LoadedConfig::parse("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("needs `group"), "{e}");
        let bad = GOOD.replace("kind = \"logistic\"", "kind = 3");
        let e = LoadedConfig::parse("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("kind must be a string"), "{e}");
        let bad = GOOD.replace("kind = \"logistic\"", "l2 = 1.0");
        let e = LoadedConfig::parse("k.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("line 17") && e.contains("needs a `kind`"), "{e}");
        let dedup = GOOD.replace("task = \"binary\"", "task = \"binary\"\ndedup = [\"id\"]");
        let c = LoadedConfig::parse("k.toml", &dedup).unwrap();
        assert_eq!(c.config.data.dedup, Some(Dedup::Key(vec!["id".into()])));
        let dedup = GOOD.replace("task = \"binary\"", "task = \"binary\"\ndedup = \"rows\"");
        let c = LoadedConfig::parse("k.toml", &dedup).unwrap();
        assert_eq!(c.config.data.dedup, Some(Dedup::Rows(DedupRows::Rows)));
    }
}
