//! Data contracts: what a table must look like, declared in TOML, checked row by row.
//!
//! A contract names each column's type, whether it may be null, an allowed
//! range, allowed categories, uniqueness keys and a minimum row count, and a
//! policy for rows that break it: `fail` the load, or `quarantine` them to a
//! side file (CSV or Parquet, each row with the reason, file, row and column)
//! so that nothing is silently dropped. [`Contract::infer`] writes a first
//! contract from a table, to be edited; [`Contract::validate`] reports every
//! violation with its file, row and column and an exact count per rule;
//! [`Contract::enforce`] applies the policy and returns the good rows.
//!
//! # The format
//!
//! ```toml
//! name = "churn"               # optional, shown in reports
//! policy = "quarantine"        # "fail" (default) or "quarantine"
//! quarantine = "bad_rows.csv"  # where quarantined rows go (.csv or .parquet)
//! min_rows = 1000              # optional
//! extra_columns = "error"      # "error" (default), "allow" or "drop"
//! coerce = true                # parse text columns into the declared type (default true)
//! unique = [["customer_id"], ["region", "day"]]   # keys: no two rows share one
//!
//! [[column]]
//! name = "customer_id"
//! type = "string"
//! nullable = false
//! unique = true                # shorthand for a one-column key
//!
//! [[column]]
//! name = "age"
//! type = "int"                 # int | float | string | bool | date | timestamp | any
//! nullable = true              # default true
//! min = 18                     # numbers for int/float ...
//! max = 120
//!
//! [[column]]
//! name = "signup"
//! type = "date"
//! min = "2015-01-01"           # ... and text for date/timestamp
//!
//! [[column]]
//! name = "plan"
//! type = "string"
//! categories = ["basic", "pro", "team"]
//! ```
//!
//! An unknown key anywhere is an error that names it (a typo must not turn a
//! rule off). Types: `int` is any Arrow integer type; `float` any float type,
//! and integers too (they are valid floats); `string` is Utf8, LargeUtf8,
//! Utf8View or a string dictionary; `date` is Date32/Date64; `timestamp` any
//! Timestamp; `any` accepts every type and checks only nullability. A column
//! read as text (a CSV column with one bad value in it, say) is parsed into the
//! declared type when `coerce` is on: each value that does not parse is a
//! `parse` violation on its row, an empty text is a null, and the good rows come
//! back with the declared type (Int64, Float64, Boolean, Date32,
//! Timestamp(Microsecond)). Any other type mismatch (a Parquet or Avro file
//! whose schema does not match) is a `wrong_type` violation for the column.
//! A float NaN counts as a null for `nullable` and is not range-checked.
//! In uniqueness keys, two nulls are equal.
//!
//! # Rules and policies
//!
//! Row rules (`parse`, `not_null`, `min`, `max`, `category`, `unique`) mark
//! single rows; under `quarantine` those rows go to the side file and the rest
//! load. Schema rules (`missing_column`, `extra_column`, `wrong_type`) and
//! `min_rows` concern the whole table: they fail the load under either policy
//! (a column cannot be quarantined), and `min_rows` is checked on the rows left
//! after quarantine. For `unique`, the first row with a key is kept and each
//! later one is the violation (its message names the first).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, UInt64Array};
use arrow::compute::{cast, cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Location, Result};
use crate::table::Table;
use crate::values::{for_each_float, for_each_int, value_text};

/// A data contract (see the module docs for the TOML format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// A name shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What happens to rows that break a row rule.
    #[serde(default)]
    pub policy: Policy,
    /// The default quarantine file (`.csv` or `.parquet`), relative to the working folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// The table must have at least this many (good) rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<u64>,
    /// What to do with columns the contract does not name.
    #[serde(default)]
    pub extra_columns: ExtraColumns,
    /// Parse text columns into the declared type (default true).
    #[serde(default = "yes")]
    pub coerce: bool,
    /// Uniqueness keys: each is a list of columns no two rows may share values of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<Vec<String>>,
    /// The columns, in `[[column]]` tables.
    #[serde(default, rename = "column")]
    pub columns: Vec<ColumnRule>,
}

fn yes() -> bool {
    true
}

/// What happens to rows that break a row rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Any violation fails the load.
    #[default]
    Fail,
    /// Bad rows go to the quarantine file; the good rows load.
    Quarantine,
}

/// What happens to columns the contract does not name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraColumns {
    /// An extra column is a violation.
    #[default]
    Error,
    /// Extra columns are kept, unchecked.
    Allow,
    /// Extra columns are dropped from the loaded table.
    Drop,
}

/// The rules for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// May the column hold nulls (and NaN)? Default true.
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Smallest allowed value (a number for int/float, text for date/timestamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Bound>,
    /// Largest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Bound>,
    /// The allowed values of a string column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// No two rows share a value (a one-column key).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
}

impl ColumnRule {
    /// A rule with only a type (nullable, no range, no categories).
    pub fn new(name: impl Into<String>, kind: Kind) -> ColumnRule {
        ColumnRule {
            name: name.into(),
            kind,
            nullable: true,
            min: None,
            max: None,
            categories: None,
            unique: false,
        }
    }
}

