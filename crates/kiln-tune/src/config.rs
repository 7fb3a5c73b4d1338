//! The `[tune]` section of `kiln.toml`, and search-space files.
//!
//! ```toml
//! [tune]
//! trials = 100                 # total for the study (all workers together)
//! timeout = 3600               # seconds (optional)
//! sampler = "tpe"              # or { kind = "gp", n_startup_trials = 8 }; default "auto"
//! pruner = "asha"              # or { kind = "median", n_startup_trials = 5 }; default "none"
//! direction = "maximize"       # or directions = ["maximize", "minimize"]
//! metric = "auc"               # or metrics = ["auc", "latency_ms"] (one per direction)
//! seed = 42
//! n_jobs = 4
//! study = "churn-tuning"       # optional: the study name
//! storage = "sqlite:///kiln.db" # optional: where the study lives
//!
//! [tune.space.lightgbm]        # parameters per model kind...
//! boosting = { choices = ["gbdt", "dart"] }
//! num_leaves = { int = [8, 256], log = true, when = { boosting = "gbdt" } }
//! learning_rate = { float = [0.005, 0.3], log = true }
//! bagging_fraction = { float = [0.5, 1.0], step = 0.1 }
//!
//! [tune.space]                 # ...or directly, for `kiln tune --objective-cmd`
//! x = { float = [-5, 10] }
//! ```
//!
//! A parameter is a table with exactly one of `float = [low, high]`,
//! `int = [low, high]` or `choices = [...]`, optional `log = true` (ranges
//! with low > 0), optional `step` (no log), and optional `when = { other =
//! value }` or `when = { other = [v1, v2] }`: the parameter exists only when
//! every named parameter (declared in the same table) has one of the values.
//! Unknown keys are errors.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{invalid, Result};
use crate::pruners::{de_pruner, PrunerConfig};
use crate::samplers::{de_sampler, SamplerConfig};
use crate::space::{OneOrMany, ParamDecl, ParamValue, SearchSpace};
use crate::trial::Direction;

/// The `[tune]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    pub trials: Option<u64>,
    /// Seconds.
    pub timeout: Option<f64>,
    #[serde(default, deserialize_with = "de_sampler")]
    pub sampler: Option<SamplerConfig>,
    #[serde(default, deserialize_with = "de_pruner")]
    pub pruner: Option<PrunerConfig>,
    pub direction: Option<String>,
    pub directions: Option<Vec<String>>,
    pub metric: Option<String>,
    pub metrics: Option<Vec<String>>,
    pub seed: Option<u64>,
    pub n_jobs: Option<usize>,
    pub study: Option<String>,
    pub storage: Option<String>,
    /// Model kind -> parameters, or parameters directly.
    #[serde(default)]
    pub space: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct Document {
    tune: Option<TuneConfig>,
}

fn is_param_table(v: &toml::Value) -> bool {
    v.as_table()
        .is_some_and(|t| t.contains_key("float") || t.contains_key("int") || t.contains_key("choices"))
}

fn decls_of(table: &toml::Value, what: &str) -> Result<BTreeMap<String, ParamDecl>> {
    let Some(t) = table.as_table() else {
        return Err(invalid(format!("{what} must be a table of parameters")));
    };
    let mut out = BTreeMap::new();
    for (name, v) in t {
        let d: ParamDecl = v
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| invalid(format!("{what}.{name}: {}", e.message())))?;
        out.insert(name.clone(), d);
    }
    Ok(out)
}

