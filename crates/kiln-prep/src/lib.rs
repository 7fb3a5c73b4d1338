//! kiln-prep: preprocessing fitted on the training split, saved with the model,
//! and applied by the same code at training and at serving time.
//!
//! Invariants: no tracking, no learning, no HTTP here. A fitted pipeline is
//! plain data (serde) and `transform` is a pure function of it and its input.
//!
//! # Use
//!
//! [`fit`] takes the `[prep]` config ([`PrepConfig`]), a [`kiln_data::Table`],
//! the feature columns, the training rows, and (for target encoding) the
//! target; it returns a [`FittedPipeline`] and the training rows as a
//! [`kiln_data::Matrix`]. [`FittedPipeline::transform`] turns any later table
//! (validation rows, a scoring request) into a matrix with the same columns
//! ([`FittedPipeline::feature_names`]). The pipeline serialises to JSON and is
//! saved inside the model artifact.
//!
//! # What happens to each column
//!
//! * **Numbers** (integers, floats, decimals; booleans with `kind = "numeric"`)
//!   go through clip, transform, impute and scale, in that order, each step
//!   fitted on the training values as the steps before left them. NaN, null
//!   and infinities are missing. A value outside a transform's domain at
//!   transform time (`log1p` of `x <= -1`, Box-Cox of `x <= 0`) is missing and
//!   then imputed; in the training rows it is an error naming the row.
//!   Box-Cox and Yeo-Johnson lambdas are fitted by maximum likelihood
//!   (Brent's method on [-5, 5]). A constant feature is centred, not scaled.
//! * **Categories** (strings, dictionaries, booleans; numbers with
//!   `kind = "categorical"`, `3` and `3.0` both being "3") are imputed, then
//!   encoded: one-hot (columns `<col>=<value>` for the `max_categories` most
//!   frequent, ties in byte order, then `<col>=__other__` if there were more),
//!   ordinal (position in byte order) or target encoding.
//! * **Target encoding** writes the smoothed mean of the target per category,
//!   `(sum + m * prior) / (count + m)`: for binary targets the rate of 1, for
//!   regression the mean (column `<col>__te`); for multiclass targets one
//!   column per class, the class rate (`<col>__te_0`, `<col>__te_1`, ...). The
//!   training matrix gets out-of-fold values: the training rows are split into
//!   `target_folds` folds (shuffled by the seed) and each fold is encoded with
//!   statistics of the other folds, so no row sees its own target. Later
//!   transforms use the encoding of all training rows.
//! * **Dates and timestamps** become `<col>__year`, `__month`, `__day`,
//!   `__weekday` (Monday = 0) and, for timestamps, `__hour`, each a numeric
//!   feature (`dates = "drop"` leaves them out). Timestamps with a timezone
//!   are read in that zone when it is UTC or a fixed offset (`+02:00`); named
//!   zones are an error.
//! * **Derived columns** are expressions over the raw columns (before
//!   imputation): `+ - * /`, parentheses, numbers, column names (`` `odd name` ``
//!   in backticks), `log`, `log1p`, `exp`, `sqrt`, `abs`, `floor`, `ceil`,
//!   `round`, `pow(x, y)`, `min(a, b, ...)`, `max(a, b, ...)`, and the date
//!   parts `year`, `month`, `day`, `weekday`, `dayofyear`, `hour`, `minute`,
//!   `second`, `days` (days since 1970-01-01) of a date or timestamp column.
//!   Division by zero, and any result that is not a finite number, is NaN
//!   (missing); a missing operand gives a missing result. The result is a
//!   numeric feature like any other (impute, scale, ... by `[prep.columns.<name>]`).
//!   A bad expression is an error naming the derived column and the position.
//!
//! Missing indicators (`<col>__missing`) are added only for features that had
//! missing values in the training rows.
//!
//! # At transform time
//!
//! * An unseen category: all-zero one-hot (or the `__other__` column when
//!   there is one), NaN for ordinal, the prior for target encoding; or, under
//!   `unseen = "error"`, an error naming the column, row and value. A missing
//!   value imputed to a category never seen is treated as unseen but is never
//!   an error.
//! * An absent input column: an error naming it, or, under
//!   `missing_columns = "missing"`, all of its values missing.
//! * A column of another kind than in training (text where a number was):
//!   an error naming it and the expected kind. Any type of the same kind is
//!   accepted (`Int64` in training, `Float64` when scoring).
//!
//! # The `[prep]` section of `kiln.toml`
//!
//! Every field is optional; these are the defaults except where the comments
//! say otherwise (defaults: `scale = "none"`, `missing_indicator = false`, no
//! drops, overrides or derived columns):
//!
//! ```toml
#![doc = include_str!("../example.toml")]
//! ```

pub(crate) mod categorical;
pub mod config;
pub(crate) mod dates;
pub(crate) mod expr;
pub(crate) mod input;
mod num;
pub(crate) mod numeric;
mod pipeline;

pub use config::{
    Bounds, ColumnConfig, ColumnKind, DatePolicy, DerivedColumn, Encoding, Impute, MissingColumns, PrepConfig, Scaling,
    Transform, UnseenPolicy,
};
pub use input::{InputColumn, InputKind};
pub use pipeline::{fit, FittedPipeline, TargetKind};

#[cfg(test)]
mod tests;