/// A column type in a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Int,
    Float,
    String,
    Bool,
    Date,
    Timestamp,
    /// Any type; only nullability is checked.
    Any,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::String => "string",
            Kind::Bool => "bool",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Any => "any",
        }
    }

    /// What Arrow types the kind accepts, for messages.
    fn accepts(self) -> &'static str {
        match self {
            Kind::Int => "an integer type (Int8..Int64, UInt8..UInt64)",
            Kind::Float => "a float or integer type",
            Kind::String => "a string type (Utf8, LargeUtf8, Utf8View, dictionary)",
            Kind::Bool => "Boolean",
            Kind::Date => "Date32 or Date64",
            Kind::Timestamp => "a Timestamp type",
            Kind::Any => "any type",
        }
    }

    /// Does an Arrow type hold this kind as it is?
    pub fn matches(self, dt: &DataType) -> bool {
        match self {
            Kind::Any => true,
            Kind::Int => dt.is_integer(),
            Kind::Float => dt.is_floating() || dt.is_integer(),
            Kind::String => is_string(dt),
            Kind::Bool => matches!(dt, DataType::Boolean),
            Kind::Date => matches!(dt, DataType::Date32 | DataType::Date64),
            Kind::Timestamp => matches!(dt, DataType::Timestamp(_, _)),
        }
    }

    /// The type text is parsed into when coercing.
    fn canonical(self) -> Option<DataType> {
        match self {
            Kind::Int => Some(DataType::Int64),
            Kind::Float => Some(DataType::Float64),
            Kind::Bool => Some(DataType::Boolean),
            Kind::Date => Some(DataType::Date32),
            Kind::Timestamp => Some(DataType::Timestamp(TimeUnit::Microsecond, None)),
            Kind::String => Some(DataType::Utf8),
            Kind::Any => None,
        }
    }

    /// The kind of an Arrow type, for inference (`Any` for nested and binary types).
    pub fn of(dt: &DataType) -> Kind {
        match dt {
            d if d.is_integer() => Kind::Int,
            d if d.is_floating() => Kind::Float,
            d if is_string(d) => Kind::String,
            DataType::Boolean => Kind::Bool,
            DataType::Date32 | DataType::Date64 => Kind::Date,
            DataType::Timestamp(_, _) => Kind::Timestamp,
            _ => Kind::Any,
        }
    }
}

fn is_string(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        _ => false,
    }
}

/// A range bound: a number, or text for dates and timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Int(i) => write!(f, "{i}"),
            Bound::Float(x) => write!(f, "{x}"),
            Bound::Text(s) => f.write_str(s),
        }
    }
}

/// A rule a violation broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    MissingColumn,
    ExtraColumn,
    WrongType,
    MinRows,
    Parse,
    NotNull,
    Min,
    Max,
    Category,
    Unique,
}

impl Rule {
    /// The rule's name as in reports (`not_null`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::MissingColumn => "missing_column",
            Rule::ExtraColumn => "extra_column",
            Rule::WrongType => "wrong_type",
            Rule::MinRows => "min_rows",
            Rule::Parse => "parse",
            Rule::NotNull => "not_null",
            Rule::Min => "min",
            Rule::Max => "max",
            Rule::Category => "category",
            Rule::Unique => "unique",
        }
    }

    /// Does the rule concern single rows (which can be quarantined)?
    pub fn is_row_rule(self) -> bool {
        !matches!(
            self,
            Rule::MissingColumn | Rule::ExtraColumn | Rule::WrongType | Rule::MinRows
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation: where, what, and the offending value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub location: Location,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

/// The violations of one rule on one column (or key): an exact count and the first examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    pub rule: Rule,
    /// The column, or the key's columns joined by commas; none for table rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// How many rows (or columns, for schema rules) broke it.
    pub count: u64,
    /// The first violations, in row order.
    pub examples: Vec<Violation>,
}

/// What [`Contract::validate`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// Rows checked.
    pub rows: u64,
    /// Rows with no row violation.
    pub valid_rows: u64,
    /// Rows with at least one row violation.
    pub invalid_rows: u64,
    /// No violation of any kind.
    pub passed: bool,
    /// Only rules with at least one violation, schema rules first, then in contract order.
    pub rules: Vec<RuleReport>,
}

impl Report {
    /// Total violations over all rules.
    pub fn total_violations(&self) -> u64 {
        self.rules.iter().map(|r| r.count).sum()
    }

    /// Are there violations that fail a load under either policy?
    pub fn has_table_violations(&self) -> bool {
        self.rules.iter().any(|r| !r.rule.is_row_rule())
    }

    /// The count for one rule on one column (0 when it was not broken).
    pub fn count(&self, rule: Rule, column: Option<&str>) -> u64 {
        self.rules
            .iter()
            .filter(|r| r.rule == rule && r.column.as_deref() == column)
            .map(|r| r.count)
            .sum()
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// A one-line summary, e.g. `3 violations: not_null 'age' 2, max 'age' 1`.
    pub fn summary(&self) -> String {
        if self.passed {
            return format!("{} rows, no violations", self.rows);
        }
        let parts: Vec<String> = self
            .rules
            .iter()
            .map(|r| match &r.column {
                Some(c) => format!("{} '{}' {}", r.rule, c, r.count),
                None => format!("{} {}", r.rule, r.count),
            })
            .collect();
        format!(
            "{} violations in {} of {} rows: {}",
            self.total_violations(),
            self.invalid_rows,
            self.rows,
            parts.join(", ")
        )
    }
}

impl fmt::Display for Report {
    /// A readable table: one line per rule, then its examples.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .contract
            .as_deref()
            .map(|n| format!("contract '{n}'"))
            .unwrap_or_else(|| "contract".into());
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        writeln!(
            f,
            "{name}: {verdict}: {} rows, {} valid, {} invalid",
            self.rows, self.valid_rows, self.invalid_rows
        )?;
        if self.rules.is_empty() {
            return Ok(());
        }
        let w_rule = self.rules.iter().map(|r| r.rule.name().len()).max().unwrap_or(4).max(4);
        let w_col = self
            .rules
            .iter()
            .map(|r| r.column.as_deref().unwrap_or("-").chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(f, "{:<w_rule$}  {:<w_col$}  {:>10}", "rule", "column", "count")?;
        for r in &self.rules {
            writeln!(
                f,
                "{:<w_rule$}  {:<w_col$}  {:>10}",
                r.rule.name(),
                r.column.as_deref().unwrap_or("-"),
                r.count
            )?;
            for e in &r.examples {
                writeln!(f, "    {e}")?;
            }
        }
        Ok(())
    }
}

/// Options for [`Contract::validate`] and [`Contract::enforce`].
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// How many examples to keep per rule (counts are always exact).
    pub examples: usize,
    /// Where quarantined rows go (overrides the contract's `quarantine`).
    pub quarantine_path: Option<PathBuf>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            examples: 5,
            quarantine_path: None,
        }
    }
}