impl TuneConfig {
    /// Parses the `[tune]` section of a `kiln.toml` document (`source` names it in errors).
    pub fn from_toml_str(text: &str, source: &str) -> Result<TuneConfig> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(format!("{source}: {e}")))?;
        let tune = doc
            .get("tune")
            .cloned()
            .ok_or_else(|| invalid(format!("{source}: there is no [tune] section")))?;
        let wrapped = toml::Table::from_iter([("tune".to_string(), tune)]);
        let d: Document = toml::Value::Table(wrapped)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(format!("{source}: [tune]: {}", e.message())))?;
        let cfg = d.tune.unwrap_or_default();
        cfg.directions()
            .map_err(|e| invalid(format!("{source}: [tune]: {}", e.message)))?;
        cfg.metric_names()
            .map_err(|e| invalid(format!("{source}: [tune]: {}", e.message)))?;
        if cfg.trials == Some(0) {
            return Err(invalid(format!("{source}: [tune]: trials must be at least 1")));
        }
        if cfg.timeout.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
            return Err(invalid(format!(
                "{source}: [tune]: timeout must be a positive number of seconds"
            )));
        }
        if cfg.n_jobs == Some(0) {
            return Err(invalid(format!("{source}: [tune]: n_jobs must be at least 1")));
        }
        Ok(cfg)
    }

    /// Reads the `[tune]` section of a file.
    pub fn from_file(path: &Path) -> Result<TuneConfig> {
        let text =
            std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read '{}': {e}", path.display())))?;
        TuneConfig::from_toml_str(&text, &path.display().to_string())
    }

    /// The directions (`direction` or `directions`, not both; default minimize).
    pub fn directions(&self) -> Result<Vec<Direction>> {
        match (&self.direction, &self.directions) {
            (Some(_), Some(_)) => Err(invalid("give `direction` or `directions`, not both")),
            (Some(d), None) => Ok(vec![Direction::parse(d)?]),
            (None, Some(ds)) if ds.is_empty() => Err(invalid("`directions` must not be empty")),
            (None, Some(ds)) => ds.iter().map(|d| Direction::parse(d)).collect(),
            (None, None) => Ok(vec![Direction::Minimize]),
        }
    }

    /// The objective names (`metric` or `metrics`), one per direction, or empty for the defaults.
    pub fn metric_names(&self) -> Result<Vec<String>> {
        let n = self.directions()?.len();
        let names = match (&self.metric, &self.metrics) {
            (Some(_), Some(_)) => return Err(invalid("give `metric` or `metrics`, not both")),
            (Some(m), None) => vec![m.clone()],
            (None, Some(ms)) => ms.clone(),
            (None, None) => return Ok(Vec::new()),
        };
        if names.len() != n {
            return Err(invalid(format!(
                "{} metric name(s) for {n} direction(s): give one per direction",
                names.len()
            )));
        }
        Ok(names)
    }

    /// The model kinds with a `[tune.space.<kind>]` table.
    pub fn model_kinds(&self) -> Vec<String> {
        self.space
            .iter()
            .filter(|(_, v)| !is_param_table(v))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The space of one model kind (`[tune.space.<kind>]`).
    pub fn space_for(&self, kind: &str) -> Result<SearchSpace> {
        let t = self
            .space
            .get(kind)
            .filter(|v| !is_param_table(v))
            .ok_or_else(|| invalid(format!("[tune.space.{kind}] is not declared")))?;
        SearchSpace::from_decls(&decls_of(t, &format!("[tune.space.{kind}]"))?)
    }

    /// The space for tuning a training config's models: with one model kind,
    /// that kind's parameters as they are; with several, a categorical
    /// `model` parameter choosing the kind and every kind's parameters named
    /// `<kind>.<param>`, each existing only when `model` is its kind.
    /// Returns the space and the kinds (in name order).
    pub fn model_space(&self) -> Result<(SearchSpace, Vec<String>)> {
        let kinds = self.model_kinds();
        if self.space.iter().any(|(_, v)| is_param_table(v)) {
            return Err(invalid(
                "[tune.space] declares parameters directly; to tune a training config, group them by model kind: [tune.space.lightgbm]",
            ));
        }
        match kinds.len() {
            0 => Err(invalid(
                "[tune.space] names no model kind: add [tune.space.<kind>] (e.g. lightgbm)",
            )),
            1 => Ok((self.space_for(&kinds[0])?, kinds)),
            _ => {
                let mut all: BTreeMap<String, ParamDecl> = BTreeMap::new();
                all.insert(
                    "model".into(),
                    ParamDecl {
                        float: None,
                        int: None,
                        choices: Some(kinds.iter().map(|k| ParamValue::from(k.as_str())).collect()),
                        log: None,
                        step: None,
                        when: None,
                    },
                );
                for kind in &kinds {
                    let what = format!("[tune.space.{kind}]");
                    for (name, mut d) in decls_of(&self.space[kind], &what)? {
                        let mut when: BTreeMap<String, OneOrMany> = d
                            .when
                            .take()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (format!("{kind}.{k}"), v))
                            .collect();
                        when.insert("model".into(), OneOrMany::One(ParamValue::from(kind.as_str())));
                        d.when = Some(when);
                        all.insert(format!("{kind}.{name}"), d);
                    }
                }
                Ok((SearchSpace::from_decls(&all)?, kinds))
            }
        }
    }

    /// The parameters declared directly under `[tune.space]`, or the only model kind's.
    pub fn flat_space(&self) -> Result<SearchSpace> {
        let direct: toml::Table = self
            .space
            .iter()
            .filter(|(_, v)| is_param_table(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let kinds = self.model_kinds();
        match (direct.is_empty(), kinds.len()) {
            (false, 0) => SearchSpace::from_decls(&decls_of(&toml::Value::Table(direct), "[tune.space]")?),
            (true, 1) => self.space_for(&kinds[0]),
            (true, 0) => Err(invalid("[tune.space] declares no parameters")),
            _ => Err(invalid(format!(
                "[tune.space] mixes parameters and model kinds ({}): say which model kind to tune",
                kinds.join(", ")
            ))),
        }
    }
}

/// Reads a search space from a file: JSON (`{"x": {"float": [0, 1]}}`), or
/// TOML with the parameters at the top level or in a `[tune.space]` section.
pub fn load_space_file(path: &Path) -> Result<SearchSpace> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read '{}': {e}", path.display())))?;
    let shown = path.display().to_string();
    let wrap = |e: crate::error::TuneError| invalid(format!("{shown}: {}", e.message));
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(format!("{shown}: {e}")))?;
        return SearchSpace::from_json(&v).map_err(wrap);
    }
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| invalid(format!("{shown}: {e}")))?;
    if doc.contains_key("tune") {
        return TuneConfig::from_toml_str(&text, &shown)?.flat_space().map_err(wrap);
    }
    SearchSpace::from_decls(&decls_of(&toml::Value::Table(doc), "space").map_err(wrap)?).map_err(wrap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samplers::SamplerKind;

    const GOOD: &str = r#"
[data]
source = "x.csv"

[tune]
trials = 50
sampler = { kind = "gp", n_startup_trials = 8 }
pruner = "asha"
direction = "maximize"
metric = "auc"
seed = 3

[tune.space.lightgbm]
boosting = { choices = ["gbdt", "dart"] }
num_leaves = { int = [8, 256], log = true, when = { boosting = "gbdt" } }
learning_rate = { float = [0.005, 0.3], log = true }
"#;

    #[test]
    fn parses_the_tune_section() {
        let c = TuneConfig::from_toml_str(GOOD, "kiln.toml").unwrap();
        assert_eq!(c.trials, Some(50));
        assert_eq!(c.sampler.as_ref().unwrap().kind, SamplerKind::Gp);
        assert_eq!(c.sampler.as_ref().unwrap().n_startup_trials, Some(8));
        assert_eq!(c.directions().unwrap(), vec![Direction::Maximize]);
        assert_eq!(c.model_kinds(), vec!["lightgbm".to_string()]);
        let s = c.space_for("lightgbm").unwrap();
        assert_eq!(s.params.len(), 3);
        assert_eq!(c.flat_space().unwrap(), s);
        assert!(c.space_for("xgboost").is_err());
    }

    #[test]
    fn bad_sections_name_the_problem() {
        let cases = [
            ("[tune]\ntrials = 5\nsampler = \"bogus\"\n", "unknown sampler 'bogus'"),
            ("[tune]\ntrails = 5\n", "unknown field `trails`"),
            ("[tune]\ndirection = \"up\"\n", "minimize or maximize"),
            ("[tune]\ndirection = \"min\"\ndirections = [\"min\"]\n", "not both"),
            (
                "[tune]\ndirections = [\"min\", \"max\"]\nmetric = \"auc\"\n",
                "one per direction",
            ),
            ("[tune]\ntrials = 0\n", "at least 1"),
            (
                "[tune]\npruner = { kind = \"median\", percentil = 3 }\n",
                "unknown field `percentil`",
            ),
            ("[tune.space.m]\nx = { float = [1, 0] }\n", "must not be greater"),
            (
                "[tune.space]\nx = { float = [0, 1], lg = true }\n",
                "unknown field `lg`",
            ),
            ("[data]\nx = 1\n", "no [tune] section"),
            ("[tune\n", "kiln.toml"),
        ];
        for (text, want) in cases {
            let r = TuneConfig::from_toml_str(text, "kiln.toml").and_then(|c| c.flat_space().map(|_| c));
            let e = r.unwrap_err();
            assert!(e.message.contains(want), "{text:?}: {}", e.message);
        }
    }
}
