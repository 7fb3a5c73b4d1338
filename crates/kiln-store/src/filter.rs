//! MLflow search grammar: `filter_string` and `order_by` parsing, and translation into SQL
//! fragments for SQLite and PostgreSQL.
//!
//! The semantics follow MLflow 3.17.2 (`mlflow/utils/search_utils.py`,
//! `mlflow/utils/search_logged_model_utils.py` and the SQLAlchemy tracking and model-registry
//! stores), for five entities:
//!
//! * [`Entity::Runs`]: `metric(s).<key>`, `param(s)/parameter(s).<key>`, `tag(s).<key>`,
//!   `attribute(s)/attr/run.<key>` (or a bare attribute name) and `dataset(s).<name|digest|context>`.
//! * [`Entity::Experiments`]: attributes `name`, `experiment_id`, `creation_time`,
//!   `last_update_time` and `tag(s).<key>`.
//! * [`Entity::RegisteredModels`]: attribute `name` and `tag(s).<key>`.
//! * [`Entity::ModelVersions`]: attributes `name`, `version_number`, `run_id`, `source_path`
//!   and `tag(s).<key>`.
//! * [`Entity::LoggedModels`] (MLflow 3 `logged-models/search`): attributes `name`, `model_id`,
//!   `model_type`, `status`, `source_run_id`, `creation_timestamp` (alias `creation_time`),
//!   `last_updated_timestamp` (alias `last_updated_time`), optionally prefixed `attributes.`,
//!   and `metrics.<key>`, `params.<key>`, `tags.<key>` (plural prefixes only, as in MLflow). See
//!   [`build_logged_model_sql`]; its `order_by` comes as [`LoggedModelOrder`] objects.
//!
//! A filter is a list of comparisons joined by `AND` (MLflow has no `OR` and no parentheses).
//! Keys may be back-quoted or double-quoted (``metrics.`my key` ``, `tags."a b"`), string
//! literals use single or double quotes, numbers follow SQL literal syntax. As in MLflow the text
//! between the quotes is taken verbatim (`'it''s'` is the value `it''s`, nothing is unescaped).
//!
//! Every user-supplied value, key names included, is sent as a bind parameter; the generated SQL
//! text only contains fixed table/column names, operators and `$N` placeholders.
//!
//! This module only depends on `std`, so it can be tested on its own:
//! `rustc --edition 2021 --test crates/kiln-store/src/filter.rs -o /tmp/filter_test && /tmp/filter_test`

use std::fmt;

// ------------------------------------------------------------------------------------------------
// Public types
// ------------------------------------------------------------------------------------------------

/// The SQL dialect to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: case-sensitive `LIKE` becomes `GLOB`, `ILIKE` becomes `LOWER(x) LIKE LOWER(p)`.
    Sqlite,
    /// PostgreSQL: native `LIKE` / `ILIKE`.
    Postgres,
}

/// A bind parameter value, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// Bind as TEXT.
    Text(String),
    /// Bind as a 64-bit integer (INTEGER / BIGINT columns).
    Int(i64),
    /// Bind as a double (REAL / DOUBLE PRECISION; also compared with integer columns).
    Float(f64),
}

/// A user-facing error (becomes an `INVALID_PARAMETER_VALUE` 400).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError(pub String);

impl FilterError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The error message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

/// The searchable entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// `search_runs` (table `runs`).
    Runs,
    /// `search_experiments` (table `experiments`).
    Experiments,
    /// `search_registered_models` (table `registered_models`).
    RegisteredModels,
    /// `search_model_versions` (table `model_versions`).
    ModelVersions,
    /// MLflow 3 `search_logged_models` (table `logged_models`).
    LoggedModels,
}

impl Entity {
    /// The main table (also its alias in the generated SQL).
    pub fn table(self) -> &'static str {
        match self {
            Entity::Runs => "runs",
            Entity::Experiments => "experiments",
            Entity::RegisteredModels => "registered_models",
            Entity::ModelVersions => "model_versions",
            Entity::LoggedModels => "logged_models",
        }
    }
}

/// SQL pieces to splice into
/// `SELECT <table>.* FROM <table> {joins} WHERE <store's own conditions> AND ({where_sql}) ORDER BY {order_sql}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlParts {
    /// `LEFT JOIN`s needed by `order_sql` (empty when none), space-separated.
    pub joins: String,
    /// The filter condition; `1=1` when there is nothing to filter.
    pub where_sql: String,
    /// The complete ordering, tie-breakers included (never empty).
    pub order_sql: String,
    /// Bind values for `$first_bind, $first_bind+1, ...`, in that order.
    pub binds: Vec<SqlValue>,
}

/// The kind of key a comparison or ordering refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `metric.` / `metrics.` (runs: the latest value; logged models: any logged value).
    Metric,
    /// `param.` / `params.` / `parameter.` / `parameters.` (runs; `params.` for logged models).
    Param,
    /// `tag.` / `tags.`.
    Tag,
    /// `attribute.` / `attributes.` / `attr.` / `run.` or a bare name.
    Attribute,
    /// `dataset.` / `datasets.` (runs: `name`, `digest`, `context`).
    Dataset,
}

impl KeyType {
    /// MLflow's name for the key type (`metric`, `parameter`, `tag`, `attribute`, `dataset`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Metric => "metric",
            KeyType::Param => "parameter",
            KeyType::Tag => "tag",
            KeyType::Attribute => "attribute",
            KeyType::Dataset => "dataset",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `LIKE` (case-sensitive)
    Like,
    /// `ILIKE` (case-insensitive)
    ILike,
    /// `IN (...)`
    In,
    /// `NOT IN (...)`
    NotIn,
    /// `IS NULL` (the key is absent)
    IsNull,
    /// `IS NOT NULL` (the key is present)
    IsNotNull,
}

impl Comparator {
    /// The canonical (upper-case) spelling, also the SQL operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "!=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
            Comparator::IsNull => "IS NULL",
            Comparator::IsNotNull => "IS NOT NULL",
        }
    }

    fn from_token(token: &str) -> Option<Self> {
        Some(match token {
            "=" => Comparator::Eq,
            "!=" => Comparator::Ne,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            "LIKE" => Comparator::Like,
            "ILIKE" => Comparator::ILike,
            "IN" => Comparator::In,
            "NOT IN" => Comparator::NotIn,
            "IS NULL" => Comparator::IsNull,
            "IS NOT NULL" => Comparator::IsNotNull,
            _ => return None,
        })
    }
}

/// The typed right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// `IS NULL` / `IS NOT NULL`.
    None,
    /// A quoted string (verbatim text between the quotes).
    Str(String),
    /// An integer (numeric attributes, `experiment_id`, `version_number`).
    Int(i64),
    /// A float (always for metrics; float literals on run timestamps).
    Float(f64),
    /// `IN` / `NOT IN` list of strings.
    StrList(Vec<String>),
    /// `IN` / `NOT IN` list of experiment ids.
    IntList(Vec<i64>),
}

/// One parsed comparison of a filter string.
///
/// `key` is canonical for attributes (`created` → `start_time`, `run name` → `run_name`);
/// metric values are always [`FilterValue::Float`], `experiment_id` values are integers.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What the key refers to.
    pub key_type: KeyType,
    /// The key (metric/param/tag name, canonical attribute name or dataset field).
    pub key: String,
    /// The operator.
    pub comparator: Comparator,
    /// The typed right-hand side.
    pub value: FilterValue,
}

/// One parsed `order_by` clause.
///
/// Attribute keys are canonical MLflow names: runs `run_id`, `run_name`, `status`, `user_id`,
/// `artifact_uri`, `start_time` (also for `created`), `end_time`; experiments `name`,
/// `experiment_id`, `creation_time`, `last_update_time`; registered models `name`,
/// `last_updated_timestamp` (also for `timestamp`); model versions `name`, `version_number`,
/// `creation_timestamp`, `last_updated_timestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// What the key refers to (attribute, or metric/param/tag for runs).
    pub key_type: KeyType,
    /// The key (canonical for attributes).
    pub key: String,
    /// `ASC` (default) or `DESC`.
    pub ascending: bool,
}

/// One `order_by` entry of a logged-model search, as the REST API sends it:
/// `{"field_name": "creation_timestamp" | "metrics.<key>" | ..., "ascending": bool,
/// "dataset_name": opt, "dataset_digest": opt}`.
///
/// `field_name` is an attribute (`name`, `model_id`, `model_type`, `status`, `source_run_id`,
/// `creation_timestamp` / `creation_time`, `last_updated_timestamp` / `last_updated_time`) or
/// `metrics.<key>` (ordered by the model's latest value of that metric, optionally only among
/// the values logged on the given dataset). `ascending` defaults to `true`, as in MLflow, so
/// [`Default`] gives `ascending: true`; an API layer should likewise treat an absent
/// `ascending` as `true`. Empty `dataset_name` / `dataset_digest` strings count as absent.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModelOrder {
    /// `<attribute>` or `metrics.<key>`.
    pub field_name: String,
    /// Ascending (the default) or descending.
    pub ascending: bool,
    /// For `metrics.<key>`: only consider values logged on this dataset.
    pub dataset_name: Option<String>,
    /// For `metrics.<key>`: only consider values logged on this dataset digest (requires
    /// `dataset_name`).
    pub dataset_digest: Option<String>,
}

impl Default for LoggedModelOrder {
    fn default() -> Self {
        Self {
            field_name: String::new(),
            ascending: true,
            dataset_name: None,
            dataset_digest: None,
        }
    }
}

/// One entry of a logged-model search's `datasets` list (`{"dataset_name", "dataset_digest"}`):
/// metric comparisons only consider values logged on one of the listed datasets, and when the
/// filter has no metric comparison a model must have some metric logged on one of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggedModelDataset {
    /// Required (an empty name is an error).
    pub dataset_name: String,
    /// Optional; `None` or empty matches any digest.
    pub dataset_digest: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// Public functions
// ------------------------------------------------------------------------------------------------

/// Parses an MLflow filter string for `entity` and validates keys, comparators and values.
/// An empty or whitespace-only filter gives an empty list.
///
/// # Errors
/// A [`FilterError`] naming the offending token or key and what was expected, worded like
/// MLflow's messages where MLflow has one.
pub fn parse_filter(entity: Entity, filter: &str) -> Result<Vec<Comparison>, FilterError> {
    if entity == Entity::LoggedModels {
        return parse_logged_model_filter(filter);
    }
    let mut cur = Cursor::new(filter);
    let mut out = Vec::new();
    cur.skip_ws();
    if cur.eof() {
        return Ok(out);
    }
    loop {
        out.push(parse_comparison(entity, &mut cur)?);
        cur.skip_ws();
        if cur.eof() {
            return Ok(out);
        }
        let word = cur.peek_word();
        if word.eq_ignore_ascii_case("and") {
            cur.advance(word.len());
            cur.skip_ws();
            if cur.eof() {
                return Err(FilterError::new(format!(
                    "Invalid filter '{filter}': expected a comparison after 'AND' but the filter ended"
                )));
            }
            continue;
        }
        if cur.peek() == Some(';') {
            return Err(FilterError::new(format!(
                "Search filter contained multiple expression '{filter}'. Provide AND-ed expression list."
            )));
        }
        if word.eq_ignore_ascii_case("or") {
            return Err(FilterError::new(format!(
                "Invalid clause(s) in filter string: '{word}'. Only 'AND' is supported to combine \
                 comparisons"
            )));
        }
        return Err(FilterError::new(format!(
            "Invalid clause(s) in filter string: '{}'. Expected 'AND' or the end of the filter \
             after a comparison",
            cur.preview()
        )));
    }
}

/// Parses one `order_by` clause (`key [ASC|DESC]`) for `entity`.
///
/// # Errors
/// A [`FilterError`] for an unparsable clause, an unknown key or a bad direction.
pub fn parse_order_by(entity: Entity, clause: &str) -> Result<OrderBy, FilterError> {
    let unparsable = || FilterError::new(format!("Invalid order_by clause '{clause}'. Could not be parsed."));
    let mut cur = Cursor::new(clause);
    cur.skip_ws();
    let Ok(Some(ident)) = parse_ident(&mut cur) else {
        return Err(unparsable());
    };
    cur.skip_ws();
    let mut ascending = true;
    if !cur.eof() {
        let word = cur.peek_word();
        if word.is_empty() {
            return Err(unparsable());
        }
        if word.eq_ignore_ascii_case("asc") {
            ascending = true;
        } else if word.eq_ignore_ascii_case("desc") {
            ascending = false;
        } else {
            return Err(FilterError::new(format!(
                "Invalid ordering key in order_by clause '{clause}'. Expected 'ASC' or 'DESC' after \
                 the key, found '{word}'."
            )));
        }
        cur.advance(word.len());
        cur.skip_ws();
        if !cur.eof() {
            return Err(unparsable());
        }
    }
    let (key_type, key) = resolve_order_key(entity, &ident)?;
    Ok(OrderBy {
        key_type,
        key,
        ascending,
    })
}

/// Parses a list of `order_by` clauses and returns the complete effective ordering: the
/// entity's default when the list is empty, followed by MLflow's tie-breakers.
///
/// * runs: user keys, then `start_time DESC` (unless ordered by already), then `run_id ASC`;
/// * experiments: user keys or `creation_time DESC, experiment_id ASC`, then
///   `experiment_id DESC` unless present;
/// * registered models: user keys, then `name ASC` unless present;
/// * model versions: user keys or `last_updated_timestamp DESC, name ASC, version_number DESC`,
///   then `name ASC` and `version_number DESC` unless present;
/// * logged models: user keys, then `creation_timestamp DESC` and `model_id ASC` unless
///   present (see [`resolve_logged_model_order`] for the object form with datasets).
///
/// # Errors
/// Any [`parse_order_by`] error, duplicate keys (except for experiments and logged models, as
/// in MLflow) and non-attribute keys for experiments.
pub fn resolve_order_by(entity: Entity, order_by: &[String]) -> Result<Vec<OrderBy>, FilterError> {
    let defaults: &[&str] = match entity {
        Entity::Experiments => &["creation_time DESC", "experiment_id ASC"],
        Entity::ModelVersions => &["last_updated_timestamp DESC", "name ASC", "version_number DESC"],
        Entity::Runs | Entity::RegisteredModels | Entity::LoggedModels => &[],
    };
    let clauses: Vec<&str> = if order_by.is_empty() {
        defaults.to_vec()
    } else {
        order_by.iter().map(String::as_str).collect()
    };

    let mut out: Vec<OrderBy> = Vec::with_capacity(clauses.len() + 2);
    for clause in &clauses {
        let parsed = parse_order_by(entity, clause)?;
        if entity == Entity::Experiments && parsed.key_type != KeyType::Attribute {
            return Err(FilterError::new(format!(
                "Invalid order_by entity: {} (in order_by clause '{clause}'). Only attributes \
                 can be used to order experiments",
                parsed.key_type.as_str()
            )));
        }
        let duplicate = !matches!(entity, Entity::Experiments | Entity::LoggedModels)
            && out.iter().any(|o| o.key_type == parsed.key_type && o.key == parsed.key);
        if duplicate {
            return Err(FilterError::new(format!(
                "`order_by` contains duplicate fields: {}",
                py_list(&clauses)
            )));
        }
        out.push(parsed);
    }

    let has_attr = |out: &[OrderBy], key: &str| out.iter().any(|o| o.key_type == KeyType::Attribute && o.key == key);
    let push_attr = |out: &mut Vec<OrderBy>, key: &str, ascending: bool| {
        if !has_attr(out, key) {
            out.push(OrderBy {
                key_type: KeyType::Attribute,
                key: key.to_string(),
                ascending,
            });
        }
    };
    match entity {
        Entity::Runs => {
            push_attr(&mut out, "start_time", false);
            push_attr(&mut out, "run_id", true);
        }
        Entity::Experiments => push_attr(&mut out, "experiment_id", false),
        Entity::RegisteredModels => push_attr(&mut out, "name", true),
        Entity::ModelVersions => {
            push_attr(&mut out, "name", true);
            push_attr(&mut out, "version_number", false);
        }
        Entity::LoggedModels => {
            push_attr(&mut out, "creation_timestamp", false);
            push_attr(&mut out, "model_id", true);
        }
    }
    Ok(out)
}

