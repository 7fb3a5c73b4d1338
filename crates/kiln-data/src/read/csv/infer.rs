//! What type a CSV value looks like, and how those kinds combine over a column.

use arrow::datatypes::{DataType, TimeUnit};

/// The kind of one CSV value (or of a column, once values are combined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No values yet (all null).
    Null,
    /// `true` / `false`, any case.
    Bool,
    /// Fits `i64`.
    Int,
    /// Parses as `f64` (and is not an integer).
    Float,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM[:SS[.fff]]`, `T` allowed for the space, an offset or `Z` after.
    Timestamp,
    /// Anything else.
    Text,
}

impl Kind {
    /// The kind of a non-null value.
    pub fn of(s: &str) -> Kind {
        let t = s.trim_ascii();
        if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
            return Kind::Bool;
        }
        let Some(&first) = t.as_bytes().first() else {
            return Kind::Text;
        };
        if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.' | b'i' | b'I' | b'n' | b'N') {
            if t.parse::<i64>().is_ok() {
                return Kind::Int;
            }
            if t.parse::<f64>().is_ok() {
                return Kind::Float;
            }
        }
        if is_date(t.as_bytes()) {
            return Kind::Date;
        }
        if is_timestamp(t.as_bytes()) {
            return Kind::Timestamp;
        }
        Kind::Text
    }

    /// The kind a column with values of kinds `self` and `other` has.
    pub fn unify(self, other: Kind) -> Kind {
        use Kind::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Null, k) | (k, Null) => k,
            (Int, Float) | (Float, Int) => Float,
            (Date, Timestamp) | (Timestamp, Date) => Timestamp,
            _ => Text,
        }
    }

    /// The Arrow type a column of this kind gets.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Null => DataType::Null,
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Date => DataType::Date32,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Text => DataType::Utf8,
        }
    }

    /// The kind of an Arrow type (for widening a column read as that type).
    pub fn of_type(t: &DataType) -> Kind {
        match t {
            DataType::Null => Kind::Null,
            DataType::Boolean => Kind::Bool,
            DataType::Int64 => Kind::Int,
            DataType::Float64 => Kind::Float,
            DataType::Date32 => Kind::Date,
            DataType::Timestamp(_, _) => Kind::Timestamp,
            _ => Kind::Text,
        }
    }
}

fn digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

fn is_date(b: &[u8]) -> bool {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(&b[..4]) || !digits(&b[5..7]) || !digits(&b[8..]) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn is_timestamp(b: &[u8]) -> bool {
    if b.len() < 16 || !is_date(&b[..10]) || !matches!(b[10], b'T' | b' ') {
        return false;
    }
    let time = &b[11..];
    if !(digits(&time[..2]) && time[2] == b':' && digits(&time[3..5])) {
        return false;
    }
    time[5..]
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b'+' | b'-' | b'Z' | b' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_values() {
        assert_eq!(Kind::of("12"), Kind::Int);
        assert_eq!(Kind::of(" -3 "), Kind::Int);
        assert_eq!(Kind::of("1.5e3"), Kind::Float);
        assert_eq!(Kind::of("99999999999999999999"), Kind::Float);
        assert_eq!(Kind::of("inf"), Kind::Float);
        assert_eq!(Kind::of("TRUE"), Kind::Bool);
        assert_eq!(Kind::of("2024-02-29"), Kind::Date);
        assert_eq!(Kind::of("2024-13-01"), Kind::Text);
        assert_eq!(Kind::of("2024-02-29T10:11:12.5Z"), Kind::Timestamp);
        assert_eq!(Kind::of("2024-02-29 10:11"), Kind::Timestamp);
        assert_eq!(Kind::of("abc"), Kind::Text);
        assert_eq!(Kind::of("1,5"), Kind::Text);
        assert_eq!(Kind::Int.unify(Kind::Float), Kind::Float);
        assert_eq!(Kind::Null.unify(Kind::Bool), Kind::Bool);
        assert_eq!(Kind::Int.unify(Kind::Text), Kind::Text);
        assert_eq!(Kind::Bool.unify(Kind::Int), Kind::Text);
    }
}
