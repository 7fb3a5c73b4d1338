//! `PrepConfig`: the `[prep]` section of `kiln.toml` (documented with an
//! example in the crate docs), its per-column overrides, and its checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use kiln_data::{DataError, Result};

/// How missing values are filled.
///
/// For numeric columns every strategy applies; for categorical columns only
/// `most_frequent`, `constant` and `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// The mean of the training values.
    Mean,
    /// The median of the training values.
    Median,
    /// The most frequent training value (ties: the smallest number, or the
    /// first category in byte order).
    MostFrequent,
    /// `fill_value` (numeric columns) or `fill_category` (categorical columns).
    Constant,
    /// Leave missing values missing: NaN for numbers; for categories, an
    /// all-zero one-hot row, or NaN for ordinal and target encodings.
    None,
}

/// How categorical columns become numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One 0/1 column per category for the `max_categories` most frequent
    /// ones; if there are more, one more column `<col>=__other__` for the rest.
    #[serde(alias = "one_hot")]
    Onehot,
    /// One column: the category's position in byte order (0, 1, ...).
    Ordinal,
    /// The smoothed mean of the target per category, out-of-fold on the
    /// training rows (see the crate docs).
    Target,
}

/// How numeric features are scaled (after imputation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `(x - mean) / std` (population standard deviation).
    Standard,
    /// `(x - min) / (max - min)`.
    #[serde(alias = "min_max")]
    Minmax,
    /// `(x - median) / (q75 - q25)`.
    Robust,
    /// Unscaled.
    None,
}

/// A transform of a numeric feature (after clipping, before imputation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    None,
    /// `ln(1 + x)`; needs `x > -1`.
    Log1p,
    /// Box-Cox with lambda fitted by maximum likelihood; needs `x > 0`.
    #[serde(alias = "boxcox", alias = "box-cox")]
    BoxCox,
    /// Yeo-Johnson with lambda fitted by maximum likelihood; any `x`.
    #[serde(alias = "yeojohnson", alias = "yeo-johnson")]
    YeoJohnson,
}

/// What happens to date and timestamp columns listed as features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePolicy {
    /// Expanded to `<col>__year`, `__month`, `__day`, `__weekday` (and
    /// `__hour` for timestamps), each a numeric feature.
    Parts,
    /// Left out (derived columns can still use them: `year(col)`).
    Drop,
}

/// What `transform` does with a category not seen in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnseenPolicy {
    /// One-hot: the `__other__` column if there is one, else all zeros;
    /// ordinal: NaN; target: the training prior.
    Ignore,
    /// An error naming the column, row and value.
    Error,
}

/// What `transform` does when an input column is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingColumns {
    /// An error naming the column.
    Error,
    /// Every value of the column is missing (and imputed as configured).
    Missing,
}

/// Whether a column is used as a number or as a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers as numbers; booleans as 0/1.
    Numeric,
    /// Strings, booleans, or numbers as categories (`3` and `3.0` are both "3").
    Categorical,
}

/// Lower and upper bounds; either may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bounds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A derived column: a name and an expression over the input columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedColumn {
    pub name: String,
    pub expr: String,
}

/// Per-column settings (`[prep.columns.<name>]`); anything left out comes
/// from the `[prep]` defaults. `<name>` is a feature: an input column, a
/// derived column, or a date part such as `signup__month`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ColumnKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impute: Option<Impute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_indicator: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encode: Option<Encoding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_categories: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_smoothing: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scaling>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<Bounds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_quantiles: Option<Bounds>,
}