/// Parses `filter` and `order_by` and translates them into SQL pieces.
///
/// Placeholders are `$N`, numbered from `first_bind` (a `first_bind` of 0 is treated as 1), in
/// the order they appear in `joins`, then `where_sql`, then `order_sql`; `binds` holds the
/// values in that order.
///
/// An empty filter gives `where_sql = "1=1"`, except for registered models and model versions:
/// like MLflow, those searches exclude prompts (models tagged `mlflow.prompt.is_prompt = 'true'`)
/// unless the filter asks for prompts, so their `where_sql` then holds that `NOT EXISTS` clause.
///
/// For [`Entity::LoggedModels`] each `order_by` string is `<field_name> [ASC|DESC]` and the
/// result is that of [`build_logged_model_sql`].
///
/// # Errors
/// Any [`parse_filter`] or [`resolve_order_by`] error.
pub fn build_search_sql(
    entity: Entity,
    dialect: Dialect,
    filter: &str,
    order_by: &[String],
    first_bind: usize,
) -> Result<SqlParts, FilterError> {
    if entity == Entity::LoggedModels {
        let orders = order_by
            .iter()
            .map(|clause| {
                parse_order_by(entity, clause).map(|o| LoggedModelOrder {
                    field_name: if o.key_type == KeyType::Metric {
                        format!("{LOGGED_MODEL_METRIC_PREFIX}{}", o.key)
                    } else {
                        o.key
                    },
                    ascending: o.ascending,
                    dataset_name: None,
                    dataset_digest: None,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        return build_logged_model_sql(dialect, filter, &orders, first_bind);
    }
    let comparisons = parse_filter(entity, filter)?;
    let orders = resolve_order_by(entity, order_by)?;
    let mut binds = Binds::new(first_bind);
    let (joins, order_sql) = order_to_sql(entity, &orders, &mut binds);
    let where_sql = where_to_sql(entity, dialect, &comparisons, &mut binds);
    Ok(SqlParts {
        joins,
        where_sql,
        order_sql,
        binds: binds.values,
    })
}

/// Translates already-parsed comparisons into a `WHERE` fragment (`"1=1"` when there is
/// nothing to filter) and its binds, numbered from `first_bind`. Includes the registry prompt
/// exclusion described in [`build_search_sql`].
pub fn build_where_sql(
    entity: Entity,
    dialect: Dialect,
    comparisons: &[Comparison],
    first_bind: usize,
) -> (String, Vec<SqlValue>) {
    let mut binds = Binds::new(first_bind);
    let sql = where_to_sql(entity, dialect, comparisons, &mut binds);
    (sql, binds.values)
}

/// Parses the `filter` and `order_by` of an MLflow 3 logged-model search
/// (`POST /api/2.0/mlflow/logged-models/search`) and translates them into SQL pieces for
/// `SELECT logged_models.* FROM logged_models {joins} WHERE logged_models.experiment_id IN (...)
/// AND logged_models.lifecycle_stage = 'active' AND ({where_sql}) ORDER BY {order_sql}`
/// (the store adds the experiment and lifecycle conditions itself).
///
/// Placeholders are `$N`, numbered from `first_bind` (0 is treated as 1), in the order they
/// appear in `joins`, then `where_sql` (`order_sql` has none); `binds` holds the values in
/// that order. This is [`build_logged_model_search_sql`] without a `datasets` restriction.
///
/// # Errors
/// Any [`parse_filter`] error for [`Entity::LoggedModels`] or [`resolve_logged_model_order`]
/// error.
pub fn build_logged_model_sql(
    dialect: Dialect,
    filter: &str,
    order_by: &[LoggedModelOrder],
    first_bind: usize,
) -> Result<SqlParts, FilterError> {
    build_logged_model_search_sql(dialect, filter, &[], order_by, first_bind)
}

/// [`build_logged_model_sql`] with the request's `datasets` list, following MLflow's SQL store:
///
/// * string attributes (`name`, `model_id`, `model_type`, `status`, `source_run_id`), `params.`
///   and `tags.` take `=`, `!=`, `LIKE`, `ILIKE`, `IN`, `NOT IN`; `LIKE` is case-sensitive,
///   `ILIKE` is not. Values are quoted strings, or (as MLflow accepts) an unquoted word or
///   number taken as text. A param/tag comparison requires the model to have that key;
///   `model_type` / `source_run_id` comparisons never match a model without one.
/// * `status` compares MLflow's `LoggedModelStatus` names (`READY`, `PENDING`, `FAILED`,
///   `UNSPECIFIED`); the stored proto names (`LOGGED_MODEL_READY`, ...) are accepted too by
///   `=`, `!=`, `IN` and `NOT IN`.
/// * `creation_timestamp` / `creation_time` and `last_updated_timestamp` / `last_updated_time`
///   (epoch milliseconds) and `metrics.` take `=`, `!=`, `<`, `<=`, `>`, `>=` and a number.
/// * `metrics.<key> <op> <number>` holds when any logged value of the metric satisfies it
///   (MLflow's SQL store joins on any matching metric row), counting only values logged on one
///   of `datasets` when that list is non-empty. NaN values only satisfy `!=`.
/// * a non-empty `datasets` without any metric comparison keeps the models that have some
///   metric logged on one of the datasets.
///
/// Ordering: see [`resolve_logged_model_order`]. Attributes that may be NULL, and metrics a
/// model lacks, sort last in both directions (NaN metric values just before them); `status`
/// sorts in MLflow's numeric order (unspecified, pending, ready, failed).
///
/// # Errors
/// Any [`parse_filter`] / [`resolve_logged_model_order`] error, and a `datasets` entry with an
/// empty `dataset_name`.
pub fn build_logged_model_search_sql(
    dialect: Dialect,
    filter: &str,
    datasets: &[LoggedModelDataset],
    order_by: &[LoggedModelOrder],
    first_bind: usize,
) -> Result<SqlParts, FilterError> {
    let comparisons = parse_logged_model_filter(filter)?;
    let datasets = check_logged_model_datasets(datasets)?;
    let orders = resolve_logged_model_order(order_by)?;
    let mut binds = Binds::new(first_bind);
    let (joins, order_sql) = logged_model_order_sql(&orders, &mut binds);
    let where_sql = logged_model_where_sql(dialect, &comparisons, &datasets, &mut binds);
    Ok(SqlParts {
        joins,
        where_sql,
        order_sql,
        binds: binds.values,
    })
}

/// Validates a logged-model search's `order_by` and returns the complete effective ordering
/// with canonical field names (`creation_time` → `creation_timestamp`, `last_updated_time` →
/// `last_updated_timestamp`, ``metrics.`my key` `` → `metrics.my key`), empty dataset strings
/// turned into `None` and dataset fields dropped from attribute orderings, followed by MLflow's
/// tie-breakers: `creation_timestamp DESC` unless ordered by already, then `model_id ASC`
/// unless ordered by already. Duplicate fields are allowed, as in MLflow.
///
/// A metric ordering uses each model's latest value of the metric (greatest timestamp, then
/// step, then smallest run id), among the values logged on `dataset_name` / `dataset_digest`
/// when given.
///
/// # Errors
/// An empty `field_name`, an unknown attribute, a `<prefix>.<key>` field whose prefix is not
/// `metrics`, or a `dataset_digest` without a `dataset_name` (MLflow's messages).
pub fn resolve_logged_model_order(order_by: &[LoggedModelOrder]) -> Result<Vec<LoggedModelOrder>, FilterError> {
    let mut out: Vec<LoggedModelOrder> = Vec::with_capacity(order_by.len() + 2);
    for o in order_by {
        let (key_type, key) = logged_model_order_key(&o.field_name)?;
        let dataset_name = o.dataset_name.clone().filter(|s| !s.is_empty());
        let dataset_digest = o.dataset_digest.clone().filter(|s| !s.is_empty());
        if dataset_digest.is_some() && dataset_name.is_none() {
            return Err(FilterError::new(
                "`dataset_digest` can only be specified if `dataset_name` is also specified.",
            ));
        }
        let metric = key_type == KeyType::Metric;
        out.push(LoggedModelOrder {
            field_name: if metric {
                format!("{LOGGED_MODEL_METRIC_PREFIX}{key}")
            } else {
                key
            },
            ascending: o.ascending,
            dataset_name: dataset_name.filter(|_| metric),
            dataset_digest: dataset_digest.filter(|_| metric),
        });
    }
    for (field, ascending) in [("creation_timestamp", false), ("model_id", true)] {
        if !out.iter().any(|o| o.field_name == field) {
            out.push(LoggedModelOrder {
                field_name: field.to_string(),
                ascending,
                dataset_name: None,
                dataset_digest: None,
            });
        }
    }
    Ok(out)
}

/// Translates a SQL `LIKE` pattern into an equivalent (case-sensitive) SQLite `GLOB` pattern:
/// `%` → `*`, `_` → `?`, and the GLOB metacharacters `*`, `?`, `[` are escaped as `[*]`, `[?]`,
/// `[[]`.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            other => out.push(other),
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Per-entity vocabulary
// ------------------------------------------------------------------------------------------------

const NUMERIC_COMPARATORS: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
const PARAM_TAG_COMPARATORS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const REGISTRY_TAG_COMPARATORS: &[&str] = &["=", "!=", "LIKE", "ILIKE"];
const STRING_ATTRIBUTE_COMPARATORS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
const EXPERIMENT_ID_COMPARATORS: &[&str] = &["=", "!=", "IN", "NOT IN"];
const DATASET_COMPARATORS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];

const RUN_IDENTIFIERS: &[&str] = &["metric", "parameter", "tag", "attribute", "dataset"];
const REGISTRY_IDENTIFIERS: &[&str] = &["attribute", "tag", "tags"];

const RUN_SEARCH_ATTRIBUTES: &[&str] = &[
    "Created",
    "Run Name",
    "Run name",
    "artifact_uri",
    "created",
    "end_time",
    "run name",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
];
const RUN_ORDER_ATTRIBUTES: &[&str] = &[
    "Created",
    "artifact_uri",
    "created",
    "end_time",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
];
const DATASET_KEYS: &[&str] = &["context", "digest", "name"];
const EXPERIMENT_ATTRIBUTES: &[&str] = &["creation_time", "experiment_id", "last_update_time", "name"];
const REGISTERED_MODEL_SEARCH_ATTRIBUTES: &[&str] = &["name"];
const REGISTERED_MODEL_ORDER_KEYS: &[&str] = &["last_updated_timestamp", "name", "timestamp"];
const MODEL_VERSION_SEARCH_ATTRIBUTES: &[&str] = &["name", "run_id", "source_path", "version_number"];
const MODEL_VERSION_ORDER_ATTRIBUTES: &[&str] =
    &["creation_timestamp", "last_updated_timestamp", "name", "version_number"];
const MODEL_VERSION_NUMERIC_ATTRIBUTES: &[&str] = &["creation_timestamp", "last_updated_timestamp", "version_number"];

const LOGGED_MODEL_IDENTIFIERS: &[&str] = &["attributes", "metrics", "params", "tags"];
const LOGGED_MODEL_ATTRIBUTES: &[&str] = &[
    "creation_time",
    "creation_timestamp",
    "last_updated_time",
    "last_updated_timestamp",
    "model_id",
    "model_type",
    "name",
    "source_run_id",
    "status",
];
/// MLflow's `numeric_ops` / `string_ops` of `search_logged_model_utils`, in its order.
const LOGGED_MODEL_NUMERIC_COMPARATORS: &[&str] = &["<", "<=", ">", ">=", "=", "!="];
const LOGGED_MODEL_STRING_COMPARATORS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
/// The only entity prefix allowed in a logged-model `order_by` field name.
const LOGGED_MODEL_METRIC_PREFIX: &str = "metrics.";
/// `LoggedModelStatus` names (MLflow's entity values) and the proto enum names Kiln stores, in
/// MLflow's numeric order (`to_int`).
const LOGGED_MODEL_STATUSES: &[(&str, &str)] = &[
    ("UNSPECIFIED", "LOGGED_MODEL_STATUS_UNSPECIFIED"),
    ("PENDING", "LOGGED_MODEL_PENDING"),
    ("READY", "LOGGED_MODEL_READY"),
    ("FAILED", "LOGGED_MODEL_UPLOAD_FAILED"),
];

/// Tag marking registered models / model versions that are prompts.
const IS_PROMPT_TAG_KEY: &str = "mlflow.prompt.is_prompt";
/// `run_input_tags` key holding a dataset input's context.
const DATASET_CONTEXT_TAG_KEY: &str = "mlflow.data.context";

fn list_supported_keys(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Runs => &["run_id"],
        Entity::Experiments => &["experiment_id"],
        Entity::RegisteredModels => &["name"],
        Entity::ModelVersions => &["name", "run_id"],
        Entity::LoggedModels => &["model_id", "model_type", "name", "source_run_id", "status"],
    }
}

/// How an attribute behaves in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrKind {
    /// String column.
    Str,
    /// Numeric column; `int_only` rejects float literals (experiments).
    Numeric { int_only: bool },
    /// Experiments' `experiment_id`: quoted strings holding integers.
    ExperimentId,
    /// Model versions' `version_number`: integer literal or quoted integer.
    VersionNumber,
}

/// Canonical attribute name and kind, for a key already checked against the entity's list.
fn attribute_info(entity: Entity, key: &str) -> (&'static str, AttrKind) {
    match entity {
        Entity::Runs => match key {
            "start_time" | "created" | "Created" => ("start_time", AttrKind::Numeric { int_only: false }),
            "end_time" => ("end_time", AttrKind::Numeric { int_only: false }),
            "run_name" | "run name" | "Run name" | "Run Name" => ("run_name", AttrKind::Str),
            "status" => ("status", AttrKind::Str),
            "user_id" => ("user_id", AttrKind::Str),
            "artifact_uri" => ("artifact_uri", AttrKind::Str),
            _ => ("run_id", AttrKind::Str),
        },
        Entity::Experiments => match key {
            "experiment_id" => ("experiment_id", AttrKind::ExperimentId),
            "creation_time" => ("creation_time", AttrKind::Numeric { int_only: true }),
            "last_update_time" => ("last_update_time", AttrKind::Numeric { int_only: true }),
            _ => ("name", AttrKind::Str),
        },
        Entity::RegisteredModels => ("name", AttrKind::Str),
        Entity::ModelVersions => match key {
            "version_number" => ("version_number", AttrKind::VersionNumber),
            "run_id" => ("run_id", AttrKind::Str),
            "source_path" => ("source_path", AttrKind::Str),
            _ => ("name", AttrKind::Str),
        },
        Entity::LoggedModels => match key {
            "creation_timestamp" | "creation_time" => ("creation_timestamp", AttrKind::Numeric { int_only: false }),
            "last_updated_timestamp" | "last_updated_time" => {
                ("last_updated_timestamp", AttrKind::Numeric { int_only: false })
            }
            "model_id" => ("model_id", AttrKind::Str),
            "model_type" => ("model_type", AttrKind::Str),
            "status" => ("status", AttrKind::Str),
            "source_run_id" => ("source_run_id", AttrKind::Str),
            _ => ("name", AttrKind::Str),
        },
    }
}

/// The SQL column (qualified by the main table) behind a canonical attribute name.
fn attribute_column(entity: Entity, key: &str) -> &'static str {
    match (entity, key) {
        (Entity::Runs, "run_id") => "runs.run_uuid",
        (Entity::Runs, "run_name") => "runs.name",
        (Entity::Runs, "status") => "runs.status",
        (Entity::Runs, "user_id") => "runs.user_id",
        (Entity::Runs, "artifact_uri") => "runs.artifact_uri",
        (Entity::Runs, "end_time") => "runs.end_time",
        (Entity::Runs, _) => "runs.start_time",
        (Entity::Experiments, "experiment_id") => "experiments.experiment_id",
        (Entity::Experiments, "creation_time") => "experiments.creation_time",
        (Entity::Experiments, "last_update_time") => "experiments.last_update_time",
        (Entity::Experiments, _) => "experiments.name",
        (Entity::RegisteredModels, "last_updated_timestamp") => "registered_models.last_updated_time",
        (Entity::RegisteredModels, _) => "registered_models.name",
        (Entity::ModelVersions, "version_number") => "model_versions.version",
        (Entity::ModelVersions, "run_id") => "model_versions.run_id",
        (Entity::ModelVersions, "source_path") => "model_versions.source",
        (Entity::ModelVersions, "creation_timestamp") => "model_versions.creation_time",
        (Entity::ModelVersions, "last_updated_timestamp") => "model_versions.last_updated_time",
        (Entity::ModelVersions, _) => "model_versions.name",
        (Entity::LoggedModels, "model_id") => "logged_models.model_id",
        (Entity::LoggedModels, "model_type") => "logged_models.model_type",
        (Entity::LoggedModels, "status") => "logged_models.status",
        (Entity::LoggedModels, "source_run_id") => "logged_models.source_run_id",
        (Entity::LoggedModels, "creation_timestamp") => "logged_models.creation_timestamp",
        (Entity::LoggedModels, "last_updated_timestamp") => "logged_models.last_updated_timestamp",
        (Entity::LoggedModels, _) => "logged_models.name",
    }
}

/// Whether a canonical attribute column may be NULL (it then needs explicit NULLS-LAST ordering).
fn attribute_nullable(entity: Entity, key: &str) -> bool {
    match entity {
        Entity::Runs => key == "end_time",
        Entity::LoggedModels => matches!(key, "model_type" | "source_run_id"),
        Entity::Experiments | Entity::RegisteredModels | Entity::ModelVersions => false,
    }
}

// ------------------------------------------------------------------------------------------------
// Formatting helpers for messages
// ------------------------------------------------------------------------------------------------

/// `{'a', 'b'}` — MLflow prints Python sets in its messages.
fn py_set(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// `['a', 'b']`.
fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", inner.join(", "))
}

/// `('a', 'b')`.
fn py_tuple(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("({})", inner.join(", "))
}

/// The start of `s` up to the first whitespace, at most 40 characters (char-boundary safe).
fn preview(s: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if c.is_whitespace() {
            break;
        }
        if n == MAX {
            out.push_str("...");
            break;
        }
        out.push(c);
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Scanner
// ------------------------------------------------------------------------------------------------

struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn eof(&self) -> bool {
        self.rest().is_empty()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Moves forward by `bytes`, which must come from a slice of `rest()`.
    fn advance(&mut self, bytes: usize) {
        self.pos = (self.pos + bytes).min(self.src.len());
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.advance(c.len_utf8());
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// The leading run of word characters (letters, digits, `_`, `$`, `#`), not consumed.
    fn peek_word(&self) -> &'a str {
        let rest = self.rest();
        let end = rest
            .char_indices()
            .find(|&(_, c)| !is_word_char(c))
            .map_or(rest.len(), |(i, _)| i);
        rest.get(..end).unwrap_or("")
    }

    fn take_word(&mut self) -> &'a str {
        let word = self.peek_word();
        self.advance(word.len());
        word
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    fn preview(&self) -> String {
        preview(self.rest())
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '#'
}

/// Scans a quoted token at the start of `s` (which begins with `quote`), following sqlparse's
/// rules: a doubled quote (and, unless `quote` is a backtick, a backslash-escaped quote) stays
/// inside the token; the content is returned verbatim. When the text ends before a closing
/// quote, the last doubled/escaped quote is re-read as the end, as sqlparse's regex
/// backtracking does. Returns `(content, bytes consumed)`.
fn scan_quoted(s: &str, quote: u8) -> Option<(&str, usize)> {
    let bytes = s.as_bytes();
    let backslash_escapes = quote != b'`';
    let mut i = 1;
    // Position of the last two-byte escape and whether it was a backslash escape.
    let mut last_pair: Option<(usize, bool)> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                last_pair = Some((i, false));
                i += 2;
                continue;
            }
            return Some((s.get(1..i)?, i + 1));
        }
        if backslash_escapes && b == b'\\' && bytes.get(i + 1) == Some(&quote) {
            last_pair = Some((i, true));
            i += 2;
            continue;
        }
        i += 1;
    }
    match last_pair {
        Some((p, true)) => Some((s.get(1..p + 1)?, p + 2)),
        Some((p, false)) => Some((s.get(1..p)?, p + 1)),
        None => None,
    }
}

// ------------------------------------------------------------------------------------------------
// Identifiers
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SegmentKind {
    Bare,
    Backquoted,
    DoubleQuoted,
}

#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    /// As written, quotes included.
    raw: &'a str,
    /// Without the quotes.
    content: &'a str,
    kind: SegmentKind,
}

/// A dotted identifier as written, e.g. ``metrics.`my key` `` or `tags.mlflow.runName`.
#[derive(Debug, Clone)]
struct RawIdent<'a> {
    raw: &'a str,
    segments: Vec<Segment<'a>>,
}

impl<'a> RawIdent<'a> {
    /// The entity-type prefix (backticks removed), if the identifier has one.
    fn prefix(&self) -> Option<&'a str> {
        if self.segments.len() < 2 {
            return None;
        }
        let first = self.segments[0];
        Some(match first.kind {
            SegmentKind::Backquoted => first.content,
            SegmentKind::Bare | SegmentKind::DoubleQuoted => first.raw,
        })
    }

    /// The key: everything after the prefix; a single quoted part loses its quotes.
    fn key(&self) -> String {
        let parts = if self.segments.len() < 2 {
            &self.segments[..]
        } else {
            &self.segments[1..]
        };
        match parts {
            [only] => only.content.to_string(),
            _ => parts.iter().map(|s| s.raw).collect::<Vec<_>>().join("."),
        }
    }
}

/// Parses a dotted identifier. `Ok(None)` when the input does not start with one.
fn parse_ident<'a>(cur: &mut Cursor<'a>) -> Result<Option<RawIdent<'a>>, FilterError> {
    let start = cur.pos;
    let mut segments = Vec::new();
    loop {
        let seg_start = cur.pos;
        let segment = match cur.peek() {
            Some(q @ ('`' | '"')) => {
                let Some((content, len)) = scan_quoted(cur.rest(), q as u8) else {
                    return Err(FilterError::new(format!(
                        "Invalid identifier: unterminated quoted name starting at '{}'. Expected \
                         a closing {q}",
                        cur.preview()
                    )));
                };
                cur.advance(len);
                let kind = if q == '`' {
                    SegmentKind::Backquoted
                } else {
                    SegmentKind::DoubleQuoted
                };
                Segment {
                    raw: cur.slice(seg_start, cur.pos),
                    content,
                    kind,
                }
            }
            Some(c) if is_word_char(c) => {
                let word = cur.take_word();
                Segment {
                    raw: word,
                    content: word,
                    kind: SegmentKind::Bare,
                }
            }
            _ => {
                if segments.is_empty() {
                    return Ok(None);
                }
                return Err(FilterError::new(format!(
                    "Invalid identifier '{}'. Expected a key name after '.', e.g. \
                     'metrics.<key>', 'params.<key>', 'tags.<key>' or 'attributes.<key>'",
                    cur.slice(start, cur.pos)
                )));
            }
        };
        segments.push(segment);
        if cur.peek() == Some('.') {
            cur.bump();
            continue;
        }
        break;
    }
    Ok(Some(RawIdent {
        raw: cur.slice(start, cur.pos),
        segments,
    }))
}

/// Resolves a filter identifier into `(key type, key)`; attribute keys are not canonicalized.
fn resolve_filter_key(entity: Entity, ident: &RawIdent<'_>) -> Result<(KeyType, String), FilterError> {
    let (key_type, key) = resolve_prefix(entity, ident)?;
    if key.is_empty() {
        return Err(FilterError::new(format!(
            "Invalid identifier '{}': the key name is empty",
            ident.raw
        )));
    }
    match key_type {
        KeyType::Attribute => {
            let valid = match entity {
                Entity::Runs => RUN_SEARCH_ATTRIBUTES,
                Entity::Experiments => EXPERIMENT_ATTRIBUTES,
                Entity::RegisteredModels => REGISTERED_MODEL_SEARCH_ATTRIBUTES,
                Entity::ModelVersions => MODEL_VERSION_SEARCH_ATTRIBUTES,
                Entity::LoggedModels => LOGGED_MODEL_ATTRIBUTES,
            };
            if !valid.contains(&key.as_str()) {
                return Err(invalid_attribute_key(&key, valid));
            }
        }
        KeyType::Dataset => {
            if !DATASET_KEYS.contains(&key.as_str()) {
                return Err(FilterError::new(format!(
                    "Invalid dataset key '{key}' specified. Valid keys are '{}'",
                    py_set(DATASET_KEYS)
                )));
            }
        }
        KeyType::Metric | KeyType::Param | KeyType::Tag => {}
    }
    Ok((key_type, key))
}

fn invalid_attribute_key(key: &str, valid: &[&str]) -> FilterError {
    FilterError::new(format!(
        "Invalid attribute key '{key}' specified. Valid keys are '{}'",
        py_set(valid)
    ))
}

/// Splits the entity-type prefix off an identifier and checks it against the entity's list.
fn resolve_prefix(entity: Entity, ident: &RawIdent<'_>) -> Result<(KeyType, String), FilterError> {
    let key = ident.key();
    let Some(prefix) = ident.prefix() else {
        return Ok((KeyType::Attribute, key));
    };
    let key_type = match entity {
        Entity::Runs => match prefix {
            "metric" | "metrics" => KeyType::Metric,
            "parameter" | "parameters" | "param" | "params" => KeyType::Param,
            "tag" | "tags" => KeyType::Tag,
            "attribute" | "attributes" | "attr" | "run" => KeyType::Attribute,
            "dataset" | "datasets" => KeyType::Dataset,
            _ => {
                return Err(FilterError::new(format!(
                    "Invalid entity type '{prefix}'. Valid values are {}",
                    py_list(RUN_IDENTIFIERS)
                )))
            }
        },
        Entity::LoggedModels => match prefix {
            "attributes" => KeyType::Attribute,
            "metrics" => KeyType::Metric,
            "params" => KeyType::Param,
            "tags" => KeyType::Tag,
            _ => {
                return Err(FilterError::new(format!(
                    "Invalid entity type: '{prefix}'. Expected one of {}.",
                    py_list(LOGGED_MODEL_IDENTIFIERS)
                )))
            }
        },
        Entity::Experiments | Entity::RegisteredModels | Entity::ModelVersions => match prefix {
            "attribute" => KeyType::Attribute,
            "tag" | "tags" => KeyType::Tag,
            _ => {
                return Err(FilterError::new(format!(
                    "Invalid entity type '{prefix}'. Valid entity types are {}",
                    py_tuple(REGISTRY_IDENTIFIERS)
                )))
            }
        },
    };
    Ok((key_type, key))
}

