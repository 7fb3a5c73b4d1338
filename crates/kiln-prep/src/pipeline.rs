//! `fit` and [`FittedPipeline`]: planning the features from the config and
//! the table, fitting them on the training rows in parallel, and the one
//! transform path used for the training matrix and at serving time.

use std::collections::{HashMap, HashSet};

use arrow::datatypes::DataType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use kiln_data::{DataError, Location, Matrix, Result, Table};

use crate::categorical::{fit_categorical, CategoricalFeature, CategoricalSpec, Oof, Prepared, Target, MISSING};
use crate::config::{ColumnKind, DatePolicy, MissingColumns, PrepConfig, UnseenPolicy};
use crate::dates::DatePart;
use crate::expr::{self, Ctx, Expr, Resolved};
use crate::input::{InputColumn, InputKind, TableView};
use crate::numeric::{fit_numeric, NumericFeature, NumericSpec};

/// Rows read and written at a time by one worker (buffers stay in cache).
pub(crate) const BLOCK: usize = 4096;
/// Rows of one feature per parallel task.
const TASK_ROWS: usize = 16 * BLOCK;
/// The saved format this code writes and reads.
const FORMAT: u32 = 1;

/// The learning task's target, as target encoding needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Labels 0 or 1; one target-encoding column, the smoothed rate of 1.
    Binary,
    /// Labels 0..k; one target-encoding column per class (its smoothed rate).
    Multiclass(usize),
    /// Any finite number; one target-encoding column, the smoothed mean.
    Regression,
    /// No target (target encoding is then an error).
    None,
}

/// One fitted feature and the output columns it writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Feature {
    Numeric(NumericFeature),
    Categorical(CategoricalFeature),
}

impl Feature {
    fn outputs(&self) -> Vec<String> {
        match self {
            Feature::Numeric(f) => f.outputs(),
            Feature::Categorical(f) => f.outputs(),
        }
    }

    fn width(&self) -> usize {
        match self {
            Feature::Numeric(f) => 1 + usize::from(f.indicator),
            Feature::Categorical(f) => f.width() + usize::from(f.indicator),
        }
    }

    fn name(&self) -> &str {
        match self {
            Feature::Numeric(f) => &f.name,
            Feature::Categorical(f) => &f.name,
        }
    }
}

/// Everything a fitted pipeline saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    format: u32,
    inputs: Vec<InputColumn>,
    features: Vec<Feature>,
    feature_names: Vec<String>,
    unseen: UnseenPolicy,
    missing_columns: MissingColumns,
    #[serde(default)]
    warnings: Vec<String>,
}

impl Saved {
    /// Checks internal consistency, so that a damaged file is an error and never a panic.
    fn check(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "format {} is not supported (this build reads format {FORMAT})",
                self.format
            ));
        }
        let mut names = HashSet::new();
        for i in &self.inputs {
            if !names.insert(i.name.as_str()) {
                return Err(format!("input column '{}' is listed twice", i.name));
            }
        }
        let kind = |i: usize| self.inputs.get(i).map(|c| c.kind);
        for f in &self.features {
            match f {
                Feature::Numeric(n) => {
                    let mut bad = None;
                    n.expr.visit_inputs(&mut |i, part| {
                        let ok = match kind(i) {
                            Some(InputKind::Temporal) => part,
                            Some(InputKind::Number | InputKind::Boolean) => !part,
                            _ => false,
                        };
                        if !ok {
                            bad = Some(i);
                        }
                    });
                    if let Some(i) = bad {
                        return Err(format!("feature '{}' reads input {i}, which does not fit", n.name));
                    }
                    if !(n.scale.0.is_finite() && n.scale.0 != 0.0 && n.center.0.is_finite()) {
                        return Err(format!("feature '{}' has an unusable scale", n.name));
                    }
                }
                Feature::Categorical(c) => {
                    if !matches!(
                        kind(c.input),
                        Some(InputKind::Number | InputKind::Text | InputKind::Boolean)
                    ) {
                        return Err(format!(
                            "feature '{}' reads input {}, which does not fit",
                            c.name, c.input
                        ));
                    }
                    c.check()?;
                }
            }
        }
        let outputs: Vec<String> = self.features.iter().flat_map(Feature::outputs).collect();
        if outputs != self.feature_names {
            return Err("feature_names do not match the features".into());
        }
        Ok(())
    }
}