/// The outcome of [`Contract::enforce`]: the good rows, the quarantined ones, the report.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The rows that kept every rule, with coerced columns in their declared types.
    pub table: Table,
    /// The quarantined rows (original values as read, plus `_kiln_reason`,
    /// `_kiln_file`, `_kiln_row`, `_kiln_column`), when there were any.
    pub quarantined: Option<Table>,
    /// Where the quarantined rows were written.
    pub quarantine_path: Option<PathBuf>,
    pub report: Report,
}

/// Options for [`Contract::infer`].
#[derive(Debug, Clone)]
pub struct InferOptions {
    pub name: Option<String>,
    /// A string column with at most this many distinct values (each seen at
    /// least twice on average) gets a `categories` list.
    pub max_categories: usize,
    /// Write the observed min/max of numeric and time columns.
    pub ranges: bool,
}

impl Default for InferOptions {
    fn default() -> Self {
        InferOptions {
            name: None,
            max_categories: 20,
            ranges: true,
        }
    }
}

impl Contract {
    /// A contract from TOML text; `source` names it in errors (a file name).
    pub fn from_toml(text: &str, source: &str) -> Result<Contract> {
        let c: Contract = toml::from_str(text)
            .map_err(|e| DataError::in_file(source, format!("not a valid contract: {}", e.to_string().trim_end())))?;
        c.check().map_err(|e| e.with_file(source))?;
        Ok(c)
    }