/// Resolves an `order_by` identifier into `(key type, canonical key)`.
fn resolve_order_key(entity: Entity, ident: &RawIdent<'_>) -> Result<(KeyType, String), FilterError> {
    if entity == Entity::LoggedModels {
        return logged_model_order_key(ident.raw);
    }
    if entity == Entity::RegisteredModels {
        // MLflow's SQL registry store only accepts the bare keys here.
        let key = ident.key();
        if ident.prefix().is_some() || !REGISTERED_MODEL_ORDER_KEYS.contains(&key.as_str()) {
            return Err(FilterError::new(format!(
                "Invalid order by key '{}' specified. Valid keys are '{}'",
                ident.raw,
                py_set(REGISTERED_MODEL_ORDER_KEYS)
            )));
        }
        let canonical = if key == "timestamp" {
            "last_updated_timestamp"
        } else {
            key.as_str()
        };
        return Ok((KeyType::Attribute, canonical.to_string()));
    }

    let (key_type, key) = resolve_prefix(entity, ident)?;
    if key.is_empty() {
        return Err(FilterError::new(format!(
            "Invalid identifier '{}': the key name is empty",
            ident.raw
        )));
    }
    match (entity, key_type) {
        (Entity::Runs, KeyType::Attribute) => {
            if !RUN_ORDER_ATTRIBUTES.contains(&key.as_str()) {
                return Err(invalid_attribute_key(&key, RUN_ORDER_ATTRIBUTES));
            }
            let (canonical, _) = attribute_info(entity, &key);
            Ok((KeyType::Attribute, canonical.to_string()))
        }
        (Entity::Runs, KeyType::Dataset) => Err(FilterError::new(format!(
            "Invalid identifier type 'dataset' in order_by clause '{}'. Runs can be ordered by \
             attributes, metrics, params and tags",
            ident.raw
        ))),
        (Entity::Runs, _) => Ok((key_type, key)),
        (Entity::Experiments, KeyType::Attribute) => {
            if !EXPERIMENT_ATTRIBUTES.contains(&key.as_str()) {
                return Err(invalid_attribute_key(&key, EXPERIMENT_ATTRIBUTES));
            }
            Ok((KeyType::Attribute, key))
        }
        (Entity::Experiments, _) => Ok((key_type, key)),
        (Entity::ModelVersions, KeyType::Attribute) => {
            if !MODEL_VERSION_ORDER_ATTRIBUTES.contains(&key.as_str()) {
                return Err(invalid_attribute_key(&key, MODEL_VERSION_ORDER_ATTRIBUTES));
            }
            Ok((KeyType::Attribute, key))
        }
        (Entity::ModelVersions, _) => Err(FilterError::new(format!(
            "Invalid order by key '{key}' specified. Valid keys are {}",
            py_set(MODEL_VERSION_ORDER_ATTRIBUTES)
        ))),
        (Entity::RegisteredModels | Entity::LoggedModels, _) => Ok((key_type, key)),
    }
}

// ------------------------------------------------------------------------------------------------
// Comparisons
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum ListItem<'a> {
    Str(&'a str),
    Other(&'a str),
}

#[derive(Debug, Clone)]
enum RawValue<'a> {
    None,
    /// A quoted string (single or double quotes); `raw` keeps the quotes.
    Str {
        content: &'a str,
        raw: &'a str,
    },
    Num {
        raw: &'a str,
        is_int: bool,
    },
    /// An unquoted word.
    Bare(&'a str),
    List {
        items: Vec<ListItem<'a>>,
        raw: &'a str,
    },
}

impl RawValue<'_> {
    fn raw(&self) -> &str {
        match self {
            RawValue::None => "",
            RawValue::Str { raw, .. } | RawValue::List { raw, .. } => raw,
            RawValue::Num { raw, .. } | RawValue::Bare(raw) => raw,
        }
    }
}

fn parse_comparison(entity: Entity, cur: &mut Cursor<'_>) -> Result<Comparison, FilterError> {
    if cur.peek() == Some('(') {
        return Err(FilterError::new(format!(
            "Invalid clause(s) in filter string: '{}'. Parentheses are not supported; combine \
             comparisons with AND",
            cur.preview()
        )));
    }
    let word = cur.peek_word();
    let is_keyword = word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or");
    let ident = match parse_ident(cur)? {
        Some(ident) if !(is_keyword && ident.segments.len() == 1) => ident,
        _ => {
            return Err(FilterError::new(format!(
                "Invalid comparison clause. Expected 'Identifier' found '{}'",
                if is_keyword { word.to_string() } else { cur.preview() }
            )))
        }
    };
    let (key_type, key) = resolve_filter_key(entity, &ident)?;
    cur.skip_ws();
    let op = parse_comparator_token(cur, &ident)?;
    let value = if op == "IS NULL" || op == "IS NOT NULL" {
        RawValue::None
    } else {
        cur.skip_ws();
        parse_value(cur, &ident, &op)?
    };
    check_comparison(entity, key_type, &key, &op, &value)
}

/// Reads the comparison operator (normalized to upper case with single spaces).
fn parse_comparator_token(cur: &mut Cursor<'_>, ident: &RawIdent<'_>) -> Result<String, FilterError> {
    let expected = "a comparison operator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL, \
                    IS NOT NULL)";
    let missing = |cur: &Cursor<'_>| {
        let found = cur.preview();
        let hint = if found.starts_with(['-', '/', ':', '+', '@', '%', '.']) {
            " (quote keys containing special characters with backticks, e.g. tags.`my-key`)"
        } else {
            ""
        };
        if cur.eof() {
            FilterError::new(format!(
                "Invalid comparison clause. Expected {expected} after '{}' but the filter ended",
                ident.raw
            ))
        } else {
            FilterError::new(format!(
                "Invalid comparison clause. Expected {expected} after '{}' found '{found}'{hint}",
                ident.raw
            ))
        }
    };
    let op_len: usize = cur
        .rest()
        .chars()
        .take_while(|c| matches!(c, '<' | '>' | '=' | '~' | '!'))
        .map(char::len_utf8)
        .sum();
    if op_len > 0 {
        let op = cur.slice(cur.pos, cur.pos + op_len).to_string();
        cur.advance(op_len);
        return Ok(op);
    }
    let word = cur.peek_word().to_ascii_uppercase();
    match word.as_str() {
        "LIKE" | "ILIKE" | "RLIKE" | "REGEXP" | "IN" => {
            cur.take_word();
            Ok(word)
        }
        "NOT" => {
            let save = cur.pos;
            cur.take_word();
            cur.skip_ws();
            let next = cur.peek_word().to_ascii_uppercase();
            if matches!(next.as_str(), "IN" | "LIKE" | "ILIKE" | "RLIKE" | "REGEXP") {
                cur.take_word();
                Ok(format!("NOT {next}"))
            } else {
                cur.pos = save;
                Err(missing(cur))
            }
        }
        "IS" => {
            cur.take_word();
            cur.skip_ws();
            let next = cur.peek_word().to_ascii_uppercase();
            let negated = next == "NOT";
            if negated {
                cur.take_word();
                cur.skip_ws();
            }
            if cur.peek_word().eq_ignore_ascii_case("null") {
                cur.take_word();
                Ok(if negated { "IS NOT NULL" } else { "IS NULL" }.to_string())
            } else {
                let found = cur.preview();
                Err(FilterError::new(format!(
                    "Invalid comparison clause. Expected 'NULL' or 'NOT NULL' after '{} IS' found \
                     '{found}'",
                    ident.raw
                )))
            }
        }
        _ => Err(missing(cur)),
    }
}

fn parse_value<'a>(cur: &mut Cursor<'a>, ident: &RawIdent<'_>, op: &str) -> Result<RawValue<'a>, FilterError> {
    let start = cur.pos;
    match cur.peek() {
        None => Err(FilterError::new(format!(
            "Invalid comparison clause. Expected value token after '{} {op}' but the filter ended",
            ident.raw
        ))),
        Some(q @ ('\'' | '"')) => {
            let Some((content, len)) = scan_quoted(cur.rest(), q as u8) else {
                return Err(FilterError::new(format!(
                    "Invalid filter: unterminated string literal starting at '{}'. Expected a \
                     closing {q}",
                    cur.preview()
                )));
            };
            cur.advance(len);
            Ok(RawValue::Str {
                content,
                raw: cur.slice(start, cur.pos),
            })
        }
        Some('(') => parse_list(cur),
        Some(c) => {
            if let Some((len, is_int)) = scan_number(cur.rest()) {
                cur.advance(len);
                return Ok(RawValue::Num {
                    raw: cur.slice(start, cur.pos),
                    is_int,
                });
            }
            if is_word_char(c) {
                let word = cur.take_word();
                return Ok(RawValue::Bare(word));
            }
            Err(FilterError::new(format!(
                "Invalid comparison clause. Expected value token after '{} {op}' found '{}'",
                ident.raw,
                cur.preview()
            )))
        }
    }
}

/// Recognizes a numeric literal at the start of `s`: `-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`
/// not followed by a word character. Returns `(bytes, is_integer)`.
fn scan_number(s: &str) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut is_int = true;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if int_digits > 0 || j > frac_start {
            is_int = false;
            i = j;
        }
    }
    if int_digits == 0 && is_int {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            is_int = false;
            i = j;
        }
    }
    let rest = s.get(i..)?;
    if rest.chars().next().is_some_and(is_word_char) {
        return None;
    }
    Some((i, is_int))
}

fn parse_list<'a>(cur: &mut Cursor<'a>) -> Result<RawValue<'a>, FilterError> {
    let start = cur.pos;
    let ill_formed = |cur: &Cursor<'_>, what: &str| {
        FilterError::new(format!(
            "While parsing a list in the query, expected a non-empty list of string values, but \
             got ill-formed list: {what} at '{}'",
            cur.preview()
        ))
    };
    cur.bump(); // '('
    let mut items = Vec::new();
    loop {
        cur.skip_ws();
        match cur.peek() {
            None => return Err(ill_formed(cur, "missing ')'")),
            Some(')') => {
                cur.bump();
                break;
            }
            Some(q @ ('\'' | '"')) => {
                let Some((content, len)) = scan_quoted(cur.rest(), q as u8) else {
                    return Err(ill_formed(cur, "unterminated string"));
                };
                cur.advance(len);
                items.push(ListItem::Str(content));
            }
            Some(c) => {
                let len = scan_number(cur.rest()).map_or_else(
                    || {
                        if is_word_char(c) {
                            cur.peek_word().len()
                        } else {
                            0
                        }
                    },
                    |(len, _)| len,
                );
                if len == 0 {
                    return Err(ill_formed(cur, "unexpected character"));
                }
                let item = cur.slice(cur.pos, cur.pos + len);
                cur.advance(len);
                items.push(ListItem::Other(item));
            }
        }
        cur.skip_ws();
        match cur.peek() {
            Some(',') => {
                cur.bump();
            }
            Some(')') => {
                cur.bump();
                break;
            }
            None => return Err(ill_formed(cur, "missing ')'")),
            Some(_) => return Err(ill_formed(cur, "expected ',' or ')'")),
        }
    }
    Ok(RawValue::List {
        items,
        raw: cur.slice(start, cur.pos),
    })
}

/// What kind of key a comparison is on, with the pieces needed to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Metric,
    /// Runs' params and tags, experiments' tags (support IS NULL / IS NOT NULL).
    NullableStr,
    /// Registered model / model version tags.
    RegistryTag,
    Attr(AttrKind),
    Dataset,
}

fn invalid_comparator(op: &str, allowed: &[&str], key_type: KeyType, key: &str) -> FilterError {
    FilterError::new(format!(
        "Invalid comparator '{op}' not one of '{}' for {} '{key}'",
        py_set(allowed),
        key_type.as_str()
    ))
}

fn quoted_string_error(key_type: KeyType, value: &RawValue<'_>) -> FilterError {
    if let RawValue::Bare(word) = value {
        return FilterError::new(format!(
            "Parameter value is either not quoted or unidentified quote types used for string \
             value {word}. Use either single or double quotes."
        ));
    }
    let what = match key_type {
        KeyType::Param | KeyType::Tag => format!("{} (e.g. 'my-value')", key_type.as_str()),
        KeyType::Dataset => "dataset attributes".to_string(),
        KeyType::Metric | KeyType::Attribute => "attributes".to_string(),
    };
    FilterError::new(format!(
        "Expected a quoted string value for {what}. Got value {}",
        value.raw()
    ))
}