/// A preprocessing pipeline fitted on training rows: plain data (serde JSON),
/// applied by [`FittedPipeline::transform`] at training and at serving time.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Saved")]
pub struct FittedPipeline {
    saved: Saved,
}

impl TryFrom<Saved> for FittedPipeline {
    type Error = String;

    fn try_from(saved: Saved) -> std::result::Result<FittedPipeline, String> {
        saved.check()?;
        Ok(FittedPipeline { saved })
    }
}

impl Serialize for FittedPipeline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.saved.serialize(s)
    }
}

/// A feature to fit.
enum Spec {
    Numeric(NumericSpec),
    Categorical(CategoricalSpec),
}

impl Spec {
    fn name(&self) -> &str {
        match self {
            Spec::Numeric(s) => &s.name,
            Spec::Categorical(s) => &s.name,
        }
    }
}

/// The inputs and features a config makes of a table.
struct Plan {
    inputs: Vec<InputColumn>,
    specs: Vec<Spec>,
}

fn column_error(column: &str, message: impl Into<String>) -> DataError {
    DataError::new(Location::default().with_column(column), message)
}

/// The kind of a table column, or an error saying why it cannot be used.
fn kind_of(name: &str, dt: &DataType) -> Result<InputKind> {
    InputKind::of(dt).ok_or_else(|| {
        column_error(
            name,
            format!(
                "type {dt} is not usable; preprocessing takes numbers, strings, booleans, dates and timestamps \
                 (drop the column or convert it)"
            ),
        )
    })
}

impl Plan {
    fn input(&mut self, table: &Table, name: &str) -> Result<(usize, InputKind)> {
        if let Some(i) = self.inputs.iter().position(|c| c.name == name) {
            return Ok((i, self.inputs[i].kind));
        }
        let field = table.schema().field_with_name(name).map_err(|_| {
            column_error(
                name,
                format!(
                    "no column '{name}'; the columns are: {}",
                    table.column_names().join(", ")
                ),
            )
        })?;
        let kind = kind_of(name, field.data_type())?;
        self.inputs.push(InputColumn {
            name: name.to_string(),
            kind,
            data_type: field.data_type().to_string(),
        });
        Ok((self.inputs.len() - 1, kind))
    }

    fn build(config: &PrepConfig, table: &Table, features: &[String]) -> Result<Plan> {
        let mut plan = Plan {
            inputs: Vec::new(),
            specs: Vec::new(),
        };
        for d in &config.drop {
            if table.schema().index_of(d).is_err() {
                return Err(DataError::msg(format!(
                    "[prep] drop: no column '{d}'; the columns are: {}",
                    table.column_names().join(", ")
                )));
            }
        }
        let mut seen = HashSet::new();
        for name in features {
            if !seen.insert(name.as_str()) {
                return Err(column_error(name, format!("feature '{name}' is listed twice")));
            }
            if table.schema().index_of(name).is_err() {
                return Err(column_error(
                    name,
                    format!(
                        "feature column '{name}' is not in the table; the columns are: {}",
                        table.column_names().join(", ")
                    ),
                ));
            }
            if config.drop.contains(name) {
                continue;
            }
            plan.feature(config, table, name)?;
        }
        plan.derived(config, table)?;
        let names: HashSet<&str> = plan.specs.iter().map(Spec::name).collect();
        for key in config.columns.keys() {
            if !names.contains(key.as_str()) && !config.drop.contains(key) {
                let mut all: Vec<&str> = plan.specs.iter().map(Spec::name).collect();
                all.sort_unstable();
                return Err(DataError::msg(format!(
                    "[prep] columns.{key}: '{key}' is not a feature; the features are: {}",
                    all.join(", ")
                )));
            }
        }
        Ok(plan)
    }