    /// Reads a contract file.
    pub fn load(path: &Path) -> Result<Contract> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DataError::in_file(&shown, format!("reading: {e}")))?;
        Contract::from_toml(&text, &shown)
    }

    /// The contract as TOML, with a comment saying how to edit it.
    pub fn to_toml(&self) -> Result<String> {
        let body = toml::to_string(self).map_err(|e| DataError::msg(format!("writing the contract as TOML: {e}")))?;
        Ok(format!("{TOML_HEADER}{body}"))
    }

    /// Writes the contract as TOML, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::write::write_bytes_atomic(path, self.to_toml()?.as_bytes())
    }

    /// Checks the contract itself: bounds that fit the types, keys that name
    /// contract columns, no duplicate columns.
    pub fn check(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for c in &self.columns {
            let here = |msg: String| DataError::new(Location::default().with_column(&c.name), msg);
            if !seen.insert(c.name.as_str()) {
                return Err(here("the column is declared twice".into()));
            }
            for (which, b) in [("min", &c.min), ("max", &c.max)] {
                let Some(b) = b else { continue };
                match (c.kind, b) {
                    (Kind::Int | Kind::Float, Bound::Int(_) | Bound::Float(_)) => {}
                    (Kind::Date | Kind::Timestamp, Bound::Text(s)) => {
                        parse_time_bound(s, c.kind, &time_type(c.kind)).map_err(|m| here(format!("{which}: {m}")))?;
                    }
                    (Kind::Int | Kind::Float, Bound::Text(_)) => {
                        return Err(here(format!("{which} must be a number for a {} column", c.kind.name())))
                    }
                    (Kind::Date | Kind::Timestamp, _) => {
                        return Err(here(format!(
                            "{which} must be text (e.g. \"2024-01-31\") for a {} column",
                            c.kind.name()
                        )))
                    }
                    (k, _) => return Err(here(format!("{which} is not allowed on a {} column", k.name()))),
                }
            }
            if let (Some(lo), Some(hi)) = (&c.min, &c.max) {
                if let (Some(a), Some(b)) = (bound_f64(lo), bound_f64(hi)) {
                    if a > b {
                        return Err(here(format!("min {lo} is greater than max {hi}")));
                    }
                }
            }
            if c.categories.is_some() && c.kind != Kind::String {
                return Err(here(format!(
                    "categories are for string columns; this one is {}",
                    c.kind.name()
                )));
            }
        }
        for key in &self.unique {
            if key.is_empty() {
                return Err(DataError::msg("a unique key needs at least one column"));
            }
            for k in key {
                if !self.columns.iter().any(|c| &c.name == k) {
                    return Err(DataError::msg(format!(
                        "unique key [{}] names column '{k}', which the contract does not declare",
                        key.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// A first contract for a table: its types, nullability, observed ranges
    /// and, for low-cardinality strings, categories. Meant to be edited.
    pub fn infer(table: &Table, opts: &InferOptions) -> Result<Contract> {
        let columns = table
            .schema()
            .fields()
            .par_iter()
            .enumerate()
            .map(|(i, f)| infer_column(table, i, f, opts))
            .collect::<Result<Vec<_>>>()?;
        Ok(Contract {
            name: opts.name.clone(),
            policy: Policy::Fail,
            quarantine: None,
            min_rows: None,
            extra_columns: ExtraColumns::Error,
            coerce: true,
            unique: Vec::new(),
            columns,
        })
    }

    /// Checks `table` against the contract and reports every violation. The
    /// report is the answer; an `Err` means the check itself could not run.
    pub fn validate(&self, table: &Table, opts: &CheckOptions) -> Result<Report> {
        self.check()?;
        Ok(Checker::run(self, table, opts)?.report)
    }

    /// Applies the policy: under `fail` any violation is an error (naming the
    /// first violation and the counts); under `quarantine` the bad rows are
    /// written to the quarantine file and the good rows returned (schema
    /// violations and `min_rows` still fail).
    pub fn enforce(&self, table: &Table, opts: &CheckOptions) -> Result<Checked> {
        self.check()?;
        let run = Checker::run(self, table, opts)?;
        let report = run.report.clone();
        let fail = |report: &Report| -> DataError {
            let first = report.rules.iter().find_map(|r| r.examples.first());
            let name = self.contract_name();
            let msg = format!("{name} failed: {}", report.summary());
            match first {
                Some(v) => DataError::new(v.location.clone(), format!("{msg}; first: {}", v.message)),
                None => DataError::msg(msg),
            }
        };
        if report.passed {
            return Ok(Checked {
                table: run.good_table()?,
                quarantined: None,
                quarantine_path: None,
                report,
            });
        }
        if self.policy == Policy::Fail || report.has_table_violations() {
            return Err(fail(&report));
        }
        let good = run.good_table()?;
        if let Some(min) = self.min_rows {
            if (good.num_rows() as u64) < min {
                return Err(DataError::msg(format!(
                    "{} failed: {} good rows after quarantining {}, the contract needs at least {min}",
                    self.contract_name(),
                    good.num_rows(),
                    report.invalid_rows
                )));
            }
        }
        let path = opts
            .quarantine_path
            .clone()
            .or_else(|| self.quarantine.as_ref().map(PathBuf::from))
            .ok_or_else(|| {
                DataError::msg(format!(
                    "{} quarantines {} bad rows but no quarantine file is set (the contract's `quarantine` key or --quarantine)",
                    self.contract_name(),
                    report.invalid_rows
                ))
            })?;
        let bad = run.quarantine_table()?;
        crate::write::write_table(&bad, &path)?;
        Ok(Checked {
            table: good,
            quarantined: Some(bad),
            quarantine_path: Some(path),
            report,
        })
    }

    fn contract_name(&self) -> String {
        match &self.name {
            Some(n) => format!("contract '{n}'"),
            None => "the contract".to_string(),
        }
    }
}

const TOML_HEADER: &str = "\
# Kiln data contract (edit freely; unknown keys are errors).
# policy = \"fail\" | \"quarantine\"; quarantine = \"bad_rows.csv\"; min_rows = N
# extra_columns = \"error\" | \"allow\" | \"drop\"; unique = [[\"id\"]]
# Per column: type = int | float | string | bool | date | timestamp | any,
#   nullable, min, max, categories = [...], unique = true
";

// ---------------------------------------------------------------------------
// Inference

fn infer_column(table: &Table, i: usize, field: &Field, opts: &InferOptions) -> Result<ColumnRule> {
    let array = table.column_at(i)?;
    let kind = Kind::of(field.data_type());
    let mut rule = ColumnRule::new(field.name(), kind);
    let nans = if kind == Kind::Float {
        count_nan(array.as_ref())
    } else {
        0
    };
    rule.nullable = array.null_count() > 0 || nans > 0;
    match kind {
        Kind::Int | Kind::Float if opts.ranges => {
            if let Some((lo, hi)) = numeric_range(array.as_ref())? {
                rule.min = Some(lo);
                rule.max = Some(hi);
            }
        }
        Kind::Date | Kind::Timestamp if opts.ranges => {
            if let Some((lo, hi)) = time_range(array.as_ref())? {
                rule.min = Some(Bound::Text(lo));
                rule.max = Some(Bound::Text(hi));
            }
        }
        Kind::String => rule.categories = infer_categories(array.as_ref(), opts.max_categories)?,
        _ => {}
    }
    Ok(rule)
}

fn count_nan(array: &dyn Array) -> usize {
    match array.data_type() {
        DataType::Float64 => array
            .as_primitive::<Float64Type>()
            .iter()
            .flatten()
            .filter(|v| v.is_nan())
            .count(),
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .flatten()
            .filter(|v| v.is_nan())
            .count(),
        _ => 0,
    }
}

/// The observed min and max of an int or float column, skipping nulls and NaN.
fn numeric_range(array: &dyn Array) -> Result<Option<(Bound, Bound)>> {
    if array.data_type().is_integer() {
        let mut lo: Option<i128> = None;
        let mut hi: Option<i128> = None;
        for_each_int(array, |_, v| {
            lo = Some(lo.map_or(v, |l| l.min(v)));
            hi = Some(hi.map_or(v, |h| h.max(v)));
        })?;
        return Ok(match (lo, hi) {
            (Some(l), Some(h)) => Some((int_bound(l), int_bound(h))),
            _ => None,
        });
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for_each_float(array, |_, v| {
        if !v.is_nan() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    })?;
    Ok((lo <= hi).then_some((Bound::Float(lo), Bound::Float(hi))))
}

/// An integer bound; values beyond i64 become floats.
fn int_bound(v: i128) -> Bound {
    i64::try_from(v).map(Bound::Int).unwrap_or(Bound::Float(v as f64))
}

/// The observed min and max of a date/timestamp column, as text.
fn time_range(array: &dyn Array) -> Result<Option<(String, String)>> {
    let mut lo: Option<(i128, usize)> = None;
    let mut hi: Option<(i128, usize)> = None;
    for_each_int(array, |i, v| {
        if lo.is_none_or(|(l, _)| v < l) {
            lo = Some((v, i));
        }
        if hi.is_none_or(|(h, _)| v > h) {
            hi = Some((v, i));
        }
    })?;
    match (lo, hi) {
        (Some((_, li)), Some((_, hi))) => Ok(Some((value_text(array, li), value_text(array, hi)))),
        _ => Ok(None),
    }
}

fn infer_categories(array: &dyn Array, max: usize) -> Result<Option<Vec<String>>> {
    if max == 0 {
        return Ok(None);
    }
    let strings = to_utf8(array)?;
    let strings = strings.as_string::<i32>();
    let mut distinct: HashSet<&str> = HashSet::new();
    let mut non_null = 0usize;
    for v in strings.iter().flatten() {
        non_null += 1;
        distinct.insert(v);
        if distinct.len() > max {
            return Ok(None);
        }
    }
    // Few rows each with its own value (ids, names) are not categories.
    if distinct.is_empty() || non_null < 2 * distinct.len() {
        return Ok(None);
    }
    let mut cats: Vec<String> = distinct.into_iter().map(str::to_string).collect();
    cats.sort();
    Ok(Some(cats))
}

// ---------------------------------------------------------------------------
// Checking

/// A row-rule check: which rule, on which column(s).
struct Check {
    rule: Rule,
    /// Display name: the column, or the key's columns joined by commas.
    column: String,
    /// Index into `Checker::cols` of the column(s) involved.
    cols: Vec<usize>,
}

/// A row that broke a check; `other` is the first row with the same key for `unique`.
#[derive(Clone, Copy)]
struct Hit {
    row: usize,
    check: usize,
    other: usize,
}

/// A contract column found in the table, ready for row checks.
struct Col<'c> {
    rule: &'c ColumnRule,
    /// Index in the table.
    index: usize,
    /// As read.
    original: ArrayRef,
    /// In the checked type (coerced from text when needed).
    array: ArrayRef,
    /// Rows whose text did not parse (only when coerced).
    parse_failed: Option<Vec<bool>>,
}

struct Checker<'a> {
    table: &'a Table,
    cols: Vec<Col<'a>>,
    checks: Vec<Check>,
    /// Every row violation, grouped by check, each group in row order.
    hits: Vec<Vec<Hit>>,
    /// Per row: broke at least one row rule.
    bad: Vec<bool>,
    /// Table columns the good table keeps (by table index).
    keep: Vec<usize>,
    report: Report,
}

impl<'a> Checker<'a> {
    fn run(contract: &'a Contract, table: &'a Table, opts: &CheckOptions) -> Result<Checker<'a>> {
        let n = table.num_rows();
        let mut table_rules: Vec<RuleReport> = Vec::new();
        let schema = table.schema();
        // Schema: missing and wrong-type columns.
        let mut cols = Vec::new();
        for rule in &contract.columns {
            let Ok(index) = schema.index_of(&rule.name) else {
                table_rules.push(schema_violation(
                    Rule::MissingColumn,
                    &rule.name,
                    format!(
                        "column '{}' is missing; the contract expects it (type {}); the columns are: {}",
                        rule.name,
                        rule.kind.name(),
                        table.column_names().join(", ")
                    ),
                ));
                continue;
            };
            let dt = schema.field(index).data_type();
            let original = table.column_at(index)?;
            let coerce_text = contract.coerce && is_string(dt) && !matches!(rule.kind, Kind::String | Kind::Any);
            let col = if rule.kind.matches(dt) {
                Col {
                    rule,
                    index,
                    array: original.clone(),
                    original,
                    parse_failed: None,
                }
            } else if *dt == DataType::Null {
                let target = rule.kind.canonical().unwrap_or(DataType::Null);
                let array = cast(original.as_ref(), &target)
                    .map_err(|e| DataError::new(Location::default().with_column(&rule.name), e.to_string()))?;
                Col {
                    rule,
                    index,
                    array,
                    original,
                    parse_failed: None,
                }
            } else if coerce_text {
                let (array, failed) = parse_text(original.as_ref(), rule)?;
                Col {
                    rule,
                    index,
                    array,
                    original,
                    parse_failed: Some(failed),
                }
            } else {
                let hint = if is_string(dt) && !contract.coerce {
                    " (coerce = false, so text is not parsed)"
                } else {
                    ""
                };
                table_rules.push(schema_violation(
                    Rule::WrongType,
                    &rule.name,
                    format!(
                        "column '{}' has type {dt}, the contract expects {} ({}){hint}",
                        rule.name,
                        rule.kind.name(),
                        rule.kind.accepts()
                    ),
                ));
                continue;
            };
            cols.push(col);
        }
        // Schema: extra columns.
        let declared: HashSet<&str> = contract.columns.iter().map(|c| c.name.as_str()).collect();
        let mut keep = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if declared.contains(f.name().as_str()) {
                keep.push(i);
                continue;
            }
            match contract.extra_columns {
                ExtraColumns::Allow => keep.push(i),
                ExtraColumns::Drop => {}
                ExtraColumns::Error => table_rules.push(schema_violation(
                    Rule::ExtraColumn,
                    f.name(),
                    format!(
                        "column '{}' is not in the contract (declare it, or set extra_columns = \"allow\" or \"drop\")",
                        f.name()
                    ),
                )),
            }
        }
        if let Some(min) = contract.min_rows {
            if (n as u64) < min {
                table_rules.push(RuleReport {
                    rule: Rule::MinRows,
                    column: None,
                    count: 1,
                    examples: vec![Violation {
                        location: Location::default(),
                        message: format!("the table has {n} rows, the contract needs at least {min}"),
                        value: Some(n.to_string()),
                    }],
                });
            }
        }

        let checks = plan_checks(contract, &cols);
        let hits: Vec<Vec<Hit>> = checks
            .par_iter()
            .enumerate()
            .map(|(ci, check)| run_check(ci, check, &cols))
            .collect::<Result<_>>()?;
        let mut bad = vec![false; n];
        for h in hits.iter().flatten() {
            if let Some(b) = bad.get_mut(h.row) {
                *b = true;
            }
        }
        let invalid = bad.iter().filter(|b| **b).count() as u64;
        let mut checker = Checker {
            table,
            cols,
            checks,
            hits,
            bad,
            keep,
            report: Report {
                contract: contract.name.clone(),
                rows: n as u64,
                valid_rows: n as u64 - invalid,
                invalid_rows: invalid,
                passed: false,
                rules: Vec::new(),
            },
        };
        let mut rules = table_rules;
        for (ci, check) in checker.checks.iter().enumerate() {
            let hits = &checker.hits[ci];
            if hits.is_empty() {
                continue;
            }
            rules.push(RuleReport {
                rule: check.rule,
                column: Some(check.column.clone()),
                count: hits.len() as u64,
                examples: hits.iter().take(opts.examples).map(|h| checker.violation(h)).collect(),
            });
        }
        checker.report.passed = rules.is_empty();
        checker.report.rules = rules;
        Ok(checker)
    }

    /// The violation for a hit, with its location, message and value.
    fn violation(&self, h: &Hit) -> Violation {
        let check = &self.checks[h.check];
        let location = self.table.location(h.row, Some(&check.column));
        let value = match check.cols.as_slice() {
            [c] => Some(value_text(self.cols[*c].original.as_ref(), h.row)),
            many => Some(
                many.iter()
                    .map(|c| value_text(self.cols[*c].original.as_ref(), h.row))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let v = value.clone().unwrap_or_default();
        let message = match check.rule {
            Rule::Parse => {
                let kind = self.cols[check.cols[0]].rule.kind.name();
                format!("expected {kind}, found '{v}'")
            }
            Rule::NotNull => {
                if v == "NaN" {
                    "NaN (missing) in a column the contract says is not nullable".to_string()
                } else {
                    "null in a column the contract says is not nullable".to_string()
                }
            }
            Rule::Min => {
                let b = self.cols[check.cols[0]]
                    .rule
                    .min
                    .as_ref()
                    .map(|b| b.to_string())
                    .unwrap_or_default();
                format!("{v} is below the minimum {b}")
            }
            Rule::Max => {
                let b = self.cols[check.cols[0]]
                    .rule
                    .max
                    .as_ref()
                    .map(|b| b.to_string())
                    .unwrap_or_default();
                format!("{v} is above the maximum {b}")
            }
            Rule::Category => {
                let cats = self.cols[check.cols[0]].rule.categories.as_deref().unwrap_or(&[]);
                let mut shown: Vec<&str> = cats.iter().take(10).map(String::as_str).collect();
                if cats.len() > 10 {
                    shown.push("...");
                }
                format!("'{v}' is not an allowed category ({})", shown.join(", "))
            }
            Rule::Unique => {
                let first = self.table.location(h.other, None);
                format!("duplicate key ({v}); first seen at {first}")
            }
            other => other.name().to_string(),
        };
        Violation {
            location,
            message,
            value,
        }
    }

    /// The good rows: kept columns (coerced ones in their declared type), bad rows left out.
    fn good_table(&self) -> Result<Table> {
        let schema = self.table.schema();
        let mut fields = Vec::new();
        let mut arrays = Vec::new();
        for &i in &self.keep {
            let f = schema.field(i);
            match self.cols.iter().find(|c| c.index == i) {
                Some(c) if c.array.data_type() != f.data_type() => {
                    fields.push(Field::new(f.name(), c.array.data_type().clone(), true));
                    arrays.push(c.array.clone());
                }
                Some(c) => {
                    fields.push(f.clone());
                    arrays.push(c.array.clone());
                }
                None => {
                    fields.push(f.clone());
                    arrays.push(self.table.column_at(i)?);
                }
            }
        }
        let unchanged = self.keep.len() == schema.fields().len()
            && fields
                .iter()
                .zip(schema.fields())
                .all(|(a, b)| a.data_type() == b.data_type());
        if unchanged && !self.bad.iter().any(|b| *b) {
            // Nothing to change: keep the table (and its origins) as it is.
            return Ok(self.table.clone());
        }
        let out_schema = Arc::new(Schema::new(fields));
        let keep_rows = BooleanArray::from(self.bad.iter().map(|b| !b).collect::<Vec<bool>>());
        let arrays = arrays
            .iter()
            .map(|a| arrow::compute::filter(a.as_ref(), &keep_rows))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| DataError::msg(format!("filtering the good rows: {e}")))?;
        let batch = RecordBatch::try_new(out_schema.clone(), arrays)
            .map_err(|e| DataError::msg(format!("building the good rows: {e}")))?;
        Table::new(out_schema, vec![batch])
    }

    /// The bad rows as read, with the reason, file, row and column(s) of each.
    fn quarantine_table(&self) -> Result<Table> {
        let rows: Vec<usize> = self
            .bad
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
            .collect();
        let mut reasons: HashMap<usize, (Vec<String>, Vec<String>)> = HashMap::new();
        for h in self.hits.iter().flatten() {
            let v = self.violation(h);
            let e = reasons.entry(h.row).or_default();
            e.0.push(format!(
                "{} '{}': {}",
                self.checks[h.check].rule, self.checks[h.check].column, v.message
            ));
            let col = self.checks[h.check].column.clone();
            if !e.1.contains(&col) {
                e.1.push(col);
            }
        }
        let mut reason = Vec::with_capacity(rows.len());
        let mut file = Vec::with_capacity(rows.len());
        let mut row_no = Vec::with_capacity(rows.len());
        let mut column = Vec::with_capacity(rows.len());
        for &r in &rows {
            let (rs, cs) = reasons.get(&r).cloned().unwrap_or_default();
            reason.push(rs.join("; "));
            column.push(cs.join(","));
            match self.table.locate(r) {
                Some((f, n)) => {
                    file.push(Some(f.to_string()));
                    row_no.push(n);
                }
                None => {
                    file.push(None);
                    row_no.push(r as u64 + 1);
                }
            }
        }
        let mut fields = vec![
            Field::new("_kiln_reason", DataType::Utf8, false),
            Field::new("_kiln_file", DataType::Utf8, true),
            Field::new("_kiln_row", DataType::UInt64, false),
            Field::new("_kiln_column", DataType::Utf8, false),
        ];
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(reason)),
            Arc::new(StringArray::from(file)),
            Arc::new(UInt64Array::from(row_no)),
            Arc::new(StringArray::from(column)),
        ];
        let idx = UInt64Array::from_iter_values(rows.iter().map(|&r| r as u64));
        for (i, f) in self.table.schema().fields().iter().enumerate() {
            let col = self.table.column_at(i)?;
            let taken = arrow::compute::take(col.as_ref(), &idx, None)
                .map_err(|e| DataError::msg(format!("taking the quarantined rows: {e}")))?;
            fields.push(Field::new(f.name(), f.data_type().clone(), true));
            arrays.push(taken);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| DataError::msg(format!("building the quarantine table: {e}")))?;
        Table::new(schema, vec![batch])
    }
}

fn schema_violation(rule: Rule, column: &str, message: String) -> RuleReport {
    RuleReport {
        rule,
        column: Some(column.to_string()),
        count: 1,
        examples: vec![Violation {
            location: Location::default().with_column(column),
            message,
            value: None,
        }],
    }
}

/// The row checks to run, in contract order.
fn plan_checks(contract: &Contract, cols: &[Col<'_>]) -> Vec<Check> {
    let mut checks = Vec::new();
    for (ci, c) in cols.iter().enumerate() {
        let r = c.rule;
        let mut add = |rule: Rule| {
            checks.push(Check {
                rule,
                column: r.name.clone(),
                cols: vec![ci],
            })
        };
        if c.parse_failed.is_some() {
            add(Rule::Parse);
        }
        if !r.nullable {
            add(Rule::NotNull);
        }
        if r.min.is_some() {
            add(Rule::Min);
        }
        if r.max.is_some() {
            add(Rule::Max);
        }
        if r.categories.is_some() {
            add(Rule::Category);
        }
    }
    let mut keys: Vec<Vec<String>> = contract
        .columns
        .iter()
        .filter(|c| c.unique)
        .map(|c| vec![c.name.clone()])
        .collect();
    for k in &contract.unique {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    for key in keys {
        let idx: Option<Vec<usize>> = key
            .iter()
            .map(|k| cols.iter().position(|c| &c.rule.name == k))
            .collect();
        // A key on a missing or mistyped column is already a schema violation.
        if let Some(idx) = idx {
            checks.push(Check {
                rule: Rule::Unique,
                column: key.join(","),
                cols: idx,
            });
        }
    }
    checks
}

fn run_check(ci: usize, check: &Check, cols: &[Col<'_>]) -> Result<Vec<Hit>> {
    let hit = |row: usize| Hit {
        row,
        check: ci,
        other: usize::MAX,
    };
    let col = &cols[check.cols[0]];
    let a = col.array.as_ref();
    let loc = || Location::default().with_column(&col.rule.name);
    match check.rule {
        Rule::Parse => Ok(col
            .parse_failed
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter(|(_, f)| **f)
            .map(|(i, _)| hit(i))
            .collect()),
        Rule::NotNull => {
            let failed = col.parse_failed.as_deref();
            let nan = nan_mask(a);
            Ok((0..a.len())
                .filter(|&i| {
                    let missing = a.is_null(i) || nan.as_ref().is_some_and(|m| m[i]);
                    missing && !failed.is_some_and(|f| f[i])
                })
                .map(hit)
                .collect())
        }
        Rule::Min | Rule::Max => {
            let bound = if check.rule == Rule::Min {
                &col.rule.min
            } else {
                &col.rule.max
            };
            let Some(bound) = bound else { return Ok(Vec::new()) };
            let below = check.rule == Rule::Min;
            let mut rows = Vec::new();
            let mut push = |i: usize, outside: bool| {
                if outside {
                    rows.push(hit(i));
                }
            };
            let dt = a.data_type();
            if dt.is_integer() || matches!(dt, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)) {
                let b = match bound {
                    Bound::Int(b) => Num::I(*b as i128),
                    Bound::Float(b) => Num::F(*b),
                    Bound::Text(s) => {
                        Num::I(parse_time_bound(s, col.rule.kind, dt).map_err(|m| DataError::new(loc(), m))?)
                    }
                };
                for_each_int(a, |i, v| push(i, b.outside_int(v, below)))?;
            } else if dt.is_floating() {
                let b =
                    bound_f64(bound).ok_or_else(|| DataError::new(loc(), "a float column needs a numeric bound"))?;
                for_each_float(a, |i, v| {
                    if !v.is_nan() {
                        push(i, if below { v < b } else { v > b });
                    }
                })?;
            }
            Ok(rows)
        }
        Rule::Category => {
            let cats: HashSet<&str> = col
                .rule
                .categories
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(String::as_str)
                .collect();
            let strings = to_utf8(a)?;
            let strings = strings.as_string::<i32>();
            Ok(strings
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_some_and(|v| !cats.contains(v)))
                .map(|(i, _)| hit(i))
                .collect())
        }
        Rule::Unique => {
            let arrays: Vec<ArrayRef> = check.cols.iter().map(|&c| cols[c].array.clone()).collect();
            let rows = crate::dedup::encode_rows(&arrays)?;
            let mut first: HashMap<&[u8], usize> = HashMap::with_capacity(rows.num_rows());
            let mut out = Vec::new();
            for i in 0..rows.num_rows() {
                let key = rows.row(i).data();
                match first.get(key) {
                    Some(&f) => out.push(Hit {
                        row: i,
                        check: ci,
                        other: f,
                    }),
                    None => {
                        first.insert(key, i);
                    }
                }
            }
            Ok(out)
        }
        other => Err(DataError::msg(format!("{other} is not a row rule"))),
    }
}

/// A bound in comparable form.
#[derive(Clone, Copy)]
enum Num {
    I(i128),
    F(f64),
}

impl Num {
    fn outside_int(self, v: i128, below: bool) -> bool {
        match (self, below) {
            (Num::I(b), true) => v < b,
            (Num::I(b), false) => v > b,
            (Num::F(b), true) => (v as f64) < b,
            (Num::F(b), false) => (v as f64) > b,
        }
    }
}

fn bound_f64(b: &Bound) -> Option<f64> {
    match b {
        Bound::Int(i) => Some(*i as f64),
        Bound::Float(f) => Some(*f),
        Bound::Text(_) => None,
    }
}

fn time_type(kind: Kind) -> DataType {
    match kind {
        Kind::Date => DataType::Date32,
        _ => DataType::Timestamp(TimeUnit::Microsecond, None),
    }
}

/// Parses a date/timestamp bound into the raw value of `dt` (days, or time units).
fn parse_time_bound(text: &str, kind: Kind, dt: &DataType) -> std::result::Result<i128, String> {
    let arr = StringArray::from(vec![text]);
    let parsed = cast(&arr, dt).map_err(|e| format!("'{text}' is not a {}: {e}", kind.name()))?;
    let mut out = None;
    for_each_int(parsed.as_ref(), |_, v| out = Some(v)).map_err(|e| e.message)?;
    out.ok_or_else(|| {
        format!(
            "'{text}' is not a {} (expected e.g. {})",
            kind.name(),
            if kind == Kind::Date {
                "\"2024-01-31\""
            } else {
                "\"2024-01-31T12:00:00\""
            }
        )
    })
}

/// Parses a text column into the rule's type; returns the parsed array and the
/// rows whose (non-empty) text did not parse.
fn parse_text(original: &dyn Array, rule: &ColumnRule) -> Result<(ArrayRef, Vec<bool>)> {
    let loc = || Location::default().with_column(&rule.name);
    let target = rule.kind.canonical().unwrap_or(DataType::Utf8);
    let text = to_utf8(original)?;
    let text = text.as_string::<i32>();
    // Empty (or blank) text is a null, not a parse failure.
    let cleaned: StringArray = text
        .iter()
        .map(|v| v.and_then(|s| if s.trim().is_empty() { None } else { Some(s) }))
        .collect();
    let opts = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    let parsed = cast_with_options(&cleaned, &target, &opts).map_err(|e| DataError::new(loc(), e.to_string()))?;
    let failed = (0..cleaned.len())
        .map(|i| cleaned.is_valid(i) && parsed.is_null(i))
        .collect();
    Ok((parsed, failed))
}

fn nan_mask(a: &dyn Array) -> Option<Vec<bool>> {
    if !a.data_type().is_floating() {
        return None;
    }
    let mut m = vec![false; a.len()];
    let _ = for_each_float(a, |i, v| m[i] = v.is_nan());
    Some(m)
}

/// Any string-ish array as Utf8.
fn to_utf8(a: &dyn Array) -> Result<ArrayRef> {
    cast(a, &DataType::Utf8).map_err(|e| DataError::msg(format!("reading {} as text: {e}", a.data_type())))
}