fn list_strings(items: &[ListItem<'_>], raw: &str) -> Result<Vec<String>, FilterError> {
    if items.is_empty() {
        return Err(FilterError::new(
            "While parsing a list in the query, expected a non-empty list of string values, but \
             got empty list",
        ));
    }
    items
        .iter()
        .map(|item| match item {
            ListItem::Str(s) => Ok((*s).to_string()),
            ListItem::Other(other) => Err(FilterError::new(format!(
                "While parsing a list in the query, expected string value, punctuation, or \
                 whitespace, but got different type in list: {raw} (unquoted value '{other}')"
            ))),
        })
        .collect()
}

fn parse_experiment_id(s: &str) -> Result<i64, FilterError> {
    s.trim().parse::<i64>().map_err(|_| {
        FilterError::new(format!(
            "Invalid experiment ID '{s}'. Experiment ID must be a valid integer."
        ))
    })
}

fn check_comparison(
    entity: Entity,
    key_type: KeyType,
    key: &str,
    op: &str,
    value: &RawValue<'_>,
) -> Result<Comparison, FilterError> {
    let registry = matches!(entity, Entity::RegisteredModels | Entity::ModelVersions);
    // Messages name the key as written (`created`); the AST holds the canonical name.
    let (kind, canonical) = match key_type {
        KeyType::Metric => (Kind::Metric, key.to_string()),
        KeyType::Param => (Kind::NullableStr, key.to_string()),
        KeyType::Tag if registry => (Kind::RegistryTag, key.to_string()),
        KeyType::Tag => (Kind::NullableStr, key.to_string()),
        KeyType::Dataset => (Kind::Dataset, key.to_string()),
        KeyType::Attribute => {
            let (canonical, attr) = attribute_info(entity, key);
            (Kind::Attr(attr), canonical.to_string())
        }
    };

    // IS NULL / IS NOT NULL: only params and tags (runs), tags (experiments).
    if op == "IS NULL" || op == "IS NOT NULL" {
        if kind == Kind::NullableStr {
            let comparator = if op == "IS NULL" {
                Comparator::IsNull
            } else {
                Comparator::IsNotNull
            };
            return Ok(Comparison {
                key_type,
                key: canonical,
                comparator,
                value: FilterValue::None,
            });
        }
        return Err(match entity {
            Entity::Runs => FilterError::new(format!(
                "IS NULL / IS NOT NULL is only supported for tags and params, not for '{}' '{key}'",
                key_type.as_str()
            )),
            Entity::Experiments => FilterError::new(format!(
                "IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'"
            )),
            Entity::RegisteredModels | Entity::ModelVersions | Entity::LoggedModels => {
                let allowed = match kind {
                    Kind::RegistryTag => REGISTRY_TAG_COMPARATORS,
                    Kind::Attr(AttrKind::VersionNumber) => NUMERIC_COMPARATORS,
                    _ => STRING_ATTRIBUTE_COMPARATORS,
                };
                invalid_comparator(op, allowed, key_type, key)
            }
        });
    }

    let is_list_op = op == "IN" || op == "NOT IN";
    // Lists only work for a few attributes per entity.
    if is_list_op {
        if let Kind::Attr(_) = kind {
            let supported = list_supported_keys(entity);
            if !supported.contains(&canonical.as_str()) {
                return Err(FilterError::new(format!(
                    "Only {} attributes support comparison with a list of quoted string values \
                     (got {op} on attribute '{key}').",
                    py_list(supported)
                )));
            }
        }
    }

    let allowed: &[&str] = match kind {
        Kind::Metric | Kind::Attr(AttrKind::Numeric { .. } | AttrKind::VersionNumber) => NUMERIC_COMPARATORS,
        Kind::NullableStr => PARAM_TAG_COMPARATORS,
        Kind::RegistryTag => REGISTRY_TAG_COMPARATORS,
        Kind::Attr(AttrKind::Str) => STRING_ATTRIBUTE_COMPARATORS,
        Kind::Attr(AttrKind::ExperimentId) => EXPERIMENT_ID_COMPARATORS,
        Kind::Dataset => DATASET_COMPARATORS,
    };
    let comparator = match Comparator::from_token(op) {
        Some(c) if allowed.contains(&op) => c,
        _ => return Err(invalid_comparator(op, allowed, key_type, key)),
    };

    // Shape: IN / NOT IN take a list, everything else a single value.
    match (value, is_list_op) {
        (RawValue::List { .. }, false) => {
            return Err(FilterError::new(format!(
                "Invalid value for comparator '{op}' on {} '{key}': expected a single value, \
                 found the list {}",
                key_type.as_str(),
                value.raw()
            )))
        }
        (RawValue::List { .. }, true) | (_, false) => {}
        (_, true) => {
            return Err(FilterError::new(format!(
                "Invalid value for comparator '{op}' on {} '{key}': expected a parenthesized \
                 list of quoted strings, e.g. ('a', 'b'), found {}",
                key_type.as_str(),
                value.raw()
            )))
        }
    }

    let value = match kind {
        Kind::Metric => match value {
            RawValue::Num { raw, .. } => FilterValue::Float(
                raw.parse::<f64>()
                    .map_err(|_| FilterError::new(format!("Expected numeric value type for metric. Found {raw}")))?,
            ),
            other => {
                return Err(FilterError::new(format!(
                    "Expected numeric value type for metric. Found {}",
                    other.raw()
                )))
            }
        },
        Kind::NullableStr | Kind::RegistryTag => match value {
            RawValue::Str { content, .. } => FilterValue::Str((*content).to_string()),
            other => return Err(quoted_string_error(key_type, other)),
        },
        Kind::Dataset => match value {
            RawValue::Str { content, .. } => FilterValue::Str((*content).to_string()),
            RawValue::List { items, raw } => FilterValue::StrList(list_strings(items, raw)?),
            other => return Err(quoted_string_error(key_type, other)),
        },
        Kind::Attr(AttrKind::Str) => match value {
            RawValue::Str { content, .. } => FilterValue::Str((*content).to_string()),
            RawValue::List { items, raw } => FilterValue::StrList(list_strings(items, raw)?),
            RawValue::Num { .. } if entity == Entity::ModelVersions => {
                return Err(FilterError::new(format!(
                    "Only the '{}' attributes support comparison with numeric values (got {} for \
                     attribute '{key}').",
                    py_set(MODEL_VERSION_NUMERIC_ATTRIBUTES),
                    value.raw()
                )))
            }
            RawValue::Num { raw, .. } if registry => {
                return Err(FilterError::new(format!(
                    "Expected a quoted string value or a list of quoted string values for \
                     attributes. Got value {raw}"
                )))
            }
            other => return Err(quoted_string_error(key_type, other)),
        },
        Kind::Attr(AttrKind::ExperimentId) => match value {
            RawValue::Str { content, .. } => FilterValue::Int(parse_experiment_id(content)?),
            RawValue::List { items, raw } => FilterValue::IntList(
                list_strings(items, raw)?
                    .iter()
                    .map(|s| parse_experiment_id(s))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            other => return Err(quoted_string_error(key_type, other)),
        },
        Kind::Attr(AttrKind::Numeric { int_only }) => match value {
            RawValue::Num { raw, is_int } => {
                let as_int = if *is_int { raw.parse::<i64>().ok() } else { None };
                match as_int {
                    Some(i) => FilterValue::Int(i),
                    None if int_only => {
                        return Err(FilterError::new(format!(
                            "Invalid value for numeric attribute '{key}': '{raw}'. Expected an \
                             integer"
                        )))
                    }
                    None => FilterValue::Float(raw.parse::<f64>().map_err(|_| {
                        FilterError::new(format!(
                            "Expected numeric value type for numeric attribute: {key}. Found {raw}"
                        ))
                    })?),
                }
            }
            other => {
                return Err(FilterError::new(format!(
                    "Expected numeric value type for numeric attribute: {key}. Found {}",
                    other.raw()
                )))
            }
        },
        Kind::Attr(AttrKind::VersionNumber) => {
            let parsed = match value {
                RawValue::Num { raw, is_int: true } => raw.parse::<i64>().ok(),
                RawValue::Str { content, .. } => content.trim().parse::<i64>().ok(),
                _ => None,
            };
            match parsed {
                Some(i) => FilterValue::Int(i),
                None => {
                    return Err(FilterError::new(format!(
                        "Invalid value for numeric attribute '{key}': {}. Expected an integer",
                        value.raw()
                    )))
                }
            }
        }
    };
    Ok(Comparison {
        key_type,
        key: canonical,
        comparator,
        value,
    })
}

// ------------------------------------------------------------------------------------------------
// SQL generation
// ------------------------------------------------------------------------------------------------

struct Binds {
    next: usize,
    values: Vec<SqlValue>,
}

impl Binds {
    fn new(first: usize) -> Self {
        Self {
            next: first.max(1),
            values: Vec::new(),
        }
    }

    fn push(&mut self, value: SqlValue) -> String {
        let placeholder = format!("${}", self.next);
        self.next += 1;
        self.values.push(value);
        placeholder
    }

    fn text(&mut self, s: &str) -> String {
        self.push(SqlValue::Text(s.to_string()))
    }
}

/// `column <op> value` for a string / numeric column with the dialect's LIKE handling.
fn compare_sql(
    dialect: Dialect,
    column: &str,
    comparator: Comparator,
    value: &FilterValue,
    binds: &mut Binds,
) -> String {
    let scalar = |binds: &mut Binds, v: &FilterValue| match v {
        FilterValue::Str(s) => binds.text(s),
        FilterValue::Int(i) => binds.push(SqlValue::Int(*i)),
        FilterValue::Float(f) => binds.push(SqlValue::Float(*f)),
        // Lists / None never reach a scalar comparison (checked by the parser).
        FilterValue::None | FilterValue::StrList(_) | FilterValue::IntList(_) => "NULL".to_string(),
    };
    match comparator {
        Comparator::Like => {
            if let (Dialect::Sqlite, FilterValue::Str(pattern)) = (dialect, value) {
                let p = binds.text(&like_to_glob(pattern));
                format!("{column} GLOB {p}")
            } else {
                let p = scalar(binds, value);
                format!("{column} LIKE {p}")
            }
        }
        Comparator::ILike => {
            let p = scalar(binds, value);
            match dialect {
                Dialect::Sqlite => format!("LOWER({column}) LIKE LOWER({p})"),
                Dialect::Postgres => format!("{column} ILIKE {p}"),
            }
        }
        Comparator::In | Comparator::NotIn => {
            let placeholders: Vec<String> = match value {
                FilterValue::StrList(items) => items.iter().map(|s| binds.text(s)).collect(),
                FilterValue::IntList(items) => items.iter().map(|i| binds.push(SqlValue::Int(*i))).collect(),
                other => vec![scalar(binds, other)],
            };
            format!("{column} {} ({})", comparator.as_str(), placeholders.join(", "))
        }
        Comparator::IsNull | Comparator::IsNotNull => {
            format!("{column} {}", comparator.as_str())
        }
        Comparator::Eq | Comparator::Ne | Comparator::Gt | Comparator::Ge | Comparator::Lt | Comparator::Le => {
            let p = scalar(binds, value);
            format!("{column} {} {p}", comparator.as_str())
        }
    }
}

/// The correlated key/value table behind `tags.` (and `params.` / `metrics.` for runs), with
/// the condition tying an alias of it to the main row.
fn kv_table(entity: Entity, key_type: KeyType, alias: &str) -> (&'static str, String) {
    match (entity, key_type) {
        (Entity::Runs, KeyType::Metric) => ("latest_metrics", format!("{alias}.run_pk = runs.run_pk")),
        (Entity::Runs, KeyType::Param) => ("params", format!("{alias}.run_uuid = runs.run_uuid")),
        (Entity::Runs, _) => ("tags", format!("{alias}.run_uuid = runs.run_uuid")),
        (Entity::Experiments, _) => (
            "experiment_tags",
            format!("{alias}.experiment_id = experiments.experiment_id"),
        ),
        (Entity::RegisteredModels, _) => (
            "registered_model_tags",
            format!("{alias}.name = registered_models.name"),
        ),
        (Entity::ModelVersions, _) => (
            "model_version_tags",
            format!("{alias}.name = model_versions.name AND {alias}.version = model_versions.version"),
        ),
        (Entity::LoggedModels, KeyType::Metric) => (
            "logged_model_metrics",
            format!("{alias}.model_id = logged_models.model_id"),
        ),
        (Entity::LoggedModels, KeyType::Param) => (
            "logged_model_params",
            format!("{alias}.model_id = logged_models.model_id"),
        ),
        (Entity::LoggedModels, _) => (
            "logged_model_tags",
            format!("{alias}.model_id = logged_models.model_id"),
        ),
    }
}

fn comparison_sql(entity: Entity, dialect: Dialect, c: &Comparison, index: usize, binds: &mut Binds) -> String {
    let alias = format!("f{index}");
    match c.key_type {
        KeyType::Attribute => compare_sql(dialect, attribute_column(entity, &c.key), c.comparator, &c.value, binds),
        KeyType::Dataset => {
            if c.key == "context" {
                let k = binds.text(DATASET_CONTEXT_TAG_KEY);
                let cond = compare_sql(dialect, &format!("{alias}.value"), c.comparator, &c.value, binds);
                format!(
                    "EXISTS (SELECT 1 FROM run_input_tags {alias} WHERE {alias}.run_uuid = \
                     runs.run_uuid AND {alias}.key = {k} AND {cond})"
                )
            } else {
                let column = if c.key == "digest" { "digest" } else { "name" };
                let cond = compare_sql(dialect, &format!("{alias}d.{column}"), c.comparator, &c.value, binds);
                format!(
                    "EXISTS (SELECT 1 FROM run_inputs {alias} JOIN datasets {alias}d ON \
                     {alias}d.dataset_uuid = {alias}.dataset_uuid WHERE {alias}.run_uuid = \
                     runs.run_uuid AND {cond})"
                )
            }
        }
        KeyType::Metric | KeyType::Param | KeyType::Tag => {
            let (table, correlation) = kv_table(entity, c.key_type, &alias);
            let k = binds.text(&c.key);
            let base = format!("SELECT 1 FROM {table} {alias} WHERE {correlation} AND {alias}.key = {k}");
            match c.comparator {
                Comparator::IsNull => format!("NOT EXISTS ({base})"),
                Comparator::IsNotNull => format!("EXISTS ({base})"),
                _ => {
                    let value_col = format!("{alias}.value");
                    let mut cond = compare_sql(dialect, &value_col, c.comparator, &c.value, binds);
                    if c.key_type == KeyType::Metric {
                        // NaN is stored as is_nan = 1 (value 0): it only satisfies '!='.
                        cond = if c.comparator == Comparator::Ne {
                            format!("({cond} OR {alias}.is_nan = 1)")
                        } else {
                            format!("{cond} AND {alias}.is_nan = 0")
                        };
                    }
                    format!("EXISTS ({base} AND {cond})")
                }
            }
        }
    }
}

/// MLflow's `_is_querying_prompt`: the first filter on the prompt tag decides.
fn is_querying_prompts(comparisons: &[Comparison]) -> bool {
    comparisons
        .iter()
        .find(|c| c.key_type == KeyType::Tag && c.key == IS_PROMPT_TAG_KEY)
        .is_some_and(|c| match (&c.value, c.comparator) {
            (FilterValue::Str(v), Comparator::Eq) => v.to_lowercase() == "true",
            (FilterValue::Str(v), Comparator::Ne) => v.to_lowercase() == "false",
            _ => false,
        })
}

fn where_to_sql(entity: Entity, dialect: Dialect, comparisons: &[Comparison], binds: &mut Binds) -> String {
    if entity == Entity::LoggedModels {
        return logged_model_where_sql(dialect, comparisons, &[], binds);
    }
    let registry = matches!(entity, Entity::RegisteredModels | Entity::ModelVersions);
    let exclude_prompts = registry && !is_querying_prompts(comparisons);
    let mut parts: Vec<String> = Vec::with_capacity(comparisons.len() + 1);
    for (index, c) in comparisons.iter().enumerate() {
        // When prompts are excluded MLflow drops the filters on the prompt tag itself.
        if exclude_prompts && c.key_type == KeyType::Tag && c.key == IS_PROMPT_TAG_KEY {
            continue;
        }
        parts.push(comparison_sql(entity, dialect, c, index, binds));
    }
    if exclude_prompts {
        let (table, correlation) = match entity {
            Entity::RegisteredModels => ("registered_model_tags", "px.name = registered_models.name"),
            _ => ("model_version_tags", "px.name = model_versions.name"),
        };
        let k = binds.text(IS_PROMPT_TAG_KEY);
        let v = binds.text("true");
        parts.push(format!(
            "NOT EXISTS (SELECT 1 FROM {table} px WHERE {correlation} AND px.key = {k} AND \
             px.value = {v})"
        ));
    }
    if parts.is_empty() {
        "1=1".to_string()
    } else {
        parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(" AND ")
    }
}

fn direction(ascending: bool) -> &'static str {
    if ascending {
        "ASC"
    } else {
        "DESC"
    }
}

/// Builds `(joins, order_sql)`. Missing values (and NaN metrics, just before them) sort last in
/// both directions, as MLflow's SQL store does for runs.
/// (Logged models go through [`logged_model_order_sql`] instead.)
fn order_to_sql(entity: Entity, orders: &[OrderBy], binds: &mut Binds) -> (String, String) {
    let mut joins: Vec<String> = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    for o in orders {
        let dir = direction(o.ascending);
        match o.key_type {
            KeyType::Attribute => {
                let column = attribute_column(entity, &o.key);
                if attribute_nullable(entity, &o.key) {
                    terms.push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END ASC"));
                }
                terms.push(format!("{column} {dir}"));
            }
            KeyType::Metric | KeyType::Param | KeyType::Tag => {
                let alias = format!("ob{}", joins.len());
                let (table, correlation) = kv_table(entity, o.key_type, &alias);
                let k = binds.text(&o.key);
                joins.push(format!(
                    "LEFT JOIN {table} {alias} ON {correlation} AND {alias}.key = {k}"
                ));
                if o.key_type == KeyType::Metric {
                    terms.push(format!(
                        "CASE WHEN {alias}.is_nan = 1 THEN 1 WHEN {alias}.value IS NULL THEN 2 \
                         ELSE 0 END ASC"
                    ));
                } else {
                    terms.push(format!("CASE WHEN {alias}.value IS NULL THEN 1 ELSE 0 END ASC"));
                }
                terms.push(format!("{alias}.value {dir}"));
            }
            // Rejected by the order_by parser.
            KeyType::Dataset => {}
        }
    }
    (joins.join(" "), terms.join(", "))
}

// ------------------------------------------------------------------------------------------------
// Logged models
// ------------------------------------------------------------------------------------------------

/// Python's `repr()` of a string (MLflow quotes the filter this way in its messages).
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// MLflow's `search_logged_model_utils.parse_filter_string`: comparisons separated by `AND`
/// (stray `AND`s, e.g. a trailing one, are ignored as in MLflow); anything else between
/// comparisons (`OR`, parentheses, `;`) is rejected with MLflow's message.
fn parse_logged_model_filter(filter: &str) -> Result<Vec<Comparison>, FilterError> {
    let invalid = || {
        FilterError::new(format!(
            "Invalid filter string: {}. Expected a list of comparisons separated by 'AND' (e.g. \
             'metrics.loss > 0.1 AND params.lr = 0.01').",
            py_repr(filter)
        ))
    };
    let mut cur = Cursor::new(filter);
    let mut out = Vec::new();
    let mut need_and = false;
    loop {
        cur.skip_ws();
        if cur.eof() {
            return Ok(out);
        }
        let word = cur.peek_word();
        if word.eq_ignore_ascii_case("and") {
            cur.advance(word.len());
            need_and = false;
            continue;
        }
        if need_and || word.eq_ignore_ascii_case("or") || word.eq_ignore_ascii_case("not") {
            return Err(invalid());
        }
        let Some(ident) = parse_ident(&mut cur)? else {
            return Err(invalid());
        };
        let (key_type, key) = resolve_filter_key(Entity::LoggedModels, &ident)?;
        cur.skip_ws();
        let op = parse_comparator_token(&mut cur, &ident)?;
        let value = if op == "IS NULL" || op == "IS NOT NULL" {
            RawValue::None
        } else {
            cur.skip_ws();
            parse_value(&mut cur, &ident, &op)?
        };
        out.push(check_logged_model_comparison(key_type, &key, &op, &value)?);
        need_and = true;
    }
}

/// Types and checks one logged-model comparison (MLflow's `Entity.validate_op` and value
/// conversion); `key` is as written, the result holds the canonical attribute name.
fn check_logged_model_comparison(
    key_type: KeyType,
    key: &str,
    op: &str,
    value: &RawValue<'_>,
) -> Result<Comparison, FilterError> {
    let (canonical, numeric, prefix) = match key_type {
        KeyType::Attribute => {
            let (canonical, kind) = attribute_info(Entity::LoggedModels, key);
            let numeric = matches!(kind, AttrKind::Numeric { .. });
            (canonical.to_string(), numeric, "attributes")
        }
        KeyType::Metric => (key.to_string(), true, "metrics"),
        KeyType::Param => (key.to_string(), false, "params"),
        KeyType::Tag | KeyType::Dataset => (key.to_string(), false, "tags"),
    };
    let allowed = if numeric {
        LOGGED_MODEL_NUMERIC_COMPARATORS
    } else {
        LOGGED_MODEL_STRING_COMPARATORS
    };
    let comparator = match Comparator::from_token(op) {
        Some(c) if allowed.contains(&op) => c,
        _ => {
            return Err(FilterError::new(format!(
                "Invalid comparison operator for {prefix}.{key}: '{op}'. Expected one of {}.",
                py_tuple(allowed)
            )))
        }
    };
    let is_list_op = matches!(comparator, Comparator::In | Comparator::NotIn);
    match (value, is_list_op) {
        (RawValue::List { .. }, false) => {
            return Err(FilterError::new(format!(
                "Invalid value for comparator '{op}' on {} '{key}': expected a single value, \
                 found the list {}",
                key_type.as_str(),
                value.raw()
            )))
        }
        (RawValue::List { .. }, true) | (_, false) => {}
        (_, true) => {
            return Err(FilterError::new(format!(
                "Invalid value for comparator '{op}' on {} '{key}': expected a parenthesized \
                 list of quoted strings, e.g. ('a', 'b'), found {}",
                key_type.as_str(),
                value.raw()
            )))
        }
    }
    let value = if numeric {
        let number = match value {
            RawValue::Num { raw, is_int } => {
                let as_int = if *is_int && key_type == KeyType::Attribute {
                    raw.parse::<i64>().ok()
                } else {
                    None
                };
                match as_int {
                    Some(i) => Some(FilterValue::Int(i)),
                    None => raw.parse::<f64>().ok().map(FilterValue::Float),
                }
            }
            _ => None,
        };
        match number {
            Some(n) => n,
            None if key_type == KeyType::Metric => {
                return Err(FilterError::new(format!(
                    "Expected numeric value type for metric. Found {}",
                    value.raw()
                )))
            }
            None => {
                return Err(FilterError::new(format!(
                    "Expected numeric value type for numeric attribute: {key}. Found {}",
                    value.raw()
                )))
            }
        }
    } else {
        match value {
            RawValue::Str { content, .. } => FilterValue::Str((*content).to_string()),
            RawValue::List { items, raw } => FilterValue::StrList(list_strings(items, raw)?),
            // MLflow takes an unquoted value as its text.
            RawValue::Num { raw, .. } | RawValue::Bare(raw) => FilterValue::Str((*raw).to_string()),
            RawValue::None => FilterValue::None,
        }
    };
    Ok(Comparison {
        key_type,
        key: canonical,
        comparator,
        value,
    })
}

/// Resolves a logged-model `order_by` field name into `(key type, canonical key)`.
fn logged_model_order_key(field_name: &str) -> Result<(KeyType, String), FilterError> {
    let field = field_name.trim();
    if field.is_empty() {
        return Err(FilterError::new(
            "`field_name` in the `order_by` clause must be specified.",
        ));
    }
    if let Some((entity, name)) = field.split_once('.') {
        if entity != "metrics" {
            return Err(FilterError::new(format!(
                "Invalid order by field name: {field}. Only metrics are supported."
            )));
        }
        let name = name.trim();
        let unquoted = ['`', '"']
            .iter()
            .find_map(|q| {
                name.strip_prefix(*q)
                    .and_then(|n| n.strip_suffix(*q))
                    .filter(|_| name.len() >= 2)
            })
            .unwrap_or(name);
        if unquoted.is_empty() {
            return Err(FilterError::new(format!(
                "Invalid order by field name: {field}. Expected 'metrics.<name>' with a metric \
                 name."
            )));
        }
        return Ok((KeyType::Metric, unquoted.to_string()));
    }
    if !LOGGED_MODEL_ATTRIBUTES.contains(&field) {
        return Err(FilterError::new(format!(
            "Invalid order by field name: {field}. Valid field names are '{}' and \
             'metrics.<name>'.",
            py_set(LOGGED_MODEL_ATTRIBUTES)
        )));
    }
    let (canonical, _) = attribute_info(Entity::LoggedModels, field);
    Ok((KeyType::Attribute, canonical.to_string()))
}

/// Normalizes the `datasets` list (empty digests become `None`).
fn check_logged_model_datasets(datasets: &[LoggedModelDataset]) -> Result<Vec<LoggedModelDataset>, FilterError> {
    datasets
        .iter()
        .map(|d| {
            if d.dataset_name.is_empty() {
                return Err(FilterError::new(
                    "`dataset_name` in the `datasets` clause must be specified.",
                ));
            }
            Ok(LoggedModelDataset {
                dataset_name: d.dataset_name.clone(),
                dataset_digest: d.dataset_digest.clone().filter(|g| !g.is_empty()),
            })
        })
        .collect()
}

/// `(alias.dataset_name = $a AND alias.dataset_digest = $b) OR alias.dataset_name = $c ...`.
fn logged_model_dataset_sql(alias: &str, datasets: &[LoggedModelDataset], binds: &mut Binds) -> String {
    let alternatives: Vec<String> = datasets
        .iter()
        .map(|d| {
            let name = binds.text(&d.dataset_name);
            match &d.dataset_digest {
                Some(digest) => {
                    let digest = binds.text(digest);
                    format!("({alias}.dataset_name = {name} AND {alias}.dataset_digest = {digest})")
                }
                None => format!("{alias}.dataset_name = {name}"),
            }
        })
        .collect();
    format!("({})", alternatives.join(" OR "))
}

/// The stored status (proto enum name) for a value compared with `=`, `!=`, `IN`, `NOT IN`:
/// MLflow's names map to Kiln's stored names; anything else is compared as written.
fn logged_model_status_value(value: &str) -> &str {
    LOGGED_MODEL_STATUSES
        .iter()
        .find(|(mlflow, _)| *mlflow == value)
        .map_or(value, |(_, stored)| stored)
}

/// `CASE logged_models.status WHEN '<stored>' THEN <f(i, mlflow name)> ... ELSE <other> END`.
fn logged_model_status_case(then: impl Fn(usize, &str) -> String, other: &str) -> String {
    let whens: Vec<String> = LOGGED_MODEL_STATUSES
        .iter()
        .enumerate()
        .map(|(i, (mlflow, stored))| format!("WHEN '{stored}' THEN {}", then(i, mlflow)))
        .collect();
    format!("(CASE logged_models.status {} ELSE {other} END)", whens.join(" "))
}

fn logged_model_comparison_sql(
    dialect: Dialect,
    c: &Comparison,
    index: usize,
    datasets: &[LoggedModelDataset],
    binds: &mut Binds,
) -> String {
    match c.key_type {
        KeyType::Attribute if c.key == "status" => match (&c.value, c.comparator) {
            (_, Comparator::Like | Comparator::ILike) => {
                let column = logged_model_status_case(|_, mlflow| format!("'{mlflow}'"), "logged_models.status");
                compare_sql(dialect, &column, c.comparator, &c.value, binds)
            }
            (FilterValue::Str(v), _) => compare_sql(
                dialect,
                "logged_models.status",
                c.comparator,
                &FilterValue::Str(logged_model_status_value(v).to_string()),
                binds,
            ),
            (FilterValue::StrList(items), _) => compare_sql(
                dialect,
                "logged_models.status",
                c.comparator,
                &FilterValue::StrList(items.iter().map(|v| logged_model_status_value(v).to_string()).collect()),
                binds,
            ),
            _ => compare_sql(dialect, "logged_models.status", c.comparator, &c.value, binds),
        },
        KeyType::Metric => {
            let alias = format!("f{index}");
            let (table, correlation) = kv_table(Entity::LoggedModels, KeyType::Metric, &alias);
            let k = binds.text(&c.key);
            let value_col = format!("{alias}.value");
            let cond = compare_sql(dialect, &value_col, c.comparator, &c.value, binds);
            // NaN is stored as is_nan = 1: it only satisfies '!='.
            let cond = if c.comparator == Comparator::Ne {
                format!("({cond} OR {alias}.is_nan = 1)")
            } else {
                format!("{cond} AND {alias}.is_nan = 0")
            };
            let on_datasets = if datasets.is_empty() {
                String::new()
            } else {
                format!(" AND {}", logged_model_dataset_sql(&alias, datasets, binds))
            };
            format!(
                "EXISTS (SELECT 1 FROM {table} {alias} WHERE {correlation} AND {alias}.key = {k} \
                 AND {cond}{on_datasets})"
            )
        }
        _ => comparison_sql(Entity::LoggedModels, dialect, c, index, binds),
    }
}

fn logged_model_where_sql(
    dialect: Dialect,
    comparisons: &[Comparison],
    datasets: &[LoggedModelDataset],
    binds: &mut Binds,
) -> String {
    let mut parts: Vec<String> = comparisons
        .iter()
        .enumerate()
        .map(|(index, c)| logged_model_comparison_sql(dialect, c, index, datasets, binds))
        .collect();
    if !datasets.is_empty() && !comparisons.iter().any(|c| c.key_type == KeyType::Metric) {
        let cond = logged_model_dataset_sql("dsm", datasets, binds);
        parts.push(format!(
            "EXISTS (SELECT 1 FROM logged_model_metrics dsm WHERE dsm.model_id = \
             logged_models.model_id AND {cond})"
        ));
    }
    if parts.is_empty() {
        "1=1".to_string()
    } else {
        parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(" AND ")
    }
}

/// Builds `(joins, order_sql)` for orderings resolved by [`resolve_logged_model_order`]. A
/// metric ordering joins each model's latest value of the metric (MLflow's `row_number()`
/// subquery: greatest timestamp, then step, then smallest run id).
fn logged_model_order_sql(orders: &[LoggedModelOrder], binds: &mut Binds) -> (String, String) {
    let mut joins: Vec<String> = Vec::new();
    let mut terms: Vec<String> = Vec::new();
    for o in orders {
        let dir = direction(o.ascending);
        if let Some(key) = o.field_name.strip_prefix(LOGGED_MODEL_METRIC_PREFIX) {
            let a = format!("ob{}", joins.len());
            let k = binds.text(key);
            let mut conds = vec![format!("{a}m.key = {k}")];
            if let Some(name) = &o.dataset_name {
                let p = binds.text(name);
                conds.push(format!("{a}m.dataset_name = {p}"));
            }
            if let Some(digest) = &o.dataset_digest {
                let p = binds.text(digest);
                conds.push(format!("{a}m.dataset_digest = {p}"));
            }
            let conds = conds.join(" AND ");
            joins.push(format!(
                "LEFT JOIN (SELECT {a}m.model_id, {a}m.value, {a}m.is_nan, ROW_NUMBER() OVER \
                 (PARTITION BY {a}m.model_id ORDER BY {a}m.timestamp DESC, {a}m.step DESC, \
                 {a}m.run_uuid ASC) AS rn FROM logged_model_metrics {a}m WHERE {conds}) {a} ON \
                 {a}.model_id = logged_models.model_id AND {a}.rn = 1"
            ));
            terms.push(format!(
                "CASE WHEN {a}.is_nan = 1 THEN 1 WHEN {a}.value IS NULL THEN 2 ELSE 0 END ASC"
            ));
            terms.push(format!("{a}.value {dir}"));
        } else if o.field_name == "status" {
            // MLflow stores the status as an integer (`LoggedModelStatus.to_int`).
            let rank = logged_model_status_case(|i, _| i.to_string(), "4");
            terms.push(format!("{rank} {dir}"));
        } else {
            let column = attribute_column(Entity::LoggedModels, &o.field_name);
            if attribute_nullable(Entity::LoggedModels, &o.field_name) {
                terms.push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END ASC"));
            }
            terms.push(format!("{column} {dir}"));
        }
    }
    (joins.join(" "), terms.join(", "))
}

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(filter: &str) -> Vec<Comparison> {
        match parse_filter(Entity::Runs, filter) {
            Ok(v) => v,
            Err(e) => panic!("filter {filter:?} failed: {e}"),
        }
    }

    fn err(entity: Entity, filter: &str) -> String {
        match parse_filter(entity, filter) {
            Ok(v) => panic!("filter {filter:?} unexpectedly parsed: {v:?}"),
            Err(e) => e.0,
        }
    }

    fn order_err(entity: Entity, clause: &str) -> String {
        match parse_order_by(entity, clause) {
            Ok(v) => panic!("order_by {clause:?} unexpectedly parsed: {v:?}"),
            Err(e) => e.0,
        }
    }

    fn cmp(key_type: KeyType, key: &str, comparator: Comparator, value: FilterValue) -> Comparison {
        Comparison {
            key_type,
            key: key.to_string(),
            comparator,
            value,
        }
    }

    fn s(v: &str) -> FilterValue {
        FilterValue::Str(v.to_string())
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    fn build(entity: Entity, dialect: Dialect, filter: &str, order_by: &[&str], first: usize) -> SqlParts {
        match build_search_sql(entity, dialect, filter, &strings(order_by), first) {
            Ok(p) => p,
            Err(e) => panic!("build {filter:?} / {order_by:?} failed: {e}"),
        }
    }

    fn text(v: &str) -> SqlValue {
        SqlValue::Text(v.to_string())
    }

    /// All `$N` placeholders of a SQL string, in order of appearance.
    fn placeholders(sql: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut chars = sql.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c == '$' {
                let mut n = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() {
                        n.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if let Ok(v) = n.parse() {
                    out.push(v);
                }
            }
        }
        out
    }

    fn assert_placeholders_consistent(p: &SqlParts, first: usize) {
        let all = format!("{} {} {}", p.joins, p.where_sql, p.order_sql);
        let found = placeholders(&all);
        let expected: Vec<usize> = (first..first + p.binds.len()).collect();
        assert_eq!(found, expected, "placeholders in {all}");
    }

    // ---------------------------------------------------------------- parsing: good inputs

    #[test]
    fn empty_filter() {
        assert!(runs("").is_empty());
        assert!(runs("   \n\t ").is_empty());
        for e in [
            Entity::Runs,
            Entity::Experiments,
            Entity::RegisteredModels,
            Entity::ModelVersions,
        ] {
            assert_eq!(parse_filter(e, ""), Ok(vec![]));
        }
    }

    #[test]
    fn metric_and_param() {
        assert_eq!(
            runs("metrics.acc > 0.5 and params.x = 'a'"),
            vec![
                cmp(KeyType::Metric, "acc", Comparator::Gt, FilterValue::Float(0.5)),
                cmp(KeyType::Param, "x", Comparator::Eq, s("a")),
            ]
        );
    }

    #[test]
    fn entity_prefix_aliases() {
        for p in ["metric", "metrics", "`metrics`"] {
            assert_eq!(runs(&format!("{p}.m = 1"))[0].key_type, KeyType::Metric);
        }
        for p in ["param", "params", "parameter", "parameters"] {
            assert_eq!(runs(&format!("{p}.p = 'v'"))[0].key_type, KeyType::Param);
        }
        for p in ["tag", "tags"] {
            assert_eq!(runs(&format!("{p}.t = 'v'"))[0].key_type, KeyType::Tag);
        }
        for p in ["attribute", "attributes", "attr", "run"] {
            let c = &runs(&format!("{p}.status = 'FINISHED'"))[0];
            assert_eq!((c.key_type, c.key.as_str()), (KeyType::Attribute, "status"));
        }
        for p in ["dataset", "datasets"] {
            assert_eq!(runs(&format!("{p}.name = 'd'"))[0].key_type, KeyType::Dataset);
        }
    }

    #[test]
    fn quoted_keys() {
        assert_eq!(runs("metrics.\"my key\" = 1")[0].key, "my key");
        assert_eq!(runs("metrics.`my key` = 1")[0].key, "my key");
        assert_eq!(runs("`metrics`.`my key` = 1")[0].key, "my key");
        assert_eq!(runs("tags.`a.b` = 'x'")[0].key, "a.b");
        assert_eq!(runs("tags.\"a.b\" = 'x'")[0].key, "a.b");
        assert_eq!(runs("tags.mlflow.runName = 'x'")[0].key, "mlflow.runName");
        assert_eq!(runs("metrics.1st = 1")[0].key, "1st");
        assert_eq!(runs("params.`a-b c` = 'x'")[0].key, "a-b c");
        assert_eq!(
            runs("tags.`ключ` = 'значение'")[0],
            cmp(KeyType::Tag, "ключ", Comparator::Eq, s("значение"))
        );
        assert_eq!(runs("tags.ключ = 'x'")[0].key, "ключ");
    }

    #[test]
    fn attribute_aliases() {
        let c = &runs("\"run name\" = 'x'")[0];
        assert_eq!((c.key_type, c.key.as_str()), (KeyType::Attribute, "run_name"));
        assert_eq!(runs("`Run Name` = 'x'")[0].key, "run_name");
        assert_eq!(runs("attributes.`Run name` = 'x'")[0].key, "run_name");
        assert_eq!(
            runs("created > 5")[0],
            cmp(KeyType::Attribute, "start_time", Comparator::Gt, FilterValue::Int(5))
        );
        assert_eq!(runs("Created > 5")[0].key, "start_time");
        assert_eq!(runs("attribute.run_id = 'abc'")[0].key, "run_id");
    }

    #[test]
    fn string_literals() {
        assert_eq!(runs("params.x = \"a\"")[0].value, s("a"));
        assert_eq!(runs("params.x = ''")[0].value, s(""));
        // MLflow keeps the text between the quotes verbatim.
        assert_eq!(runs("params.x = 'it''s'")[0].value, s("it''s"));
        assert_eq!(runs("params.x = 'it\\'s'")[0].value, s("it\\'s"));
        assert_eq!(runs("params.x = 'a\\'")[0].value, s("a\\"));
        assert_eq!(runs("params.x = \"it's\"")[0].value, s("it's"));
        assert_eq!(runs("params.x = 'a AND b = c'")[0].value, s("a AND b = c"));
        assert_eq!(runs("params.x = '日本語'")[0].value, s("日本語"));
        assert_eq!(
            runs("params.x = 'a' AND params.y = 'b'")[1],
            cmp(KeyType::Param, "y", Comparator::Eq, s("b"))
        );
    }

    #[test]
    fn numeric_literals() {
        let v = |f: &str| runs(&format!("metrics.x = {f}"))[0].value.clone();
        assert_eq!(v("1"), FilterValue::Float(1.0));
        assert_eq!(v("-1"), FilterValue::Float(-1.0));
        assert_eq!(v("1e5"), FilterValue::Float(1e5));
        assert_eq!(v("-1.5e-3"), FilterValue::Float(-1.5e-3));
        assert_eq!(v(".5"), FilterValue::Float(0.5));
        assert_eq!(v("5."), FilterValue::Float(5.0));
        assert_eq!(v("2E+3"), FilterValue::Float(2000.0));
        assert_eq!(runs("metrics.x>=1")[0].comparator, Comparator::Ge);
        assert_eq!(
            runs("start_time >= 1700000000000")[0].value,
            FilterValue::Int(1_700_000_000_000)
        );
        assert_eq!(runs("end_time < 5.5")[0].value, FilterValue::Float(5.5));
        // Out of i64 range: compared as a float (MLflow's ints are unbounded).
        assert_eq!(
            runs("start_time < 99999999999999999999")[0].value,
            FilterValue::Float(1e20)
        );
    }

    #[test]
    fn comparators_case_insensitive() {
        assert_eq!(runs("params.x like 'a%'")[0].comparator, Comparator::Like);
        assert_eq!(runs("params.x ILike 'a%'")[0].comparator, Comparator::ILike);
        assert_eq!(
            runs("params.x is null")[0],
            cmp(KeyType::Param, "x", Comparator::IsNull, FilterValue::None)
        );
        assert_eq!(runs("tags.x IS  NOT\tNULL")[0].comparator, Comparator::IsNotNull);
        assert_eq!(runs("run_id in ('a')")[0].comparator, Comparator::In);
        assert_eq!(runs("run_id not in ('a')")[0].comparator, Comparator::NotIn);
        assert_eq!(runs("metrics.a > 1 AnD metrics.b < 2").len(), 2);
    }

    #[test]
    fn lists() {
        assert_eq!(
            runs("run_id IN ('a', \"b\")")[0],
            cmp(
                KeyType::Attribute,
                "run_id",
                Comparator::In,
                FilterValue::StrList(strings(&["a", "b"]))
            )
        );
        assert_eq!(runs("run_id IN ('a',)")[0].value, FilterValue::StrList(strings(&["a"])));
        assert_eq!(runs("run_id NOT IN('a')")[0].comparator, Comparator::NotIn);
        assert_eq!(
            runs("datasets.digest NOT IN ('a','b')")[0],
            cmp(
                KeyType::Dataset,
                "digest",
                Comparator::NotIn,
                FilterValue::StrList(strings(&["a", "b"]))
            )
        );
        assert_eq!(runs("dataset.context IN ('train')")[0].key, "context");
    }

    #[test]
    fn many_clauses() {
        let f = "metrics.a > 1 and metrics.b <= 2 AND params.c != 'x' and tags.d LIKE '%y%' \
                 and status = 'FINISHED' and start_time > 0 and dataset.name = 'ds'";
        assert_eq!(runs(f).len(), 7);
    }

    #[test]
    fn experiments_good() {
        let p = |f| parse_filter(Entity::Experiments, f);
        assert_eq!(
            p("name = 'x'").map(|v| v[0].clone()),
            Ok(cmp(KeyType::Attribute, "name", Comparator::Eq, s("x")))
        );
        assert_eq!(
            p("experiment_id IN ('1', '2')").map(|v| v[0].value.clone()),
            Ok(FilterValue::IntList(vec![1, 2]))
        );
        assert_eq!(
            p("experiment_id = '7'").map(|v| v[0].value.clone()),
            Ok(FilterValue::Int(7))
        );
        assert_eq!(
            p("creation_time > 5").map(|v| v[0].value.clone()),
            Ok(FilterValue::Int(5))
        );
        assert_eq!(
            p("attribute.last_update_time <= 5").map(|v| v[0].key.clone()),
            Ok("last_update_time".into())
        );
        assert_eq!(p("tags.x IS NULL").map(|v| v[0].comparator), Ok(Comparator::IsNull));
        assert_eq!(p("tag.`a b` ILIKE 'x'").map(|v| v[0].key.clone()), Ok("a b".into()));
        assert_eq!(p("name LIKE 'a%' AND tags.t != 'v'").map(|v| v.len()), Ok(2));
    }

    #[test]
    fn registered_models_good() {
        let p = |f| parse_filter(Entity::RegisteredModels, f);
        assert_eq!(p("name = 'x'").map(|v| v[0].value.clone()), Ok(s("x")));
        assert_eq!(
            p("name IN ('a','b')").map(|v| v[0].value.clone()),
            Ok(FilterValue::StrList(strings(&["a", "b"])))
        );
        assert_eq!(p("tags.x = 'y'").map(|v| v[0].key_type), Ok(KeyType::Tag));
        assert_eq!(p("name ILIKE '%A%'").map(|v| v[0].comparator), Ok(Comparator::ILike));
    }

    #[test]
    fn model_versions_good() {
        let p = |f| parse_filter(Entity::ModelVersions, f);
        assert_eq!(
            p("version_number = 1").map(|v| v[0].value.clone()),
            Ok(FilterValue::Int(1))
        );
        assert_eq!(
            p("version_number = '3'").map(|v| v[0].value.clone()),
            Ok(FilterValue::Int(3))
        );
        assert_eq!(p("version_number >= 2").map(|v| v[0].comparator), Ok(Comparator::Ge));
        assert_eq!(p("run_id IN ('a')").map(|v| v[0].comparator), Ok(Comparator::In));
        assert_eq!(
            p("source_path LIKE 's3://%'").map(|v| v[0].key.clone()),
            Ok("source_path".into())
        );
        assert_eq!(p("name = 'm' and tags.t = 'v'").map(|v| v.len()), Ok(2));
    }

    // ---------------------------------------------------------------- parsing: bad inputs

    #[test]
    fn or_is_rejected() {
        let e = err(Entity::Runs, "metrics.x >= 1 OR metrics.y <= 2");
        assert!(e.contains("'OR'") && e.contains("AND"), "{e}");
        let e = err(Entity::Experiments, "name = 'a' or name = 'b'");
        assert!(e.contains("'or'"), "{e}");
    }

    #[test]
    fn bad_structure() {
        let e = err(Entity::Runs, "(metrics.x > 1)");
        assert!(e.contains("Invalid clause(s)") && e.contains("(metrics.x"), "{e}");
        let e = err(Entity::Runs, "metrics.x > 1; metrics.y > 2");
        assert!(e.contains("multiple expression"), "{e}");
        let e = err(Entity::Runs, "metrics.x > 1 metrics.y < 2");
        assert!(e.contains("'metrics.y'") && e.contains("Expected 'AND'"), "{e}");
        let e = err(Entity::Runs, "metrics.x > 1 and");
        assert!(e.contains("after 'AND'"), "{e}");
        let e = err(Entity::Runs, "metrics.x > 1 AND AND metrics.y > 2");
        assert!(e.contains("Expected 'Identifier' found 'AND'"), "{e}");
        let e = err(Entity::Runs, "= 1");
        assert!(e.contains("Expected 'Identifier' found '='"), "{e}");
        let e = err(Entity::Runs, "metrics.x");
        assert!(e.contains("after 'metrics.x' but the filter ended"), "{e}");
        let e = err(Entity::Runs, "metrics.x >");
        assert!(e.contains("Expected value token after 'metrics.x >'"), "{e}");
        let e = err(Entity::Runs, "metrics.x BETWEEN 1 AND 2");
        assert!(
            e.contains("found 'BETWEEN'") && e.contains("comparison operator"),
            "{e}"
        );
        let e = err(Entity::Runs, "params.learning-rate = '1'");
        assert!(e.contains("'-rate'") && e.contains("backticks"), "{e}");
        let e = err(Entity::Runs, "metrics. > 1");
        assert!(e.contains("Invalid identifier 'metrics.'"), "{e}");
        let e = err(Entity::Runs, "metrics.`` > 1");
        assert!(e.contains("key name is empty"), "{e}");
        let e = err(Entity::Runs, "tags.x IS 'a'");
        assert!(e.contains("'NULL' or 'NOT NULL'") && e.contains("''a''"), "{e}");
        let e = err(Entity::Runs, "tags.x NOT 'a'");
        assert!(e.contains("found 'NOT'"), "{e}");
    }

    #[test]
    fn unterminated_quotes() {
        let e = err(Entity::Runs, "params.x = 'abc");
        assert!(e.contains("unterminated string literal") && e.contains("'abc"), "{e}");
        let e = err(Entity::Runs, "params.x = \"abc");
        assert!(e.contains("unterminated"), "{e}");
        let e = err(Entity::Runs, "tags.`abc = 'x'");
        assert!(e.contains("unterminated quoted name") && e.contains("`abc"), "{e}");
        // A trailing doubled quote is re-read as the closing quote (sqlparse backtracking).
        let e = err(Entity::Runs, "params.x = 'it''s");
        assert!(e.contains("'s'"), "{e}");
    }

    #[test]
    fn bad_entity_and_keys() {
        let e = err(Entity::Runs, "foo.bar = 'x'");
        assert_eq!(
            e,
            "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"
        );
        let e = err(Entity::Runs, "Metrics.x > 1");
        assert!(e.contains("'Metrics'"), "{e}");
        let e = err(Entity::Runs, "foo = 'x'");
        assert!(
            e.starts_with("Invalid attribute key 'foo' specified. Valid keys are '{"),
            "{e}"
        );
        assert!(e.contains("'run_id'") && e.contains("'start_time'"), "{e}");
        let e = err(Entity::Runs, "lifecycle_stage = 'active'");
        assert!(e.contains("'lifecycle_stage'"), "{e}");
        let e = err(Entity::Runs, "dataset.foo = 'x'");
        assert_eq!(
            e,
            "Invalid dataset key 'foo' specified. Valid keys are '{'context', 'digest', 'name'}'"
        );
        let e = err(Entity::Experiments, "attributes.name = 'x'");
        assert_eq!(
            e,
            "Invalid entity type 'attributes'. Valid entity types are ('attribute', 'tag', 'tags')"
        );
        let e = err(Entity::Experiments, "metrics.x > 1");
        assert!(e.contains("'metrics'"), "{e}");
        let e = err(Entity::Experiments, "lifecycle_stage = 'active'");
        assert!(e.contains("Invalid attribute key 'lifecycle_stage'"), "{e}");
        let e = err(Entity::RegisteredModels, "foo = 'x'");
        assert_eq!(e, "Invalid attribute key 'foo' specified. Valid keys are '{'name'}'");
        let e = err(Entity::RegisteredModels, "params.x = 'y'");
        assert!(e.contains("'params'"), "{e}");
        let e = err(Entity::ModelVersions, "creation_timestamp > 1");
        assert!(e.contains("Invalid attribute key 'creation_timestamp'"), "{e}");
    }

    #[test]
    fn bad_comparators() {
        let e = err(Entity::Runs, "metrics.x == 1");
        assert!(e.starts_with("Invalid comparator '==' not one of '{'=', '!='"), "{e}");
        assert!(e.contains("metric 'x'"), "{e}");
        let e = err(Entity::Runs, "metrics.x <> 1");
        assert!(e.contains("'<>'"), "{e}");
        let e = err(Entity::Runs, "metrics.x LIKE 1");
        assert!(e.contains("Invalid comparator 'LIKE'"), "{e}");
        let e = err(Entity::Runs, "params.x > 'a'");
        assert!(
            e.contains("Invalid comparator '>'") && e.contains("'IS NOT NULL'"),
            "{e}"
        );
        let e = err(Entity::Runs, "params.x RLIKE 'a'");
        assert!(e.contains("Invalid comparator 'RLIKE'"), "{e}");
        let e = err(Entity::Runs, "params.x NOT LIKE 'a'");
        assert!(e.contains("Invalid comparator 'NOT LIKE'"), "{e}");
        let e = err(Entity::Runs, "status > 'a'");
        assert!(
            e.contains("Invalid comparator '>'") && e.contains("attribute 'status'"),
            "{e}"
        );
        let e = err(Entity::Runs, "start_time LIKE '1%'");
        assert!(
            e.contains("Invalid comparator 'LIKE'") && e.contains("start_time"),
            "{e}"
        );
        let e = err(Entity::Runs, "params.x IN ('a')");
        assert!(
            e.contains("Invalid comparator 'IN'") && e.contains("parameter 'x'"),
            "{e}"
        );
        let e = err(Entity::Runs, "metrics.x IS NULL");
        assert_eq!(
            e,
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'x'"
        );
        let e = err(Entity::Runs, "status IS NOT NULL");
        assert!(e.contains("not for 'attribute' 'status'"), "{e}");
        let e = err(Entity::Experiments, "name IS NULL");
        assert_eq!(
            e,
            "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'"
        );
        let e = err(Entity::Experiments, "experiment_id LIKE '1%'");
        assert!(
            e.contains("Invalid comparator 'LIKE'") && e.contains("experiment_id"),
            "{e}"
        );
        let e = err(Entity::Experiments, "creation_time LIKE 5");
        assert!(e.contains("Invalid comparator 'LIKE'"), "{e}");
        let e = err(Entity::RegisteredModels, "tags.x > 'y'");
        assert!(e.contains("Invalid comparator '>'") && e.contains("tag 'x'"), "{e}");
        let e = err(Entity::RegisteredModels, "tags.x IS NULL");
        assert!(e.contains("Invalid comparator 'IS NULL'"), "{e}");
        let e = err(Entity::ModelVersions, "version_number LIKE '1'");
        assert!(e.contains("Invalid comparator 'LIKE'"), "{e}");
        let e = err(Entity::ModelVersions, "tags.t IS NOT NULL");
        assert!(e.contains("Invalid comparator 'IS NOT NULL'"), "{e}");
    }

    #[test]
    fn bad_values() {
        let e = err(Entity::Runs, "metrics.x = '1'");
        assert_eq!(e, "Expected numeric value type for metric. Found '1'");
        let e = err(Entity::Runs, "metrics.x = abc");
        assert_eq!(e, "Expected numeric value type for metric. Found abc");
        let e = err(Entity::Runs, "metrics.x = 1abc");
        assert!(e.contains("Found 1abc"), "{e}");
        let e = err(Entity::Runs, "params.x = 1");
        assert_eq!(
            e,
            "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"
        );
        let e = err(Entity::Runs, "tags.x = 1.5");
        assert!(e.contains("for tag (e.g. 'my-value'). Got value 1.5"), "{e}");
        let e = err(Entity::Runs, "params.x = abc");
        assert!(e.contains("not quoted") && e.contains("string value abc"), "{e}");
        let e = err(Entity::Runs, "status = 1");
        assert_eq!(e, "Expected a quoted string value for attributes. Got value 1");
        let e = err(Entity::Runs, "start_time > '5'");
        assert_eq!(
            e,
            "Expected numeric value type for numeric attribute: start_time. Found '5'"
        );
        let e = err(Entity::Runs, "created > '5'");
        assert_eq!(
            e,
            "Expected numeric value type for numeric attribute: created. Found '5'"
        );
        let e = err(Entity::Runs, "dataset.name = 1");
        assert!(e.contains("dataset attributes. Got value 1"), "{e}");
        let e = err(Entity::Runs, "metrics.x = -");
        assert!(e.contains("Expected value token") && e.contains("'-'"), "{e}");
        let e = err(Entity::Runs, "metrics.x = 0x1F");
        assert!(e.contains("0x1F"), "{e}");
        let e = err(Entity::Experiments, "experiment_id = 1");
        assert_eq!(e, "Expected a quoted string value for attributes. Got value 1");
        let e = err(Entity::Experiments, "experiment_id = 'abc'");
        assert_eq!(e, "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.");
        let e = err(Entity::Experiments, "experiment_id IN ('1', 'x')");
        assert!(e.contains("Invalid experiment ID 'x'"), "{e}");
        let e = err(Entity::Experiments, "creation_time > 5.5");
        assert!(
            e.contains("Invalid value for numeric attribute 'creation_time': '5.5'"),
            "{e}"
        );
        let e = err(Entity::Experiments, "creation_time > '5'");
        assert!(
            e.contains("Expected numeric value type for numeric attribute: creation_time"),
            "{e}"
        );
        let e = err(Entity::RegisteredModels, "name = 1");
        assert!(
            e.contains("Expected a quoted string value or a list") && e.contains("Got value 1"),
            "{e}"
        );
        let e = err(Entity::RegisteredModels, "tags.x = y");
        assert!(e.contains("string value y"), "{e}");
        let e = err(Entity::ModelVersions, "run_id = 1");
        assert!(e.starts_with("Only the '{'creation_timestamp'"), "{e}");
        assert!(e.contains("numeric values") && e.contains("'run_id'"), "{e}");
        let e = err(Entity::ModelVersions, "version_number > 1.5");
        assert!(
            e.contains("Invalid value for numeric attribute 'version_number': 1.5"),
            "{e}"
        );
        let e = err(Entity::ModelVersions, "version_number = 'abc'");
        assert!(e.contains("'version_number': 'abc'"), "{e}");
    }

    #[test]
    fn bad_lists() {
        let e = err(Entity::Runs, "run_id IN ()");
        assert!(e.contains("non-empty list") && e.contains("empty list"), "{e}");
        let e = err(Entity::Runs, "run_id IN (1, 2)");
        assert!(
            e.contains("got different type in list: (1, 2)") && e.contains("'1'"),
            "{e}"
        );
        let e = err(Entity::Runs, "run_id IN ('a'");
        assert!(e.contains("ill-formed list") && e.contains("missing ')'"), "{e}");
        let e = err(Entity::Runs, "run_id IN ('a' 'b')");
        assert!(e.contains("ill-formed list") && e.contains("'b'"), "{e}");
        let e = err(Entity::Runs, "run_id IN ('a',,)");
        assert!(e.contains("ill-formed list"), "{e}");
        let e = err(Entity::Runs, "run_id IN 'a'");
        assert!(e.contains("parenthesized list") && e.contains("'a'"), "{e}");
        let e = err(Entity::Runs, "run_id = ('a')");
        assert!(e.contains("expected a single value") && e.contains("('a')"), "{e}");
        let e = err(Entity::Runs, "status IN ('a')");
        assert!(
            e.starts_with("Only ['run_id'] attributes support comparison with a list"),
            "{e}"
        );
        assert!(e.contains("'status'"), "{e}");
        let e = err(Entity::Experiments, "name IN ('x')");
        assert!(e.starts_with("Only ['experiment_id'] attributes"), "{e}");
        let e = err(Entity::ModelVersions, "source_path IN ('a')");
        assert!(e.starts_with("Only ['name', 'run_id'] attributes"), "{e}");
        let e = err(Entity::ModelVersions, "version_number IN ('1')");
        assert!(e.starts_with("Only ['name', 'run_id'] attributes"), "{e}");
        let e = err(Entity::Runs, "metrics.x IN (1)");
        assert!(e.contains("Invalid comparator 'IN'"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "'",
            "\"",
            "`",
            "(",
            ")",
            "((",
            "'a",
            "metrics.",
            ".",
            "..",
            "a.b.c.d = 'x'",
            "metrics.x > 1 AND",
            "AND",
            "OR",
            ";",
            "tags.x IS",
            "tags.x IS NOT",
            "tags.x NOT",
            "run_id IN (",
            "run_id IN ('a',",
            "run_id IN ('a' ,",
            "\u{0}",
            "é",
            "metrics.é > 1",
            "metrics.x > -",
            "metrics.x > -.",
            "metrics.x > .",
            "metrics.x > 1e",
            "metrics.x > 1e+",
            "tags.\"a\"\"b\" = 'x'",
            "tags.`a``b` = 'x'",
            "params.x = '\\'",
            "params.x = '\\",
            "params.x = 'a''",
            "   metrics.x\t>\n1   ",
            "metrics.x>1AND metrics.y<2",
            "🦀 = '🦀'",
            "tags.🦀 = '🦀'",
            "metrics.x = 1.2.3",
            "metrics.x = --1",
            "run_id IN (')')",
        ];
        for entity in [
            Entity::Runs,
            Entity::Experiments,
            Entity::RegisteredModels,
            Entity::ModelVersions,
        ] {
            for input in inputs {
                let _ = parse_filter(entity, input);
                let _ = parse_order_by(entity, input);
                for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                    let _ = build_search_sql(entity, dialect, input, &[input.to_string()], 1);
                }
            }
        }
        // A number glued to a word is not a number (as in sqlparse); the rest are fine.
        let e = err(Entity::Runs, "metrics.x>1AND metrics.y<2");
        assert!(e.contains("Found 1AND"), "{e}");
        assert_eq!(runs("tags.\"a\"\"b\" = 'x'")[0].key, "a\"\"b");
        assert_eq!(runs("tags.`a``b` = 'x'")[0].key, "a``b");
        assert_eq!(runs("run_id IN (')')")[0].value, FilterValue::StrList(strings(&[")"])));
        assert_eq!(runs("   metrics.x\t>\n1   ").len(), 1);
    }

    #[test]
    fn error_messages_are_bounded_and_safe() {
        let long = format!("{} = 'x'", "é".repeat(200));
        let e = err(Entity::Runs, &long);
        assert!(e.contains("Invalid attribute key"), "{e}");
        let e = err(Entity::Runs, &format!("metrics.x > 1 {}", "界".repeat(100)));
        assert!(e.contains("...") && e.chars().count() < 300, "{e}");
    }

    // ---------------------------------------------------------------- order_by

    #[test]
    fn order_by_runs() {
        let p = |c| parse_order_by(Entity::Runs, c);
        let ob = |t, k: &str, a| {
            Ok(OrderBy {
                key_type: t,
                key: k.to_string(),
                ascending: a,
            })
        };
        assert_eq!(p("metrics.acc"), ob(KeyType::Metric, "acc", true));
        assert_eq!(p("metrics.acc DESC"), ob(KeyType::Metric, "acc", false));
        assert_eq!(p("metrics.acc desc"), ob(KeyType::Metric, "acc", false));
        assert_eq!(p("metrics.acc   ASC"), ob(KeyType::Metric, "acc", true));
        assert_eq!(p("metrics.`my key` DESC"), ob(KeyType::Metric, "my key", false));
        assert_eq!(p("metrics.\"my key\" DESC"), ob(KeyType::Metric, "my key", false));
        assert_eq!(p("`metrics`.acc"), ob(KeyType::Metric, "acc", true));
        assert_eq!(p("params.lr"), ob(KeyType::Param, "lr", true));
        assert_eq!(p("tags.mlflow.runName"), ob(KeyType::Tag, "mlflow.runName", true));
        assert_eq!(p("start_time"), ob(KeyType::Attribute, "start_time", true));
        assert_eq!(
            p("attributes.start_time DESC"),
            ob(KeyType::Attribute, "start_time", false)
        );
        assert_eq!(p("created"), ob(KeyType::Attribute, "start_time", true));
        assert_eq!(p("run_name"), ob(KeyType::Attribute, "run_name", true));
        assert_eq!(p("  end_time  desc "), ob(KeyType::Attribute, "end_time", false));
    }

    #[test]
    fn order_by_runs_errors() {
        let e = order_err(Entity::Runs, "metrics.acc DESCENDING");
        assert!(
            e.starts_with("Invalid ordering key in order_by clause 'metrics.acc DESCENDING'"),
            "{e}"
        );
        assert!(e.contains("'DESCENDING'"), "{e}");
        let e = order_err(Entity::Runs, "metrics.acc DESC NULLS LAST");
        assert_eq!(
            e,
            "Invalid order_by clause 'metrics.acc DESC NULLS LAST'. Could not be parsed."
        );
        let e = order_err(Entity::Runs, "run name");
        assert!(e.contains("Invalid ordering key") && e.contains("'name'"), "{e}");
        let e = order_err(Entity::Runs, "`run name`");
        assert!(e.starts_with("Invalid attribute key 'run name' specified"), "{e}");
        let e = order_err(Entity::Runs, "lifecycle_stage");
        assert!(e.starts_with("Invalid attribute key 'lifecycle_stage'"), "{e}");
        let e = order_err(Entity::Runs, "timestamp");
        assert!(e.starts_with("Invalid attribute key 'timestamp'"), "{e}");
        let e = order_err(Entity::Runs, "dataset.name");
        assert!(e.contains("Invalid identifier type 'dataset'"), "{e}");
        let e = order_err(Entity::Runs, "params.a,params.b");
        assert!(e.contains("Could not be parsed"), "{e}");
        let e = order_err(Entity::Runs, "");
        assert_eq!(e, "Invalid order_by clause ''. Could not be parsed.");
        let e = order_err(Entity::Runs, "foo.bar");
        assert!(e.contains("Invalid entity type 'foo'"), "{e}");
        let e = order_err(Entity::Runs, "'start_time'");
        assert!(e.contains("Could not be parsed"), "{e}");
        let e = order_err(Entity::Runs, "metrics.");
        assert!(e.contains("Could not be parsed"), "{e}");
    }

    #[test]
    fn order_by_other_entities() {
        let ob = |t, k: &str, a| {
            Ok(OrderBy {
                key_type: t,
                key: k.to_string(),
                ascending: a,
            })
        };
        assert_eq!(
            parse_order_by(Entity::Experiments, "name DESC"),
            ob(KeyType::Attribute, "name", false)
        );
        assert_eq!(
            parse_order_by(Entity::Experiments, "attribute.last_update_time"),
            ob(KeyType::Attribute, "last_update_time", true)
        );
        assert_eq!(
            parse_order_by(Entity::Experiments, "tags.x"),
            ob(KeyType::Tag, "x", true)
        );
        let e = order_err(Entity::Experiments, "attributes.name");
        assert!(e.contains("Invalid entity type 'attributes'"), "{e}");
        let e = order_err(Entity::Experiments, "foo");
        assert!(e.starts_with("Invalid attribute key 'foo'"), "{e}");

        assert_eq!(
            parse_order_by(Entity::RegisteredModels, "name"),
            ob(KeyType::Attribute, "name", true)
        );
        assert_eq!(
            parse_order_by(Entity::RegisteredModels, "timestamp DESC"),
            ob(KeyType::Attribute, "last_updated_timestamp", false)
        );
        assert_eq!(
            parse_order_by(Entity::RegisteredModels, "last_updated_timestamp"),
            ob(KeyType::Attribute, "last_updated_timestamp", true)
        );
        for bad in ["creation_timestamp", "attribute.name", "tags.x", "foo"] {
            let e = order_err(Entity::RegisteredModels, bad);
            assert_eq!(
                e,
                format!("Invalid order by key '{bad}' specified. Valid keys are '{{'last_updated_timestamp', 'name', 'timestamp'}}'")
            );
        }

        assert_eq!(
            parse_order_by(Entity::ModelVersions, "version_number DESC"),
            ob(KeyType::Attribute, "version_number", false)
        );
        assert_eq!(
            parse_order_by(Entity::ModelVersions, "creation_timestamp"),
            ob(KeyType::Attribute, "creation_timestamp", true)
        );
        assert_eq!(
            parse_order_by(Entity::ModelVersions, "attribute.name"),
            ob(KeyType::Attribute, "name", true)
        );
        let e = order_err(Entity::ModelVersions, "timestamp");
        assert!(e.starts_with("Invalid attribute key 'timestamp'"), "{e}");
        let e = order_err(Entity::ModelVersions, "run_id");
        assert!(e.starts_with("Invalid attribute key 'run_id'"), "{e}");
        let e = order_err(Entity::ModelVersions, "tags.x");
        assert!(e.starts_with("Invalid order by key 'x' specified"), "{e}");
    }

    #[test]
    fn resolve_order_defaults_and_tie_breakers() {
        let keys = |entity, list: &[&str]| -> Vec<(String, bool)> {
            match resolve_order_by(entity, &strings(list)) {
                Ok(v) => v.into_iter().map(|o| (o.key, o.ascending)).collect(),
                Err(e) => panic!("{e}"),
            }
        };
        let kv =
            |v: &[(&str, bool)]| -> Vec<(String, bool)> { v.iter().map(|(k, a)| ((*k).to_string(), *a)).collect() };
        assert_eq!(keys(Entity::Runs, &[]), kv(&[("start_time", false), ("run_id", true)]));
        assert_eq!(
            keys(Entity::Runs, &["metrics.acc DESC"]),
            kv(&[("acc", false), ("start_time", false), ("run_id", true)])
        );
        assert_eq!(
            keys(Entity::Runs, &["created ASC"]),
            kv(&[("start_time", true), ("run_id", true)])
        );
        assert_eq!(
            keys(Entity::Experiments, &[]),
            kv(&[("creation_time", false), ("experiment_id", true)])
        );
        assert_eq!(
            keys(Entity::Experiments, &["name"]),
            kv(&[("name", true), ("experiment_id", false)])
        );
        assert_eq!(keys(Entity::RegisteredModels, &[]), kv(&[("name", true)]));
        assert_eq!(
            keys(Entity::RegisteredModels, &["timestamp DESC"]),
            kv(&[("last_updated_timestamp", false), ("name", true)])
        );
        assert_eq!(
            keys(Entity::ModelVersions, &[]),
            kv(&[
                ("last_updated_timestamp", false),
                ("name", true),
                ("version_number", false)
            ])
        );
        assert_eq!(
            keys(Entity::ModelVersions, &["version_number ASC"]),
            kv(&[("version_number", true), ("name", true)])
        );
        // Experiments have no duplicate check (as in MLflow).
        assert_eq!(keys(Entity::Experiments, &["name", "name DESC"]).len(), 3);
    }

    #[test]
    fn resolve_order_errors() {
        let e = |entity, list: &[&str]| match resolve_order_by(entity, &strings(list)) {
            Ok(v) => panic!("unexpectedly resolved {v:?}"),
            Err(e) => e.0,
        };
        assert_eq!(
            e(Entity::Runs, &["metrics.a", "metrics.a DESC"]),
            "`order_by` contains duplicate fields: ['metrics.a', 'metrics.a DESC']"
        );
        assert!(e(Entity::Runs, &["created", "start_time"]).contains("duplicate fields"));
        assert!(e(Entity::RegisteredModels, &["timestamp", "last_updated_timestamp"]).contains("duplicate"));
        assert!(e(Entity::ModelVersions, &["name", "attribute.name DESC"]).contains("duplicate"));
        let msg = e(Entity::Experiments, &["tags.x"]);
        assert!(
            msg.contains("Invalid order_by entity: tag") && msg.contains("'tags.x'"),
            "{msg}"
        );
        assert!(e(Entity::Runs, &[""]).contains("Could not be parsed"));
    }

    // ---------------------------------------------------------------- SQL

    #[test]
    fn like_to_glob_translation() {
        assert_eq!(like_to_glob("a%b_c"), "a*b?c");
        assert_eq!(like_to_glob("*?["), "[*][?][[]");
        assert_eq!(like_to_glob("x]y"), "x]y");
        assert_eq!(like_to_glob("%日本_"), "*日本?");
        assert_eq!(like_to_glob(""), "");
    }

    #[test]
    fn sql_empty_filter() {
        let p = build(Entity::Runs, Dialect::Sqlite, "  ", &[], 1);
        assert_eq!(p.where_sql, "1=1");
        assert_eq!(p.joins, "");
        assert_eq!(p.order_sql, "runs.start_time DESC, runs.run_uuid ASC");
        assert!(p.binds.is_empty());
        let p = build(Entity::Experiments, Dialect::Postgres, "", &[], 3);
        assert_eq!(p.where_sql, "1=1");
        assert_eq!(
            p.order_sql,
            "experiments.creation_time DESC, experiments.experiment_id ASC"
        );
    }

    #[test]
    fn sql_runs_metric_param_tag() {
        let p = build(
            Entity::Runs,
            Dialect::Postgres,
            "metrics.acc > 0.5 and params.x = 'a' and tags.t != 'b'",
            &[],
            3,
        );
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM latest_metrics f0 WHERE f0.run_pk = runs.run_pk AND \
             f0.key = $3 AND f0.value > $4 AND f0.is_nan = 0)) AND \
             (EXISTS (SELECT 1 FROM params f1 WHERE f1.run_uuid = runs.run_uuid AND f1.key = $5 \
             AND f1.value = $6)) AND \
             (EXISTS (SELECT 1 FROM tags f2 WHERE f2.run_uuid = runs.run_uuid AND f2.key = $7 AND \
             f2.value != $8))"
        );
        assert_eq!(
            p.binds,
            vec![
                text("acc"),
                SqlValue::Float(0.5),
                text("x"),
                text("a"),
                text("t"),
                text("b")
            ]
        );
        assert_placeholders_consistent(&p, 3);
    }

    #[test]
    fn sql_metric_nan_semantics() {
        let p = build(Entity::Runs, Dialect::Sqlite, "metrics.m != 1", &[], 1);
        assert!(
            p.where_sql.contains("(f0.value != $2 OR f0.is_nan = 1)"),
            "{}",
            p.where_sql
        );
        let p = build(Entity::Runs, Dialect::Sqlite, "metrics.m <= -2", &[], 1);
        assert!(
            p.where_sql.contains("f0.value <= $2 AND f0.is_nan = 0"),
            "{}",
            p.where_sql
        );
        assert_eq!(p.binds[1], SqlValue::Float(-2.0));
    }

    #[test]
    fn sql_is_null() {
        let p = build(
            Entity::Runs,
            Dialect::Sqlite,
            "params.p IS NULL AND tags.t IS NOT NULL",
            &[],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(NOT EXISTS (SELECT 1 FROM params f0 WHERE f0.run_uuid = runs.run_uuid AND f0.key = \
             $1)) AND (EXISTS (SELECT 1 FROM tags f1 WHERE f1.run_uuid = runs.run_uuid AND f1.key \
             = $2))"
        );
        assert_eq!(p.binds, vec![text("p"), text("t")]);
        let p = build(Entity::Experiments, Dialect::Postgres, "tags.t IS NULL", &[], 1);
        assert_eq!(
            p.where_sql,
            "(NOT EXISTS (SELECT 1 FROM experiment_tags f0 WHERE f0.experiment_id = \
             experiments.experiment_id AND f0.key = $1))"
        );
    }

    #[test]
    fn sql_like_per_dialect() {
        let f = "params.p LIKE 'a%_*' AND tags.t ILIKE '%X%'";
        let p = build(Entity::Runs, Dialect::Sqlite, f, &[], 1);
        assert!(p.where_sql.contains("f0.value GLOB $2"), "{}", p.where_sql);
        assert!(
            p.where_sql.contains("LOWER(f1.value) LIKE LOWER($4)"),
            "{}",
            p.where_sql
        );
        assert_eq!(p.binds, vec![text("p"), text("a*?[*]"), text("t"), text("%X%")]);
        let p = build(Entity::Runs, Dialect::Postgres, f, &[], 1);
        assert!(p.where_sql.contains("f0.value LIKE $2"), "{}", p.where_sql);
        assert!(p.where_sql.contains("f1.value ILIKE $4"), "{}", p.where_sql);
        assert_eq!(p.binds, vec![text("p"), text("a%_*"), text("t"), text("%X%")]);
        let p = build(Entity::Runs, Dialect::Sqlite, "run_name LIKE 'exp-%'", &[], 1);
        assert_eq!(p.where_sql, "(runs.name GLOB $1)");
        assert_eq!(p.binds, vec![text("exp-*")]);
    }

    #[test]
    fn sql_attributes_and_lists() {
        let p = build(
            Entity::Runs,
            Dialect::Sqlite,
            "run_id IN ('a', 'b') and status != 'FAILED' and created >= 10 and end_time < 2.5 \
             and user_id = 'u' and artifact_uri LIKE 's3://%' and attr.run_id NOT IN ('c')",
            &[],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(runs.run_uuid IN ($1, $2)) AND (runs.status != $3) AND (runs.start_time >= $4) AND \
             (runs.end_time < $5) AND (runs.user_id = $6) AND (runs.artifact_uri GLOB $7) AND \
             (runs.run_uuid NOT IN ($8))"
        );
        assert_eq!(
            p.binds,
            vec![
                text("a"),
                text("b"),
                text("FAILED"),
                SqlValue::Int(10),
                SqlValue::Float(2.5),
                text("u"),
                text("s3://*"),
                text("c"),
            ]
        );
    }

    #[test]
    fn sql_datasets() {
        let p = build(
            Entity::Runs,
            Dialect::Postgres,
            "dataset.name = 'ds' AND datasets.digest IN ('d1','d2') AND dataset.context = 'train'",
            &[],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM run_inputs f0 JOIN datasets f0d ON f0d.dataset_uuid = \
             f0.dataset_uuid WHERE f0.run_uuid = runs.run_uuid AND f0d.name = $1)) AND \
             (EXISTS (SELECT 1 FROM run_inputs f1 JOIN datasets f1d ON f1d.dataset_uuid = \
             f1.dataset_uuid WHERE f1.run_uuid = runs.run_uuid AND f1d.digest IN ($2, $3))) AND \
             (EXISTS (SELECT 1 FROM run_input_tags f2 WHERE f2.run_uuid = runs.run_uuid AND \
             f2.key = $4 AND f2.value = $5))"
        );
        assert_eq!(
            p.binds,
            vec![
                text("ds"),
                text("d1"),
                text("d2"),
                text("mlflow.data.context"),
                text("train")
            ]
        );
    }

    #[test]
    fn sql_runs_order_by() {
        let p = build(
            Entity::Runs,
            Dialect::Sqlite,
            "params.x = 'a'",
            &[
                "metrics.acc DESC",
                "params.lr",
                "tags.t DESC",
                "end_time",
                "run_name DESC",
            ],
            5,
        );
        assert_eq!(
            p.joins,
            "LEFT JOIN latest_metrics ob0 ON ob0.run_pk = runs.run_pk AND ob0.key = $5 \
             LEFT JOIN params ob1 ON ob1.run_uuid = runs.run_uuid AND ob1.key = $6 \
             LEFT JOIN tags ob2 ON ob2.run_uuid = runs.run_uuid AND ob2.key = $7"
        );
        assert_eq!(
            p.order_sql,
            "CASE WHEN ob0.is_nan = 1 THEN 1 WHEN ob0.value IS NULL THEN 2 ELSE 0 END ASC, \
             ob0.value DESC, \
             CASE WHEN ob1.value IS NULL THEN 1 ELSE 0 END ASC, ob1.value ASC, \
             CASE WHEN ob2.value IS NULL THEN 1 ELSE 0 END ASC, ob2.value DESC, \
             CASE WHEN runs.end_time IS NULL THEN 1 ELSE 0 END ASC, runs.end_time ASC, \
             runs.name DESC, runs.start_time DESC, runs.run_uuid ASC"
        );
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM params f0 WHERE f0.run_uuid = runs.run_uuid AND f0.key = $8 AND f0.value = $9))"
        );
        assert_eq!(p.binds, vec![text("acc"), text("lr"), text("t"), text("x"), text("a")]);
        assert_placeholders_consistent(&p, 5);

        let p = build(Entity::Runs, Dialect::Postgres, "", &["start_time ASC"], 1);
        assert_eq!(p.order_sql, "runs.start_time ASC, runs.run_uuid ASC");
        let p = build(Entity::Runs, Dialect::Postgres, "", &["attributes.run_id DESC"], 1);
        assert_eq!(p.order_sql, "runs.run_uuid DESC, runs.start_time DESC");
    }

    #[test]
    fn sql_experiments() {
        let p = build(
            Entity::Experiments,
            Dialect::Sqlite,
            "name ILIKE 'My%' AND experiment_id IN ('1','2') AND creation_time > 100 AND tags.team = 'ml'",
            &["last_update_time DESC"],
            2,
        );
        assert_eq!(
            p.where_sql,
            "(LOWER(experiments.name) LIKE LOWER($2)) AND (experiments.experiment_id IN ($3, $4)) \
             AND (experiments.creation_time > $5) AND (EXISTS (SELECT 1 FROM experiment_tags f3 \
             WHERE f3.experiment_id = experiments.experiment_id AND f3.key = $6 AND f3.value = $7))"
        );
        assert_eq!(
            p.binds,
            vec![
                text("My%"),
                SqlValue::Int(1),
                SqlValue::Int(2),
                SqlValue::Int(100),
                text("team"),
                text("ml"),
            ]
        );
        assert_eq!(
            p.order_sql,
            "experiments.last_update_time DESC, experiments.experiment_id DESC"
        );
        assert_eq!(p.joins, "");
    }

    #[test]
    fn sql_registered_models_and_prompts() {
        let p = build(Entity::RegisteredModels, Dialect::Postgres, "", &[], 1);
        assert_eq!(
            p.where_sql,
            "(NOT EXISTS (SELECT 1 FROM registered_model_tags px WHERE px.name = \
             registered_models.name AND px.key = $1 AND px.value = $2))"
        );
        assert_eq!(p.binds, vec![text("mlflow.prompt.is_prompt"), text("true")]);
        assert_eq!(p.order_sql, "registered_models.name ASC");

        let p = build(
            Entity::RegisteredModels,
            Dialect::Sqlite,
            "name LIKE 'a%' AND tags.t = 'v'",
            &["timestamp DESC"],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(registered_models.name GLOB $1) AND (EXISTS (SELECT 1 FROM registered_model_tags f1 \
             WHERE f1.name = registered_models.name AND f1.key = $2 AND f1.value = $3)) AND \
             (NOT EXISTS (SELECT 1 FROM registered_model_tags px WHERE px.name = \
             registered_models.name AND px.key = $4 AND px.value = $5))"
        );
        assert_eq!(
            p.order_sql,
            "registered_models.last_updated_time DESC, registered_models.name ASC"
        );

        // Asking for prompts keeps the tag filter and drops the exclusion.
        let p = build(
            Entity::RegisteredModels,
            Dialect::Sqlite,
            "tags.`mlflow.prompt.is_prompt` = 'TRUE'",
            &[],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM registered_model_tags f0 WHERE f0.name = \
             registered_models.name AND f0.key = $1 AND f0.value = $2))"
        );
        assert_eq!(p.binds, vec![text("mlflow.prompt.is_prompt"), text("TRUE")]);
        let p = build(
            Entity::RegisteredModels,
            Dialect::Sqlite,
            "tags.`mlflow.prompt.is_prompt` != 'false'",
            &[],
            1,
        );
        assert!(!p.where_sql.contains("NOT EXISTS"), "{}", p.where_sql);
        // Any other filter on the prompt tag is dropped in favour of the exclusion (MLflow).
        let p = build(
            Entity::RegisteredModels,
            Dialect::Sqlite,
            "tags.`mlflow.prompt.is_prompt` = 'false'",
            &[],
            1,
        );
        assert!(
            p.where_sql.starts_with("(NOT EXISTS") && !p.where_sql.contains(" f0"),
            "{}",
            p.where_sql
        );
        assert_eq!(p.binds.len(), 2);
    }

    #[test]
    fn sql_model_versions() {
        let p = build(
            Entity::ModelVersions,
            Dialect::Postgres,
            "name = 'm' AND version_number >= 2 AND source_path ILIKE '%x%' AND run_id IN ('r') AND tags.t = 'v'",
            &[],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(model_versions.name = $1) AND (model_versions.version >= $2) AND \
             (model_versions.source ILIKE $3) AND (model_versions.run_id IN ($4)) AND \
             (EXISTS (SELECT 1 FROM model_version_tags f4 WHERE f4.name = model_versions.name \
             AND f4.version = model_versions.version AND f4.key = $5 AND f4.value = $6)) AND \
             (NOT EXISTS (SELECT 1 FROM model_version_tags px WHERE px.name = \
             model_versions.name AND px.key = $7 AND px.value = $8))"
        );
        assert_eq!(p.binds[1], SqlValue::Int(2));
        assert_eq!(
            p.order_sql,
            "model_versions.last_updated_time DESC, model_versions.name ASC, model_versions.version DESC"
        );
        let p = build(Entity::ModelVersions, Dialect::Sqlite, "", &["creation_timestamp"], 1);
        assert_eq!(
            p.order_sql,
            "model_versions.creation_time ASC, model_versions.name ASC, model_versions.version DESC"
        );
    }

    #[test]
    fn sql_never_contains_user_text() {
        let evil = "x'); DROP TABLE runs; --";
        let f = format!("params.`{evil}` = \"{evil}\" AND tags.t LIKE \"{evil}\" AND run_id IN (\"{evil}\")");
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let p = build(Entity::Runs, dialect, &f, &[&format!("metrics.`{evil}` DESC")], 1);
            let all = format!("{} {} {}", p.joins, p.where_sql, p.order_sql);
            assert!(!all.contains("DROP"), "{all}");
            assert!(!all.contains('\''), "{all}");
            assert!(p.binds.contains(&text(evil)));
            assert_placeholders_consistent(&p, 1);
        }
    }

    #[test]
    fn first_bind_zero_is_one() {
        let p = build(Entity::Runs, Dialect::Postgres, "params.a = 'b'", &[], 0);
        assert_eq!(placeholders(&p.where_sql), vec![1, 2]);
    }

    #[test]
    fn build_errors_propagate() {
        let r = build_search_sql(Entity::Runs, Dialect::Sqlite, "metrics.x OR", &[], 1);
        assert!(r.is_err());
        let r = build_search_sql(Entity::Runs, Dialect::Sqlite, "", &strings(&["bogus"]), 1);
        assert_eq!(
            r.map_err(|e| e.to_string().starts_with("Invalid attribute key 'bogus'")),
            Err(true)
        );
    }

    #[test]
    fn build_where_sql_reuses_ast() {
        let parsed = parse_filter(Entity::Runs, "metrics.a < 3").unwrap_or_default();
        let (sql, binds) = build_where_sql(Entity::Runs, Dialect::Sqlite, &parsed, 4);
        assert_eq!(placeholders(&sql), vec![4, 5]);
        assert_eq!(binds, vec![text("a"), SqlValue::Float(3.0)]);
        let (sql, binds) = build_where_sql(Entity::Experiments, Dialect::Sqlite, &[], 1);
        assert_eq!((sql.as_str(), binds.len()), ("1=1", 0));
    }

    #[test]
    fn error_type_traits() {
        let e = FilterError("boom".to_string());
        assert_eq!(e.to_string(), "boom");
        assert_eq!(e.message(), "boom");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert_eq!(boxed.to_string(), "boom");
    }

    // ---------------------------------------------------------------- logged models

    fn lm(filter: &str) -> Vec<Comparison> {
        match parse_filter(Entity::LoggedModels, filter) {
            Ok(v) => v,
            Err(e) => panic!("logged-model filter {filter:?} failed: {e}"),
        }
    }

    fn lm_err(filter: &str) -> String {
        err(Entity::LoggedModels, filter)
    }

    fn ord(field: &str, ascending: bool) -> LoggedModelOrder {
        LoggedModelOrder {
            field_name: field.to_string(),
            ascending,
            ..LoggedModelOrder::default()
        }
    }

    fn ord_ds(field: &str, ascending: bool, name: &str, digest: Option<&str>) -> LoggedModelOrder {
        LoggedModelOrder {
            field_name: field.to_string(),
            ascending,
            dataset_name: Some(name.to_string()),
            dataset_digest: digest.map(str::to_string),
        }
    }

    fn ds(name: &str, digest: Option<&str>) -> LoggedModelDataset {
        LoggedModelDataset {
            dataset_name: name.to_string(),
            dataset_digest: digest.map(str::to_string),
        }
    }

    fn lm_sql(
        dialect: Dialect,
        filter: &str,
        datasets: &[LoggedModelDataset],
        order_by: &[LoggedModelOrder],
        first: usize,
    ) -> SqlParts {
        match build_logged_model_search_sql(dialect, filter, datasets, order_by, first) {
            Ok(p) => {
                assert_placeholders_consistent(&p, first.max(1));
                p
            }
            Err(e) => panic!("logged-model build {filter:?} / {order_by:?} failed: {e}"),
        }
    }

    fn lm_order_err(order_by: &[LoggedModelOrder]) -> String {
        match resolve_logged_model_order(order_by) {
            Ok(v) => panic!("order_by {order_by:?} unexpectedly resolved: {v:?}"),
            Err(e) => e.0,
        }
    }

    const DEFAULT_LM_ORDER: &str = "logged_models.creation_timestamp DESC, logged_models.model_id ASC";

    #[test]
    fn logged_models_parse_attributes() {
        assert_eq!(lm(""), vec![]);
        assert_eq!(lm("  "), vec![]);
        assert_eq!(
            lm("name = 'model'"),
            vec![cmp(KeyType::Attribute, "name", Comparator::Eq, s("model"))]
        );
        assert_eq!(
            lm("attributes.name = \"model\"")[0],
            cmp(KeyType::Attribute, "name", Comparator::Eq, s("model"))
        );
        assert_eq!(
            lm("creation_time > 5")[0],
            cmp(
                KeyType::Attribute,
                "creation_timestamp",
                Comparator::Gt,
                FilterValue::Int(5)
            )
        );
        assert_eq!(
            lm("creation_timestamp >= 1.5")[0],
            cmp(
                KeyType::Attribute,
                "creation_timestamp",
                Comparator::Ge,
                FilterValue::Float(1.5)
            )
        );
        assert_eq!(lm("last_updated_time < 10")[0].key, "last_updated_timestamp");
        assert_eq!(lm("last_updated_timestamp != 10")[0].comparator, Comparator::Ne);
        for key in ["model_id", "model_type", "status", "source_run_id", "name"] {
            let c = &lm(&format!("{key} ILIKE '%a%'"))[0];
            assert_eq!((c.key.as_str(), c.comparator), (key, Comparator::ILike));
        }
        assert_eq!(
            lm("model_id not in ('a', \"b\")")[0],
            cmp(
                KeyType::Attribute,
                "model_id",
                Comparator::NotIn,
                FilterValue::StrList(strings(&["a", "b"]))
            )
        );
        assert_eq!(lm("name like 'a%'")[0].comparator, Comparator::Like);
        // Verbatim quotes, as in MLflow.
        assert_eq!(lm("name = 'it''s'")[0].value, s("it''s"));
        // MLflow takes unquoted values as their text.
        assert_eq!(lm("name = model")[0].value, s("model"));
        assert_eq!(lm("name = 123")[0].value, s("123"));
        assert_eq!(lm("source_run_id != 1.5")[0].value, s("1.5"));
    }

    #[test]
    fn logged_models_parse_metrics_params_tags() {
        assert_eq!(
            lm("metrics.acc > 0.5 AND params.lr = '0.1' and tags.t != 'x'"),
            vec![
                cmp(KeyType::Metric, "acc", Comparator::Gt, FilterValue::Float(0.5)),
                cmp(KeyType::Param, "lr", Comparator::Eq, s("0.1")),
                cmp(KeyType::Tag, "t", Comparator::Ne, s("x")),
            ]
        );
        assert_eq!(lm("metrics.acc = 1")[0].value, FilterValue::Float(1.0));
        assert_eq!(lm("metrics.acc <= -1e-3")[0].value, FilterValue::Float(-1e-3));
        assert_eq!(lm("metrics.a.b > 1")[0].key, "a.b");
        assert_eq!(lm("metrics.`a b` > 1")[0].key, "a b");
        assert_eq!(lm("tags.`mlflow.source` LIKE 'x%'")[0].key, "mlflow.source");
        assert_eq!(lm("tags.mlflow.user = 'me'")[0].key, "mlflow.user");
        assert_eq!(
            lm("params.lr IN ('a','b')")[0],
            cmp(
                KeyType::Param,
                "lr",
                Comparator::In,
                FilterValue::StrList(strings(&["a", "b"]))
            )
        );
        assert_eq!(
            lm("tags.t NOT IN ('a',)")[0].value,
            FilterValue::StrList(strings(&["a"]))
        );
        assert_eq!(lm("params.p ILIKE '%X%'")[0].comparator, Comparator::ILike);
        assert_eq!(lm("`metrics`.acc > 1")[0].key_type, KeyType::Metric);
    }

    #[test]
    fn logged_models_parse_and_separators() {
        assert_eq!(lm("model_id = 'x' and metrics.a < 1").len(), 2);
        // Like MLflow, stray ANDs are ignored.
        assert_eq!(lm("name = 'a' AND").len(), 1);
        assert_eq!(lm("AND name = 'a'").len(), 1);
        assert_eq!(lm("name = 'a' AND AND name = 'b'").len(), 2);
        assert_eq!(lm("name = 'a AND b'")[0].value, s("a AND b"));
    }

    #[test]
    fn logged_models_parse_errors() {
        let entity = "Expected one of ['attributes', 'metrics', 'params', 'tags'].";
        assert_eq!(
            lm_err("metric.acc > 1"),
            format!("Invalid entity type: 'metric'. {entity}")
        );
        assert_eq!(
            lm_err("datasets.name = 'x'"),
            format!("Invalid entity type: 'datasets'. {entity}")
        );
        assert_eq!(
            lm_err("attribute.name = 'x'"),
            format!("Invalid entity type: 'attribute'. {entity}")
        );
        assert_eq!(lm_err("tag.t = 'x'"), format!("Invalid entity type: 'tag'. {entity}"));
        let e = lm_err("foo = 'x'");
        assert!(
            e.starts_with("Invalid attribute key 'foo' specified. Valid keys are '{"),
            "{e}"
        );
        assert!(e.contains("'source_run_id'") && e.contains("'creation_time'"), "{e}");
        assert!(lm_err("experiment_id = '1'").starts_with("Invalid attribute key 'experiment_id'"));
        assert_eq!(
            lm_err("metrics.x LIKE 'a'"),
            "Invalid comparison operator for metrics.x: 'LIKE'. Expected one of ('<', '<=', '>', '>=', '=', '!=')."
        );
        assert_eq!(
            lm_err("params.x > 'a'"),
            "Invalid comparison operator for params.x: '>'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', \
             'NOT IN')."
        );
        assert!(lm_err("creation_time IN (1)")
            .starts_with("Invalid comparison operator for attributes.creation_time: 'IN'"));
        assert!(lm_err("name IS NULL").starts_with("Invalid comparison operator for attributes.name: 'IS NULL'"));
        assert!(lm_err("tags.t IS NOT NULL").starts_with("Invalid comparison operator for tags.t: 'IS NOT NULL'"));
        assert!(lm_err("name RLIKE 'a'").starts_with("Invalid comparison operator for attributes.name: 'RLIKE'"));
        assert!(lm_err("name == 'a'").starts_with("Invalid comparison operator for attributes.name: '=='"));
        assert_eq!(
            lm_err("name = 'a' OR name = 'b'"),
            "Invalid filter string: \"name = 'a' OR name = 'b'\". Expected a list of comparisons separated by \
             'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."
        );
        for bad in [
            "(name = 'a')",
            "name = 'a' and (name = 'b')",
            "name = 'a' name = 'b'",
            "name = 'a'; name = 'b'",
            "OR name = 'a'",
            "NOT name = 'a'",
            "'name' = 'a'",
            "= 'a'",
        ] {
            let e = lm_err(bad);
            assert!(
                e.starts_with("Invalid filter string: ") && e.contains("separated by 'AND'"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            lm_err("metrics.acc > '0.5'"),
            "Expected numeric value type for metric. Found '0.5'"
        );
        assert_eq!(
            lm_err("metrics.acc > abc"),
            "Expected numeric value type for metric. Found abc"
        );
        assert_eq!(
            lm_err("creation_timestamp = 'x'"),
            "Expected numeric value type for numeric attribute: creation_timestamp. Found 'x'"
        );
        assert!(lm_err("name IN 'a'").contains("expected a parenthesized list"));
        assert!(lm_err("name = ('a')").contains("expected a single value"));
        assert!(lm_err("name IN ()").contains("got empty list"));
        assert!(lm_err("name IN (a)").contains("unquoted value 'a'"));
        assert!(lm_err("name = 'unterminated").contains("unterminated string literal"));
        assert!(lm_err("name").contains("but the filter ended"));
        assert!(lm_err("name =").contains("Expected value token"));
        assert!(lm_err("metrics. > 1").contains("Expected a key name after '.'"));
    }

    #[test]
    fn logged_models_error_quotes_filter_like_python() {
        assert_eq!(py_repr("a"), "'a'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("'a' \"b\""), "'\\'a\\' \"b\"'");
        assert_eq!(py_repr("a\\b\nc"), "'a\\\\b\\nc'");
        assert!(lm_err("name = \"a\" OR x").starts_with("Invalid filter string: 'name = \"a\" OR x'."));
    }

    #[test]
    fn logged_models_never_panic() {
        for f in [
            "",
            "AND",
            "and and",
            "(",
            ")",
            "'",
            "\"",
            "`",
            "metrics.",
            "metrics.`",
            "name = ",
            "name IN (",
            "name IN ('a'",
            "metrics.x > 1e",
            "metrics.x > -",
            "名前 = 'x'",
            "tags.ключ = 'значение'",
            ";",
            "\u{0}",
            "status = READY",
            "name = 'a' AND OR",
        ] {
            let _ = parse_filter(Entity::LoggedModels, f);
            let _ = build_logged_model_sql(Dialect::Sqlite, f, &[], 1);
        }
        assert_eq!(lm("tags.ключ = 'значение'")[0].value, s("значение"));
        assert_eq!(lm("status = READY")[0].value, s("READY"));
    }

    #[test]
    fn logged_models_order_resolution() {
        let fields = |list: &[LoggedModelOrder]| -> Vec<(String, bool)> {
            match resolve_logged_model_order(list) {
                Ok(v) => v.into_iter().map(|o| (o.field_name, o.ascending)).collect(),
                Err(e) => panic!("{e}"),
            }
        };
        let kv =
            |v: &[(&str, bool)]| -> Vec<(String, bool)> { v.iter().map(|(k, a)| ((*k).to_string(), *a)).collect() };
        assert!(LoggedModelOrder::default().ascending);
        assert_eq!(fields(&[]), kv(&[("creation_timestamp", false), ("model_id", true)]));
        assert_eq!(
            fields(&[ord("creation_time", true)]),
            kv(&[("creation_timestamp", true), ("model_id", true)])
        );
        assert_eq!(
            fields(&[ord("model_id", false)]),
            kv(&[("model_id", false), ("creation_timestamp", false)])
        );
        assert_eq!(
            fields(&[ord("metrics.acc", false), ord(" last_updated_time ", true)]),
            kv(&[
                ("metrics.acc", false),
                ("last_updated_timestamp", true),
                ("creation_timestamp", false),
                ("model_id", true)
            ])
        );
        assert_eq!(fields(&[ord("metrics.`a b`", true)])[0].0, "metrics.a b");
        assert_eq!(fields(&[ord("metrics.a.b", true)])[0].0, "metrics.a.b");
        // Duplicates are allowed, as in MLflow.
        assert_eq!(fields(&[ord("name", true), ord("name", false)]).len(), 4);

        let resolved = resolve_logged_model_order(&[
            ord_ds("metrics.acc", true, "ds", Some("d1")),
            ord_ds("name", true, "ds", None),
            LoggedModelOrder {
                field_name: "metrics.loss".into(),
                ascending: true,
                dataset_name: Some(String::new()),
                dataset_digest: Some(String::new()),
            },
        ]);
        let resolved = resolved.unwrap_or_default();
        assert_eq!(resolved[0], ord_ds("metrics.acc", true, "ds", Some("d1")));
        assert_eq!(resolved[1], ord("name", true));
        assert_eq!(resolved[2], ord("metrics.loss", true));
    }

    #[test]
    fn logged_models_order_errors() {
        assert_eq!(
            lm_order_err(&[ord("", true)]),
            "`field_name` in the `order_by` clause must be specified."
        );
        assert_eq!(
            lm_order_err(&[ord("  ", true)]),
            "`field_name` in the `order_by` clause must be specified."
        );
        assert_eq!(
            lm_order_err(&[ord("params.x", true)]),
            "Invalid order by field name: params.x. Only metrics are supported."
        );
        assert_eq!(
            lm_order_err(&[ord("metric.x", true)]),
            "Invalid order by field name: metric.x. Only metrics are supported."
        );
        let e = lm_order_err(&[ord("foo", true)]);
        assert!(
            e.starts_with("Invalid order by field name: foo. Valid field names are"),
            "{e}"
        );
        assert!(lm_order_err(&[ord("metrics.", true)]).starts_with("Invalid order by field name: metrics."));
        assert!(lm_order_err(&[ord("metrics.``", true)]).starts_with("Invalid order by field name: metrics.``"));
        assert_eq!(
            lm_order_err(&[LoggedModelOrder {
                field_name: "metrics.acc".into(),
                dataset_digest: Some("d".into()),
                ..LoggedModelOrder::default()
            }]),
            "`dataset_digest` can only be specified if `dataset_name` is also specified."
        );
        // The string form goes through the same checks.
        assert!(order_err(Entity::LoggedModels, "tags.x DESC").contains("Only metrics are supported"));
        assert!(order_err(Entity::LoggedModels, "bogus").starts_with("Invalid order by field name: bogus."));
    }

    #[test]
    fn sql_logged_models_empty() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let p = lm_sql(dialect, "", &[], &[], 1);
            assert_eq!(
                p,
                SqlParts {
                    where_sql: "1=1".into(),
                    order_sql: DEFAULT_LM_ORDER.into(),
                    ..SqlParts::default()
                }
            );
            assert_eq!(build_logged_model_sql(dialect, " ", &[], 5), Ok(p));
        }
    }

    #[test]
    fn sql_logged_models_attributes() {
        let p = lm_sql(Dialect::Sqlite, "name = 'model'", &[], &[], 3);
        assert_eq!(p.where_sql, "(logged_models.name = $3)");
        assert_eq!(p.binds, vec![text("model")]);
        assert_eq!(p.order_sql, DEFAULT_LM_ORDER);

        let p = lm_sql(
            Dialect::Postgres,
            "creation_time >= 1700000000000 AND last_updated_timestamp < 2.5 AND model_id IN ('a', 'b') AND \
             source_run_id != 'r' AND model_type ILIKE '%Sk%'",
            &[],
            &[],
            1,
        );
        assert_eq!(
            p.where_sql,
            "(logged_models.creation_timestamp >= $1) AND (logged_models.last_updated_timestamp < $2) AND \
             (logged_models.model_id IN ($3, $4)) AND (logged_models.source_run_id != $5) AND \
             (logged_models.model_type ILIKE $6)"
        );
        assert_eq!(
            p.binds,
            vec![
                SqlValue::Int(1_700_000_000_000),
                SqlValue::Float(2.5),
                text("a"),
                text("b"),
                text("r"),
                text("%Sk%")
            ]
        );

        let p = lm_sql(Dialect::Sqlite, "name LIKE 'a_%*' AND name ILIKE 'B%'", &[], &[], 1);
        assert_eq!(
            p.where_sql,
            "(logged_models.name GLOB $1) AND (LOWER(logged_models.name) LIKE LOWER($2))"
        );
        assert_eq!(p.binds, vec![text("a?*[*]"), text("B%")]);
        let p = lm_sql(Dialect::Postgres, "name LIKE 'a_%'", &[], &[], 1);
        assert_eq!(p.where_sql, "(logged_models.name LIKE $1)");
        assert_eq!(p.binds, vec![text("a_%")]);
    }

    #[test]
    fn sql_logged_models_status() {
        let p = lm_sql(Dialect::Postgres, "status = 'READY'", &[], &[], 1);
        assert_eq!(p.where_sql, "(logged_models.status = $1)");
        assert_eq!(p.binds, vec![text("LOGGED_MODEL_READY")]);
        let p = lm_sql(Dialect::Postgres, "status != 'LOGGED_MODEL_PENDING'", &[], &[], 1);
        assert_eq!(p.binds, vec![text("LOGGED_MODEL_PENDING")]);
        let p = lm_sql(
            Dialect::Sqlite,
            "status NOT IN ('FAILED', 'UNSPECIFIED', 'ready')",
            &[],
            &[],
            1,
        );
        assert_eq!(p.where_sql, "(logged_models.status NOT IN ($1, $2, $3))");
        assert_eq!(
            p.binds,
            vec![
                text("LOGGED_MODEL_UPLOAD_FAILED"),
                text("LOGGED_MODEL_STATUS_UNSPECIFIED"),
                text("ready")
            ]
        );
        let case = "(CASE logged_models.status WHEN 'LOGGED_MODEL_STATUS_UNSPECIFIED' THEN 'UNSPECIFIED' WHEN \
                    'LOGGED_MODEL_PENDING' THEN 'PENDING' WHEN 'LOGGED_MODEL_READY' THEN 'READY' WHEN \
                    'LOGGED_MODEL_UPLOAD_FAILED' THEN 'FAILED' ELSE logged_models.status END)";
        let p = lm_sql(Dialect::Sqlite, "status LIKE 'RE%'", &[], &[], 1);
        assert_eq!(p.where_sql, format!("({case} GLOB $1)"));
        assert_eq!(p.binds, vec![text("RE*")]);
        let p = lm_sql(Dialect::Postgres, "status ILIKE '%fail%'", &[], &[], 1);
        assert_eq!(p.where_sql, format!("({case} ILIKE $1)"));
    }

    #[test]
    fn sql_logged_models_metrics_params_tags() {
        let p = lm_sql(
            Dialect::Postgres,
            "metrics.acc > 0.5 AND params.lr = '0.1' AND tags.t IN ('x', 'y') AND metrics.loss != 1",
            &[],
            &[],
            2,
        );
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM logged_model_metrics f0 WHERE f0.model_id = logged_models.model_id AND f0.key \
             = $2 AND f0.value > $3 AND f0.is_nan = 0)) AND (EXISTS (SELECT 1 FROM logged_model_params f1 WHERE \
             f1.model_id = logged_models.model_id AND f1.key = $4 AND f1.value = $5)) AND (EXISTS (SELECT 1 FROM \
             logged_model_tags f2 WHERE f2.model_id = logged_models.model_id AND f2.key = $6 AND f2.value IN ($7, \
             $8))) AND (EXISTS (SELECT 1 FROM logged_model_metrics f3 WHERE f3.model_id = logged_models.model_id \
             AND f3.key = $9 AND (f3.value != $10 OR f3.is_nan = 1)))"
        );
        assert_eq!(
            p.binds,
            vec![
                text("acc"),
                SqlValue::Float(0.5),
                text("lr"),
                text("0.1"),
                text("t"),
                text("x"),
                text("y"),
                text("loss"),
                SqlValue::Float(1.0)
            ]
        );
        let p = lm_sql(Dialect::Sqlite, "tags.t LIKE 'a%'", &[], &[], 1);
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM logged_model_tags f0 WHERE f0.model_id = logged_models.model_id AND f0.key = $1 \
             AND f0.value GLOB $2))"
        );
    }

    #[test]
    fn sql_logged_models_datasets() {
        let datasets = [ds("train", Some("abc")), ds("eval", None), ds("test", Some(""))];
        let p = lm_sql(Dialect::Sqlite, "metrics.acc >= 0.9 AND name = 'm'", &datasets, &[], 1);
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM logged_model_metrics f0 WHERE f0.model_id = logged_models.model_id AND f0.key \
             = $1 AND f0.value >= $2 AND f0.is_nan = 0 AND ((f0.dataset_name = $3 AND f0.dataset_digest = $4) OR \
             f0.dataset_name = $5 OR f0.dataset_name = $6))) AND (logged_models.name = $7)"
        );
        assert_eq!(
            p.binds,
            vec![
                text("acc"),
                SqlValue::Float(0.9),
                text("train"),
                text("abc"),
                text("eval"),
                text("test"),
                text("m")
            ]
        );
        // Without a metric comparison: models with some metric on one of the datasets.
        let p = lm_sql(Dialect::Postgres, "params.a = 'b'", &[ds("train", None)], &[], 1);
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM logged_model_params f0 WHERE f0.model_id = logged_models.model_id AND f0.key = \
             $1 AND f0.value = $2)) AND (EXISTS (SELECT 1 FROM logged_model_metrics dsm WHERE dsm.model_id = \
             logged_models.model_id AND (dsm.dataset_name = $3)))"
        );
        let p = lm_sql(Dialect::Postgres, "", &[ds("d", Some("g"))], &[], 1);
        assert_eq!(
            p.where_sql,
            "(EXISTS (SELECT 1 FROM logged_model_metrics dsm WHERE dsm.model_id = logged_models.model_id AND \
             ((dsm.dataset_name = $1 AND dsm.dataset_digest = $2))))"
        );
        let e = build_logged_model_search_sql(Dialect::Sqlite, "", &[ds("", Some("g"))], &[], 1);
        assert_eq!(
            e,
            Err(FilterError::new(
                "`dataset_name` in the `datasets` clause must be specified."
            ))
        );
    }

    #[test]
    fn sql_logged_models_order_by() {
        let p = lm_sql(
            Dialect::Postgres,
            "name = 'm'",
            &[],
            &[
                ord_ds("metrics.acc", false, "eval", Some("d1")),
                ord("model_type", true),
                ord("creation_time", true),
            ],
            1,
        );
        assert_eq!(
            p.joins,
            "LEFT JOIN (SELECT ob0m.model_id, ob0m.value, ob0m.is_nan, ROW_NUMBER() OVER (PARTITION BY ob0m.model_id \
             ORDER BY ob0m.timestamp DESC, ob0m.step DESC, ob0m.run_uuid ASC) AS rn FROM logged_model_metrics ob0m \
             WHERE ob0m.key = $1 AND ob0m.dataset_name = $2 AND ob0m.dataset_digest = $3) ob0 ON ob0.model_id = \
             logged_models.model_id AND ob0.rn = 1"
        );
        assert_eq!(p.where_sql, "(logged_models.name = $4)");
        assert_eq!(
            p.order_sql,
            "CASE WHEN ob0.is_nan = 1 THEN 1 WHEN ob0.value IS NULL THEN 2 ELSE 0 END ASC, ob0.value DESC, CASE \
             WHEN logged_models.model_type IS NULL THEN 1 ELSE 0 END ASC, logged_models.model_type ASC, \
             logged_models.creation_timestamp ASC, logged_models.model_id ASC"
        );
        assert_eq!(p.binds, vec![text("acc"), text("eval"), text("d1"), text("m")]);

        let p = lm_sql(
            Dialect::Sqlite,
            "",
            &[],
            &[ord("metrics.a", true), ord("metrics.b", true)],
            1,
        );
        assert!(
            p.joins.contains(") ob0 ON ob0.model_id") && p.joins.contains(") ob1 ON ob1.model_id"),
            "{}",
            p.joins
        );
        assert_eq!(p.binds, vec![text("a"), text("b")]);

        let p = lm_sql(Dialect::Sqlite, "", &[], &[ord("status", false)], 1);
        assert_eq!(
            p.order_sql,
            format!(
                "(CASE logged_models.status WHEN 'LOGGED_MODEL_STATUS_UNSPECIFIED' THEN 0 WHEN \
                 'LOGGED_MODEL_PENDING' THEN 1 WHEN 'LOGGED_MODEL_READY' THEN 2 WHEN 'LOGGED_MODEL_UPLOAD_FAILED' \
                 THEN 3 ELSE 4 END) DESC, {DEFAULT_LM_ORDER}"
            )
        );
        let p = lm_sql(
            Dialect::Sqlite,
            "",
            &[],
            &[ord("model_id", false), ord("last_updated_time", true)],
            1,
        );
        assert_eq!(
            p.order_sql,
            "logged_models.model_id DESC, logged_models.last_updated_timestamp ASC, logged_models.creation_timestamp \
             DESC"
        );
        let e = build_logged_model_sql(Dialect::Sqlite, "", &[ord("params.p", true)], 1);
        assert!(e.is_err());
    }

    #[test]
    fn sql_logged_models_via_generic_entry_points() {
        let generic = build(
            Entity::LoggedModels,
            Dialect::Postgres,
            "metrics.acc > 1",
            &["metrics.acc DESC", "name"],
            2,
        );
        let objects = lm_sql(
            Dialect::Postgres,
            "metrics.acc > 1",
            &[],
            &[ord("metrics.acc", false), ord("name", true)],
            2,
        );
        assert_eq!(generic, objects);
        let generic = build(Entity::LoggedModels, Dialect::Sqlite, "", &["metrics.`a b` ASC"], 1);
        assert_eq!(generic.binds, vec![text("a b")]);
        assert_eq!(
            resolve_order_by(Entity::LoggedModels, &strings(&["creation_time ASC"]))
                .map(|v| v.into_iter().map(|o| (o.key, o.ascending)).collect::<Vec<_>>()),
            Ok(vec![
                ("creation_timestamp".to_string(), true),
                ("model_id".to_string(), true)
            ])
        );
        assert_eq!(resolve_order_by(Entity::LoggedModels, &[]).map(|v| v.len()), Ok(2));
        let parsed = parse_filter(Entity::LoggedModels, "status = 'READY'").unwrap_or_default();
        let (sql, binds) = build_where_sql(Entity::LoggedModels, Dialect::Sqlite, &parsed, 7);
        assert_eq!(
            (sql.as_str(), binds),
            ("(logged_models.status = $7)", vec![text("LOGGED_MODEL_READY")])
        );
        assert_eq!(Entity::LoggedModels.table(), "logged_models");
    }

    #[test]
    fn sql_logged_models_never_contain_user_text() {
        let evil = "x'); DROP TABLE logged_models; --";
        let f = format!(
            "params.`{evil}` = \"{evil}\" AND tags.t LIKE \"{evil}\" AND name IN (\"{evil}\") AND metrics.`{evil}` > 1"
        );
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let p = lm_sql(
                dialect,
                &f,
                &[ds(evil, Some(evil))],
                &[ord_ds(&format!("metrics.{evil}"), false, evil, Some(evil))],
                1,
            );
            let all = format!("{} {} {}", p.joins, p.where_sql, p.order_sql);
            assert!(!all.contains("DROP"), "{all}");
            assert!(!all.contains('\''), "{all}");
            assert!(p.binds.contains(&text(evil)));
        }
    }
}