    /// Adds the feature(s) of one input column.
    fn feature(&mut self, config: &PrepConfig, table: &Table, name: &str) -> Result<()> {
        let field = table
            .schema()
            .field_with_name(name)
            .map_err(|e| column_error(name, e.to_string()))?;
        let dt = field.data_type().clone();
        let kind = kind_of(name, &dt)?;
        let wanted = config.columns.get(name).and_then(|c| c.kind);
        let numeric = match (kind, wanted) {
            (InputKind::Temporal, Some(_)) => {
                return Err(DataError::msg(format!(
                    "[prep] columns.{name}.kind: '{name}' is a date or timestamp; it is used through its parts \
                     ({name}__year, ...) or derived columns"
                )))
            }
            (InputKind::Temporal, None) => {
                if config.dates == DatePolicy::Parts {
                    let (input, _) = self.input(table, name)?;
                    let mut parts = vec![DatePart::Year, DatePart::Month, DatePart::Day, DatePart::Weekday];
                    if matches!(dt, DataType::Timestamp(..) | DataType::Date64) {
                        parts.push(DatePart::Hour);
                    }
                    for part in parts {
                        let pname = format!("{name}__{}", part.name());
                        self.specs.push(Spec::Numeric(NumericSpec {
                            options: config.numeric_options(&pname)?,
                            name: pname,
                            expr: Expr::Part(input, part),
                            source: None,
                        }));
                    }
                }
                return Ok(());
            }
            (InputKind::Text, Some(ColumnKind::Numeric)) => {
                return Err(DataError::msg(format!(
                    "[prep] columns.{name}.kind: '{name}' holds text ({dt}); it can only be categorical"
                )))
            }
            (InputKind::Number, None | Some(ColumnKind::Numeric)) => true,
            (InputKind::Boolean, Some(ColumnKind::Numeric)) => true,
            _ => false,
        };
        let (input, _) = self.input(table, name)?;
        if numeric {
            self.specs.push(Spec::Numeric(NumericSpec {
                name: name.to_string(),
                expr: Expr::Column(input),
                source: None,
                options: config.numeric_options(name)?,
            }));
        } else {
            self.specs.push(Spec::Categorical(CategoricalSpec {
                name: name.to_string(),
                input,
                options: config.categorical_options(name)?,
            }));
        }
        Ok(())
    }

    /// Adds the derived columns, each compiled against the inputs and the ones before it.
    fn derived(&mut self, config: &PrepConfig, table: &Table) -> Result<()> {
        let mut earlier: HashMap<String, Expr> = HashMap::new();
        for d in &config.derive {
            let name = &d.name;
            if table.schema().index_of(name).is_ok() {
                return Err(column_error(
                    name,
                    format!("derived column '{name}' has the name of an input column; rename it"),
                ));
            }
            let compiled = {
                let mut resolve = |n: &str| -> std::result::Result<Resolved, String> {
                    if let Some(e) = earlier.get(n) {
                        return Ok(Resolved::Derived(e.clone()));
                    }
                    if table.schema().index_of(n).is_err() {
                        return Err(format!(
                            "no column '{n}'; the columns are: {}",
                            table.column_names().join(", ")
                        ));
                    }
                    self.input(table, n)
                        .map(|(i, k)| Resolved::Input(i, k))
                        .map_err(|e| e.message)
                };
                expr::compile(&d.expr, &mut resolve)
            };
            let e = compiled.map_err(|e| {
                column_error(
                    name,
                    format!(
                        "derived column '{name}': cannot use the expression `{}`: at position {}, {}",
                        d.expr, e.pos, e.message
                    ),
                )
            })?;
            earlier.insert(name.clone(), e.clone());
            self.specs.push(Spec::Numeric(NumericSpec {
                name: name.clone(),
                expr: e,
                source: Some(d.expr.clone()),
                options: config.numeric_options(name)?,
            }));
        }
        Ok(())
    }
}