/// The `[prep]` section of `kiln.toml`. Every field has a default; see the
/// crate docs for a commented example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrepConfig {
    /// Numeric imputation (default `median`).
    pub impute: Impute,
    /// The numeric constant for `impute = "constant"` (default 0).
    pub fill_value: f64,
    /// Categorical imputation (default `constant`: missing is its own category).
    pub impute_categorical: Impute,
    /// The category for `impute_categorical = "constant"` (default `__missing__`).
    pub fill_category: String,
    /// Add a 0/1 column `<col>__missing` for each feature that had missing
    /// values in the training rows (default false).
    pub missing_indicator: bool,
    /// Categorical encoding (default `onehot`).
    pub encode: Encoding,
    /// One-hot keeps this many most frequent categories (default 20).
    pub max_categories: usize,
    /// Target encoding: the weight `m` of the prior in
    /// `(sum + m * prior) / (count + m)` (default 10).
    pub target_smoothing: f64,
    /// Target encoding: folds for the out-of-fold training values (default 5).
    pub target_folds: usize,
    /// Numeric scaling (default `none`).
    pub scale: Scaling,
    /// Numeric transform (default `none`).
    pub transform: Transform,
    /// Fixed clipping bounds for numeric features (default none).
    pub clip: Option<Bounds>,
    /// Clipping at training quantiles, e.g. `{ min = 0.01, max = 0.99 }` (default none).
    pub clip_quantiles: Option<Bounds>,
    /// Date and timestamp features (default `parts`).
    pub dates: DatePolicy,
    /// Unseen categories at transform time (default `ignore`).
    pub unseen: UnseenPolicy,
    /// Absent input columns at transform time (default `error`).
    pub missing_columns: MissingColumns,
    /// Columns left out of the features (they can still feed derived columns).
    pub drop: Vec<String>,
    /// Per-column settings.
    pub columns: BTreeMap<String, ColumnConfig>,
    /// Derived columns, in order; each may use the ones before it.
    pub derive: Vec<DerivedColumn>,
}

impl Default for PrepConfig {
    fn default() -> PrepConfig {
        PrepConfig {
            impute: Impute::Median,
            fill_value: 0.0,
            impute_categorical: Impute::Constant,
            fill_category: "__missing__".to_string(),
            missing_indicator: false,
            encode: Encoding::Onehot,
            max_categories: 20,
            target_smoothing: 10.0,
            target_folds: 5,
            scale: Scaling::None,
            transform: Transform::None,
            clip: None,
            clip_quantiles: None,
            dates: DatePolicy::Parts,
            unseen: UnseenPolicy::Ignore,
            missing_columns: MissingColumns::Error,
            drop: Vec::new(),
            columns: BTreeMap::new(),
            derive: Vec::new(),
        }
    }
}

/// The settings of one numeric feature, defaults and overrides merged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumericOptions {
    pub impute: Impute,
    pub fill_value: f64,
    pub missing_indicator: bool,
    pub scale: Scaling,
    pub transform: Transform,
    pub clip: Option<Bounds>,
    pub clip_quantiles: Option<Bounds>,
}

/// The settings of one categorical feature, defaults and overrides merged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CategoricalOptions {
    pub impute: Impute,
    pub fill_category: String,
    pub missing_indicator: bool,
    pub encode: Encoding,
    pub max_categories: usize,
    pub target_smoothing: f64,
    pub target_folds: usize,
}

fn config_error(field: &str, message: impl std::fmt::Display) -> DataError {
    DataError::msg(format!("[prep] {field}: {message}"))
}

fn check_finite(field: &str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(config_error(field, format!("expected a finite number, found {v}")))
    }
}

fn check_bounds(field: &str, b: &Bounds, unit_interval: bool) -> Result<()> {
    for v in [b.min, b.max].into_iter().flatten() {
        check_finite(field, v)?;
        if unit_interval && !(0.0..=1.0).contains(&v) {
            return Err(config_error(field, format!("quantiles are between 0 and 1, found {v}")));
        }
    }
    if let (Some(lo), Some(hi)) = (b.min, b.max) {
        if lo > hi {
            return Err(config_error(field, format!("min {lo} is above max {hi}")));
        }
    }
    Ok(())
}

fn check_clip(prefix: &str, clip: Option<&Bounds>, quantiles: Option<&Bounds>) -> Result<()> {
    if let Some(b) = clip {
        check_bounds(&format!("{prefix}clip"), b, false)?;
    }
    if let Some(b) = quantiles {
        check_bounds(&format!("{prefix}clip_quantiles"), b, true)?;
    }
    if clip.is_some() && quantiles.is_some() {
        return Err(config_error(
            &format!("{prefix}clip"),
            "set either clip or clip_quantiles, not both",
        ));
    }
    Ok(())
}

fn check_categorical_impute(field: &str, impute: Impute) -> Result<()> {
    match impute {
        Impute::Mean | Impute::Median => Err(config_error(
            field,
            "categorical columns are imputed with most_frequent, constant or none",
        )),
        _ => Ok(()),
    }
}