/// Checks target values against the task, naming the row of a bad one.
fn check_target(values: &[f64], kind: TargetKind, view: &TableView) -> Result<()> {
    if let TargetKind::Multiclass(k) = kind {
        if k < 2 {
            return Err(DataError::msg(format!(
                "a multiclass target needs at least 2 classes, not {k}"
            )));
        }
    }
    for (i, &y) in values.iter().enumerate() {
        let (ok, expected) = match kind {
            TargetKind::Binary => (y == 0.0 || y == 1.0, "0 or 1 (binary)".to_string()),
            TargetKind::Multiclass(k) => (
                y >= 0.0 && y < k as f64 && y.fract() == 0.0,
                format!("a class index 0..{} (multiclass)", k - 1),
            ),
            TargetKind::Regression => (y.is_finite(), "a finite number (regression)".to_string()),
            TargetKind::None => (true, String::new()),
        };
        if !ok {
            return Err(DataError::new(
                view.table.location(view.rows.global(i), None),
                format!("target value {y} is not {expected}"),
            ));
        }
    }
    Ok(())
}

/// The source values of a numeric feature for every row of the view.
fn source_values(expr: &Expr, view: &TableView) -> Vec<f64> {
    let n = view.rows.len();
    let mut values = vec![0.0f64; n];
    let (mut scratch, mut runs) = (Vec::new(), Vec::new());
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        view.rows.runs(start..end, &mut scratch, &mut runs);
        let ctx = Ctx {
            view,
            runs: &runs,
            scratch: &scratch,
        };
        expr.eval(&ctx, &mut values[start..end]);
    }
    values
}

/// Fits a preprocessing pipeline on the training rows of `table` and returns
/// it with the transformed training rows.
///
/// `features` are the raw columns to use (not the target); `config.drop`
/// leaves some out and `config.derive` adds derived columns. `rows` selects the
/// training rows (all rows when `None`); `target` is aligned with them and is
/// needed only for target encoding. Statistics come from the selected rows
/// only. In the returned matrix, target-encoded columns hold out-of-fold values
/// (folds shuffled by `seed`), so no training row sees its own target;
/// [`FittedPipeline::transform`] uses the encoding fitted on all training rows.
pub fn fit(
    config: &PrepConfig,
    table: &Table,
    features: &[String],
    rows: Option<&[usize]>,
    target: Option<&[f64]>,
    task: TargetKind,
    seed: u64,
) -> Result<(FittedPipeline, Matrix)> {
    config.validate()?;
    let plan = Plan::build(config, table, features)?;
    let view = TableView::new(table, &plan.inputs, rows, MissingColumns::Error)?;
    let n = view.rows.len();
    if n == 0 {
        return Err(DataError::msg("no training rows to fit the preprocessing on"));
    }
    if let Some(t) = target {
        if t.len() != n {
            return Err(DataError::msg(format!(
                "the target has {} values for {n} training rows",
                t.len()
            )));
        }
    }
    let target_encoded: Vec<&str> = plan
        .specs
        .iter()
        .filter_map(|s| match s {
            Spec::Categorical(c) if c.options.encode == crate::config::Encoding::Target => Some(c.name.as_str()),
            _ => None,
        })
        .collect();
    let target = match (target, task, target_encoded.first()) {
        (_, _, None) => None,
        (None, _, Some(c)) | (_, TargetKind::None, Some(c)) => {
            return Err(column_error(
                c,
                format!(
                    "target encoding of '{c}' needs a target and a task (binary, multiclass or regression); \
                     use encode = \"onehot\" or \"ordinal\" without one"
                ),
            ))
        }
        (Some(values), kind, Some(c)) => {
            if n < 2 {
                return Err(column_error(c, "target encoding needs at least 2 training rows"));
            }
            check_target(values, kind, &view)?;
            Some(Target { values, kind })
        }
    };

    let fitted: Vec<(Feature, Option<Oof>, Vec<String>)> = plan
        .specs
        .par_iter()
        .map(|spec| {
            let mut warnings = Vec::new();
            match spec {
                Spec::Numeric(s) => {
                    let values = source_values(&s.expr, &view);
                    let f = fit_numeric(s, values, &|i| view.location(i, &s.name), &mut warnings)?;
                    Ok((Feature::Numeric(f), None, warnings))
                }
                Spec::Categorical(s) => {
                    let (f, oof) = fit_categorical(s, &view, target.as_ref(), seed, &mut warnings)?;
                    Ok((Feature::Categorical(f), oof, warnings))
                }
            }
        })
        .collect::<Result<_>>()?;

    let mut features = Vec::with_capacity(fitted.len());
    let mut oofs = Vec::with_capacity(fitted.len());
    let mut warnings = Vec::new();
    for (f, oof, w) in fitted {
        features.push(f);
        oofs.push(oof);
        warnings.extend(w);
    }
    let mut feature_names = Vec::new();
    let mut owner: HashMap<String, String> = HashMap::new();
    for f in &features {
        for out in f.outputs() {
            if let Some(first) = owner.insert(out.clone(), f.name().to_string()) {
                return Err(column_error(
                    &out,
                    format!(
                        "two output columns are named '{out}' (from features '{first}' and '{}'); rename a column \
                         or a derived column",
                        f.name()
                    ),
                ));
            }
            feature_names.push(out);
        }
    }
    let saved = Saved {
        format: FORMAT,
        inputs: plan.inputs,
        features,
        feature_names,
        unseen: config.unseen,
        missing_columns: config.missing_columns,
        warnings,
    };
    let pipeline = FittedPipeline::try_from(saved).map_err(|e| DataError::msg(format!("internal error: {e}")))?;
    // The training matrix goes through the same code as every later transform.
    let matrix = pipeline.run(&view, Some(&oofs))?;
    Ok((pipeline, matrix))
}

/// One feature's output columns for a range of rows.
struct Task<'m> {
    feature: usize,
    start: usize,
    len: usize,
    outs: Vec<&'m mut [f32]>,
}

impl FittedPipeline {
    /// Transforms the rows of `table` (all, or those listed in `rows`, in that
    /// order) into the feature matrix, column by column in parallel.
    ///
    /// Errors: an input column that is absent (unless `missing_columns =
    /// "missing"`) or of another kind than in training, naming it and the
    /// expected kind; an unseen category under `unseen = "error"`, naming the
    /// column, row and value; a row index out of range.
    pub fn transform(&self, table: &Table, rows: Option<&[usize]>) -> Result<Matrix> {
        let view = TableView::new(table, &self.saved.inputs, rows, self.saved.missing_columns)?;
        self.run(&view, None)
    }