impl PrepConfig {
    /// Checks the settings that do not depend on the data.
    pub fn validate(&self) -> Result<()> {
        check_finite("fill_value", self.fill_value)?;
        check_categorical_impute("impute_categorical", self.impute_categorical)?;
        if self.max_categories == 0 {
            return Err(config_error("max_categories", "must be at least 1"));
        }
        if !(self.target_smoothing.is_finite() && self.target_smoothing >= 0.0) {
            return Err(config_error(
                "target_smoothing",
                format!("expected a number >= 0, found {}", self.target_smoothing),
            ));
        }
        if self.target_folds < 2 {
            return Err(config_error("target_folds", "must be at least 2"));
        }
        check_clip("", self.clip.as_ref(), self.clip_quantiles.as_ref())?;
        for (name, c) in &self.columns {
            let prefix = format!("columns.{name}.");
            if let Some(v) = c.fill_value {
                check_finite(&format!("{prefix}fill_value"), v)?;
            }
            if c.max_categories == Some(0) {
                return Err(config_error(&format!("{prefix}max_categories"), "must be at least 1"));
            }
            if let Some(s) = c.target_smoothing {
                if !(s.is_finite() && s >= 0.0) {
                    return Err(config_error(
                        &format!("{prefix}target_smoothing"),
                        format!("expected a number >= 0, found {s}"),
                    ));
                }
            }
            // Per-column clip settings replace the defaults, so only their own pair is checked.
            check_clip(&prefix, c.clip.as_ref(), c.clip_quantiles.as_ref())?;
        }
        let mut seen = std::collections::HashSet::new();
        for (i, d) in self.derive.iter().enumerate() {
            if d.name.trim().is_empty() {
                return Err(config_error(&format!("derive[{i}].name"), "is empty"));
            }
            if !seen.insert(d.name.as_str()) {
                return Err(config_error(
                    &format!("derive[{i}].name"),
                    format!("derived column '{}' is defined twice", d.name),
                ));
            }
        }
        Ok(())
    }

    /// The settings for a numeric feature, or an error if its overrides only fit categories.
    pub(crate) fn numeric_options(&self, name: &str) -> Result<NumericOptions> {
        let c = self.columns.get(name).cloned().unwrap_or_default();
        let wrong = [
            ("encode", c.encode.is_some()),
            ("max_categories", c.max_categories.is_some()),
            ("target_smoothing", c.target_smoothing.is_some()),
            ("fill_category", c.fill_category.is_some()),
        ];
        if let Some((field, _)) = wrong.iter().find(|(_, set)| *set) {
            return Err(config_error(
                &format!("columns.{name}.{field}"),
                format!("'{name}' is a numeric feature; {field} applies to categorical columns"),
            ));
        }
        // A column's own clip or clip_quantiles replaces both defaults.
        let (clip, clip_quantiles) = if c.clip.is_some() || c.clip_quantiles.is_some() {
            (c.clip, c.clip_quantiles)
        } else {
            (self.clip, self.clip_quantiles)
        };
        Ok(NumericOptions {
            impute: c.impute.unwrap_or(self.impute),
            fill_value: c.fill_value.unwrap_or(self.fill_value),
            missing_indicator: c.missing_indicator.unwrap_or(self.missing_indicator),
            scale: c.scale.unwrap_or(self.scale),
            transform: c.transform.unwrap_or(self.transform),
            clip,
            clip_quantiles,
        })
    }