    /// The output columns of the matrix, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.saved.feature_names
    }

    /// The raw columns the pipeline reads, with their kind.
    pub fn input_columns(&self) -> &[InputColumn] {
        &self.saved.inputs
    }

    /// What fitting noticed and worked around (features with no training values, ...).
    pub fn warnings(&self) -> &[String] {
        &self.saved.warnings
    }

    /// The saved form (JSON).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| DataError::msg(format!("saving the preprocessing pipeline: {e}")))
    }

    /// Reads a saved pipeline, checking it is consistent.
    pub fn from_json(text: &str) -> Result<FittedPipeline> {
        serde_json::from_str(text).map_err(|e| DataError::msg(format!("reading a saved preprocessing pipeline: {e}")))
    }

    fn run(&self, view: &TableView, oofs: Option<&[Option<Oof>]>) -> Result<Matrix> {
        let n = view.rows.len();
        let features = &self.saved.features;
        let mut matrix = Matrix::zeros(n, self.saved.feature_names.clone());
        if n == 0 {
            return Ok(matrix);
        }
        let prepared: Vec<Option<Prepared>> = features
            .iter()
            .map(|f| match f {
                Feature::Categorical(c) => view.columns.get(c.input).map(|chunks| c.prepare(chunks)),
                Feature::Numeric(_) => None,
            })
            .collect();
        let results: Vec<Result<()>> = {
            let mut columns = matrix.columns_mut().into_iter();
            let mut tasks = Vec::new();
            for (fi, f) in features.iter().enumerate() {
                let mut parts: Vec<_> = columns
                    .by_ref()
                    .take(f.width())
                    .map(|c| c.chunks_mut(TASK_ROWS))
                    .collect();
                for start in (0..n).step_by(TASK_ROWS) {
                    tasks.push(Task {
                        feature: fi,
                        start,
                        len: TASK_ROWS.min(n - start),
                        outs: parts.iter_mut().filter_map(Iterator::next).collect(),
                    });
                }
            }
            let work = |mut t: Task| {
                let oof = oofs.and_then(|o| o.get(t.feature)).and_then(Option::as_ref);
                let prep = prepared.get(t.feature).and_then(Option::as_ref);
                self.run_task(view, &features[t.feature], prep, oof, t.start, t.len, &mut t.outs)
            };
            if n < BLOCK {
                tasks.into_iter().map(work).collect()
            } else {
                tasks.into_par_iter().map(work).collect()
            }
        };
        results.into_iter().collect::<Result<()>>()?;
        Ok(matrix)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_task(
        &self,
        view: &TableView,
        feature: &Feature,
        prep: Option<&Prepared>,
        oof: Option<&Oof>,
        start: usize,
        len: usize,
        outs: &mut [&mut [f32]],
    ) -> Result<()> {
        let (mut scratch, mut runs) = (Vec::new(), Vec::new());
        match feature {
            Feature::Numeric(f) => {
                let mut buf = vec![0.0f64; BLOCK.min(len)];
                for b in (0..len).step_by(BLOCK) {
                    let e = (b + BLOCK).min(len);
                    view.rows.runs(start + b..start + e, &mut scratch, &mut runs);
                    let buf = &mut buf[..e - b];
                    let ctx = Ctx {
                        view,
                        runs: &runs,
                        scratch: &scratch,
                    };
                    f.expr.eval(&ctx, buf);
                    match outs {
                        [value] => f.apply_block(buf, &mut value[b..e], None),
                        [value, indicator] => f.apply_block(buf, &mut value[b..e], Some(&mut indicator[b..e])),
                        _ => {}
                    }
                }
            }
            Feature::Categorical(c) => {
                let (Some(prep), Some(chunks)) = (prep, view.columns.get(c.input)) else {
                    return Ok(());
                };
                let mut codes = vec![MISSING; BLOCK.min(len)];
                let mut missing = vec![false; BLOCK.min(len)];
                for b in (0..len).step_by(BLOCK) {
                    let e = (b + BLOCK).min(len);
                    view.rows.runs(start + b..start + e, &mut scratch, &mut runs);
                    let codes = &mut codes[..e - b];
                    let missing = &mut missing[..e - b];
                    c.read_codes(prep, chunks, &runs, &scratch, codes);
                    for (m, &code) in missing.iter_mut().zip(codes.iter()) {
                        *m = code == MISSING;
                    }
                    c.impute(prep, codes);
                    if self.saved.unseen == UnseenPolicy::Error && oof.is_none() {
                        c.check_unseen(codes, view, &runs, &scratch, start + b)?;
                    }
                    let mut block: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[b..e]).collect();
                    c.encode(missing, codes, &mut block, oof.map(|o| (o, start + b)));
                }
            }
        }
        Ok(())
    }
}