    /// The settings for a categorical feature, or an error if its overrides only fit numbers.
    pub(crate) fn categorical_options(&self, name: &str) -> Result<CategoricalOptions> {
        let c = self.columns.get(name).cloned().unwrap_or_default();
        let wrong = [
            ("scale", c.scale.is_some()),
            ("transform", c.transform.is_some()),
            ("clip", c.clip.is_some()),
            ("clip_quantiles", c.clip_quantiles.is_some()),
            ("fill_value", c.fill_value.is_some()),
        ];
        if let Some((field, _)) = wrong.iter().find(|(_, set)| *set) {
            return Err(config_error(
                &format!("columns.{name}.{field}"),
                format!("'{name}' is a categorical feature; {field} applies to numeric columns"),
            ));
        }
        let impute = c.impute.unwrap_or(self.impute_categorical);
        check_categorical_impute(&format!("columns.{name}.impute"), impute)?;
        Ok(CategoricalOptions {
            impute,
            fill_category: c.fill_category.unwrap_or_else(|| self.fill_category.clone()),
            missing_indicator: c.missing_indicator.unwrap_or(self.missing_indicator),
            encode: c.encode.unwrap_or(self.encode),
            max_categories: c.max_categories.unwrap_or(self.max_categories),
            target_smoothing: c.target_smoothing.unwrap_or(self.target_smoothing),
            target_folds: self.target_folds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> std::result::Result<PrepConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn defaults_and_names() {
        let c = parse("").unwrap();
        assert_eq!(c, PrepConfig::default());
        c.validate().unwrap();
        let c = parse(
            "impute = \"most_frequent\"\nencode = \"one_hot\"\nscale = \"min_max\"\ntransform = \"box-cox\"\n\
             [columns.age]\nclip = { min = 0, max = 120 }\n",
        )
        .unwrap();
        assert_eq!(c.impute, Impute::MostFrequent);
        assert_eq!(c.encode, Encoding::Onehot);
        assert_eq!(c.scale, Scaling::Minmax);
        assert_eq!(c.transform, Transform::BoxCox);
        assert_eq!(
            c.columns["age"].clip,
            Some(Bounds {
                min: Some(0.0),
                max: Some(120.0)
            })
        );
        // Serialises back to the same settings.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<PrepConfig>(&json).unwrap(), c);
    }

    #[test]
    fn unknown_fields_and_values_are_rejected() {
        let e = parse("impute = \"median\"\nscaling = \"standard\"\n").unwrap_err();
        assert!(e.to_string().contains("scaling"), "{e}");
        let e = parse("impute = \"average\"\n").unwrap_err();
        assert!(e.to_string().contains("average"), "{e}");
        let e = parse("[columns.x]\nscal = \"none\"\n").unwrap_err();
        assert!(e.to_string().contains("scal"), "{e}");
        let e = parse("clip = { lo = 1 }\n").unwrap_err();
        assert!(e.to_string().contains("lo"), "{e}");
    }

    #[test]
    fn validation_names_the_field() {
        let check = |text: &str, needle: &str| {
            let e = parse(text).unwrap().validate().unwrap_err();
            assert!(e.message.contains(needle), "{text}: {e}");
        };
        check("max_categories = 0", "max_categories");
        check("target_folds = 1", "target_folds");
        check("target_smoothing = -1.0", "target_smoothing");
        check("fill_value = nan", "fill_value");
        check("impute_categorical = \"mean\"", "impute_categorical");
        check("clip = { min = 5, max = 1 }", "above max");
        check("clip_quantiles = { max = 1.5 }", "between 0 and 1");
        check("clip = { min = 0 }\nclip_quantiles = { max = 0.9 }", "not both");
        check("[columns.a]\nclip = { min = inf }", "columns.a.clip");
        check(
            "[[derive]]\nname = \"a\"\nexpr = \"1\"\n[[derive]]\nname = \"a\"\nexpr = \"2\"",
            "twice",
        );
        check("[[derive]]\nname = \" \"\nexpr = \"1\"", "derive[0].name");
    }

    #[test]
    fn options_merge_overrides_and_reject_the_wrong_kind() {
        let c = parse(
            "scale = \"standard\"\nclip = { min = 0 }\n[columns.a]\nimpute = \"mean\"\nclip_quantiles = { max = 0.9 }\n\
             [columns.c]\nencode = \"ordinal\"\nimpute = \"most_frequent\"\n[columns.bad]\nimpute = \"median\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        let a = c.numeric_options("a").unwrap();
        assert_eq!(a.impute, Impute::Mean);
        assert_eq!(a.scale, Scaling::Standard);
        assert_eq!(a.clip, None);
        assert_eq!(
            a.clip_quantiles,
            Some(Bounds {
                min: None,
                max: Some(0.9)
            })
        );
        let b = c.numeric_options("b").unwrap();
        assert_eq!(
            b.clip,
            Some(Bounds {
                min: Some(0.0),
                max: None
            })
        );
        let cat = c.categorical_options("c").unwrap();
        assert_eq!((cat.encode, cat.impute), (Encoding::Ordinal, Impute::MostFrequent));
        assert!(c.numeric_options("c").unwrap_err().message.contains("columns.c.encode"));
        assert!(c
            .categorical_options("a")
            .unwrap_err()
            .message
            .contains("clip_quantiles"));
        assert!(c
            .categorical_options("bad")
            .unwrap_err()
            .message
            .contains("most_frequent, constant or none"));
    }
}
