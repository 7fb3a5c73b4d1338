//! Contracts: the TOML format, inference, every rule, both policies, bad inputs.

use std::sync::Arc;

use kiln_data::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt64Array,
};
use kiln_data::arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::contract::{
    Bound, CheckOptions, ColumnRule, Contract, ExtraColumns, InferOptions, Kind, Policy, Report, Rule,
};
use kiln_data::{Origin, Table};

fn table(cols: Vec<(&str, ArrayRef)>) -> Table {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let b = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    Table::new(schema, vec![b]).unwrap()
}

/// Splits a one-batch table into files of `sizes` rows named a.csv, b.csv, ...
fn from_files(t: &Table, sizes: &[usize]) -> Table {
    let b = t.concat().unwrap();
    let mut batches = Vec::new();
    let mut origins = Vec::new();
    let mut off = 0;
    for (i, &n) in sizes.iter().enumerate() {
        batches.push(b.slice(off, n));
        origins.push(Origin {
            file: format!("{}.csv", (b'a' + i as u8) as char).into(),
            first_row: 1,
        });
        off += n;
    }
    Table::with_origins(t.schema().clone(), batches, origins).unwrap()
}

fn people() -> Table {
    table(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6]))),
        (
            "age",
            Arc::new(Int64Array::from(vec![
                Some(30),
                None,
                Some(150),
                Some(-1),
                Some(40),
                Some(41),
            ])),
        ),
        (
            "plan",
            Arc::new(StringArray::from(vec!["basic", "pro", "gold", "basic", "pro", "pro"])),
        ),
        (
            "score",
            Arc::new(Float64Array::from(vec![0.5, f64::NAN, 0.2, 0.9, 1.5, 0.1])),
        ),
    ])
}

fn people_contract() -> Contract {
    Contract::from_toml(
        r#"
name = "people"
policy = "quarantine"
unique = [["id"]]

[[column]]
name = "id"
type = "int"
nullable = false

[[column]]
name = "age"
type = "int"
nullable = false
min = 0
max = 120

[[column]]
name = "plan"
type = "string"
categories = ["basic", "pro"]

[[column]]
name = "score"
type = "float"
nullable = false
max = 1.0
"#,
        "people.contract.toml",
    )
    .unwrap()
}

#[test]
fn the_documented_example_parses() {
    let text = r#"
name = "churn"
policy = "quarantine"
quarantine = "bad_rows.csv"
min_rows = 1000
extra_columns = "error"
coerce = true
unique = [["customer_id"], ["region", "day"]]

[[column]]
name = "customer_id"
type = "string"
nullable = false
unique = true

[[column]]
name = "region"
type = "string"

[[column]]
name = "day"
type = "date"
min = "2015-01-01"

[[column]]
name = "age"
type = "int"
min = 18
max = 120

[[column]]
name = "seen"
type = "timestamp"
max = "2030-01-01T00:00:00"

[[column]]
name = "plan"
type = "string"
categories = ["basic", "pro", "team"]
"#;
    let c = Contract::from_toml(text, "churn.toml").unwrap();
    assert_eq!(c.policy, Policy::Quarantine);
    assert_eq!(c.min_rows, Some(1000));
    assert_eq!(c.unique.len(), 2);
    assert_eq!(c.columns.len(), 6);
    assert_eq!(c.columns[3].min, Some(Bound::Int(18)));
    assert_eq!(c.columns[2].kind, Kind::Date);
    assert!(c.columns[0].unique && !c.columns[0].nullable);
    assert!(c.columns[1].nullable, "nullable defaults to true");
    // Writing and reading back gives the same contract.
    let again = Contract::from_toml(&c.to_toml().unwrap(), "again.toml").unwrap();
    assert_eq!(again, c);
}

#[test]
fn unknown_keys_and_bad_values_are_errors_that_say_which() {
    let e = Contract::from_toml("polcy = \"fail\"\n", "c.toml").unwrap_err();
    assert!(e.to_string().contains("c.toml") && e.message.contains("polcy"), "{e}");
    let e = Contract::from_toml("[[column]]\nname = \"a\"\ntype = \"int\"\nnulable = false\n", "c.toml").unwrap_err();
    assert!(e.message.contains("nulable"), "{e}");
    let e = Contract::from_toml("[[column]]\nname = \"a\"\ntype = \"integer32\"\n", "c.toml").unwrap_err();
    assert!(e.message.contains("integer32"), "{e}");
    let e = Contract::from_toml("policy = \"drop\"\n", "c.toml").unwrap_err();
    assert!(e.message.contains("drop"), "{e}");
    let e = Contract::from_toml("[[column]]\nname = \"a\"\ntype = \"int\"\nmin = \"zero\"\n", "c.toml").unwrap_err();
    assert!(
        e.to_string().contains("column 'a'") && e.message.contains("number"),
        "{e}"
    );
    let e = Contract::from_toml(
        "[[column]]\nname = \"d\"\ntype = \"date\"\nmin = \"2024-13-45\"\n",
        "c.toml",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("column 'd'") && e.message.contains("2024-13-45"),
        "{e}"
    );
    let e = Contract::from_toml("[[column]]\nname = \"d\"\ntype = \"date\"\nmin = 3\n", "c.toml").unwrap_err();
    assert!(e.message.contains("text"), "{e}");
    let e = Contract::from_toml(
        "[[column]]\nname = \"a\"\ntype = \"int\"\ncategories = [\"x\"]\n",
        "c.toml",
    )
    .unwrap_err();
    assert!(e.message.contains("categories are for string columns"), "{e}");
    let e = Contract::from_toml("[[column]]\nname = \"a\"\ntype = \"int\"\nmin = 5\nmax = 1\n", "c.toml").unwrap_err();
    assert!(e.message.contains("greater than max"), "{e}");
    let e = Contract::from_toml("[[column]]\nname = \"s\"\ntype = \"string\"\nmin = 1\n", "c.toml").unwrap_err();
    assert!(e.message.contains("not allowed on a string column"), "{e}");
    let e = Contract::from_toml(
        "unique = [[\"nope\"]]\n[[column]]\nname = \"a\"\ntype = \"int\"\n",
        "c.toml",
    )
    .unwrap_err();
    assert!(e.message.contains("'nope'"), "{e}");
    let e = Contract::from_toml(
        "[[column]]\nname = \"a\"\ntype = \"int\"\n[[column]]\nname = \"a\"\ntype = \"float\"\n",
        "c.toml",
    )
    .unwrap_err();
    assert!(e.message.contains("declared twice"), "{e}");
    let e = Contract::from_toml("unique = [[]]\n", "c.toml").unwrap_err();
    assert!(e.message.contains("at least one column"), "{e}");
    let e = Contract::load(std::path::Path::new("/no/such/contract.toml")).unwrap_err();
    assert!(e.to_string().contains("/no/such/contract.toml"), "{e}");
}

#[test]
fn every_row_rule_is_counted_and_located() {
    let t = from_files(&people(), &[3, 3]);
    let c = people_contract();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert!(!r.passed);
    assert_eq!(r.rows, 6);
    assert_eq!(r.count(Rule::NotNull, Some("age")), 1);
    assert_eq!(r.count(Rule::Min, Some("age")), 1);
    assert_eq!(r.count(Rule::Max, Some("age")), 1);
    assert_eq!(r.count(Rule::Category, Some("plan")), 1);
    assert_eq!(r.count(Rule::NotNull, Some("score")), 1, "NaN counts as missing");
    assert_eq!(r.count(Rule::Max, Some("score")), 1);
    assert_eq!(r.count(Rule::Unique, Some("id")), 0);
    // Rows 2 (null age, NaN score), 3 (150, gold), 4 (-1), 5 (score 1.5) are bad.
    assert_eq!(r.invalid_rows, 4);
    assert_eq!(r.valid_rows, 2);
    let max_age = r
        .rules
        .iter()
        .find(|x| x.rule == Rule::Max && x.column.as_deref() == Some("age"))
        .unwrap();
    let ex = &max_age.examples[0];
    assert_eq!(ex.location.to_string(), "a.csv, row 3, column 'age'");
    assert_eq!(ex.message, "150 is above the maximum 120");
    assert_eq!(ex.value.as_deref(), Some("150"));
    let min_age = r.rules.iter().find(|x| x.rule == Rule::Min).unwrap();
    assert_eq!(min_age.examples[0].location.to_string(), "b.csv, row 1, column 'age'");
    let cat = r.rules.iter().find(|x| x.rule == Rule::Category).unwrap();
    assert!(cat.examples[0]
        .message
        .contains("'gold' is not an allowed category (basic, pro)"));
    // The readable form names the rule, the column and the location.
    let text = r.to_string();
    assert!(
        text.contains("FAILED") && text.contains("a.csv, row 3, column 'age'"),
        "{text}"
    );
    assert!(r.summary().contains("max 'age' 1"), "{}", r.summary());
}

#[test]
fn counts_are_exact_and_examples_capped() {
    let n = 1000;
    let t = table(vec![(
        "x",
        Arc::new(Int64Array::from_iter((0..n).map(|i| {
            if i % 3 == 0 {
                None
            } else {
                Some(i)
            }
        }))),
    )]);
    let mut c = Contract::from_toml("[[column]]\nname = \"x\"\ntype = \"int\"\nnullable = false\n", "c").unwrap();
    let r = c
        .validate(
            &t,
            &CheckOptions {
                examples: 3,
                ..CheckOptions::default()
            },
        )
        .unwrap();
    assert_eq!(r.count(Rule::NotNull, Some("x")), 334);
    assert_eq!(r.rules[0].examples.len(), 3);
    let rows: Vec<u64> = r.rules[0].examples.iter().map(|e| e.location.row.unwrap()).collect();
    assert_eq!(rows, vec![1, 4, 7], "first examples, in row order, 1-based");
    c.columns[0].nullable = true;
    assert!(c.validate(&t, &CheckOptions::default()).unwrap().passed);
}

#[test]
fn report_serialises_to_json_and_back() {
    let r = people_contract().validate(&people(), &CheckOptions::default()).unwrap();
    let json = r.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["rows"], 6);
    assert_eq!(v["passed"], false);
    let rules = v["rules"].as_array().unwrap();
    assert!(rules
        .iter()
        .any(|x| x["rule"] == "not_null" && x["column"] == "age" && x["count"] == 1));
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn unique_keys_single_and_composite_name_the_first_row() {
    let t = from_files(
        &table(vec![
            ("region", Arc::new(StringArray::from(vec!["n", "s", "n", "n", "s"]))),
            ("day", Arc::new(Int64Array::from(vec![1, 1, 2, 1, 1]))),
            ("id", Arc::new(Int64Array::from(vec![10, 11, 12, 13, 10]))),
        ]),
        &[2, 3],
    );
    let c = Contract::from_toml(
        r#"
unique = [["region", "day"]]
[[column]]
name = "region"
type = "string"
[[column]]
name = "day"
type = "int"
[[column]]
name = "id"
type = "int"
unique = true
"#,
        "c",
    )
    .unwrap();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::Unique, Some("region,day")), 2);
    assert_eq!(r.count(Rule::Unique, Some("id")), 1);
    let comp = r
        .rules
        .iter()
        .find(|x| x.column.as_deref() == Some("region,day"))
        .unwrap();
    assert_eq!(
        comp.examples[0].location.to_string(),
        "b.csv, row 2, column 'region,day'"
    );
    assert!(comp.examples[0].message.contains("(n, 1)") && comp.examples[0].message.contains("a.csv, row 1"));
    let id = r.rules.iter().find(|x| x.column.as_deref() == Some("id")).unwrap();
    assert!(
        id.examples[0].message.contains("first seen at a.csv, row 1"),
        "{}",
        id.examples[0].message
    );
    assert_eq!(r.invalid_rows, 2);
}

#[test]
fn text_columns_are_parsed_into_the_declared_type() {
    let t = from_files(
        &table(vec![
            (
                "n",
                Arc::new(StringArray::from(vec![
                    Some("1"),
                    Some("abc"),
                    Some(""),
                    None,
                    Some("7"),
                ])),
            ),
            (
                "d",
                Arc::new(StringArray::from(vec![
                    "2024-01-01",
                    "2024-02-30",
                    "2024-03-01",
                    "2024-03-02",
                    "x",
                ])),
            ),
            (
                "b",
                Arc::new(StringArray::from(vec!["true", "false", "maybe", "true", "false"])),
            ),
            (
                "t",
                Arc::new(StringArray::from(vec![
                    "2024-01-01T10:00:00",
                    "2024-01-01 11:00:00",
                    "2024-01-01T12:00:00Z",
                    "yesterday",
                    "2024-01-02T00:00:00",
                ])),
            ),
        ]),
        &[5],
    );
    let c = Contract::from_toml(
        r#"
policy = "quarantine"
[[column]]
name = "n"
type = "int"
[[column]]
name = "d"
type = "date"
[[column]]
name = "b"
type = "bool"
[[column]]
name = "t"
type = "timestamp"
"#,
        "c",
    )
    .unwrap();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::Parse, Some("n")), 1, "{r}");
    assert_eq!(r.count(Rule::Parse, Some("d")), 2, "{r}");
    assert_eq!(r.count(Rule::Parse, Some("b")), 1, "{r}");
    assert_eq!(r.count(Rule::Parse, Some("t")), 1, "{r}");
    let p = r
        .rules
        .iter()
        .find(|x| x.rule == Rule::Parse && x.column.as_deref() == Some("n"))
        .unwrap();
    assert_eq!(
        p.examples[0].to_string(),
        "a.csv, row 2, column 'n': expected int, found 'abc'"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = c
        .enforce(
            &t,
            &CheckOptions {
                quarantine_path: Some(dir.path().join("q.csv")),
                ..CheckOptions::default()
            },
        )
        .unwrap();
    // Rows 2 (abc, 2024-02-30), 3 (maybe), 4 (yesterday), 5 (x) are bad; row 1 is good.
    assert_eq!(out.table.num_rows(), 1);
    let schema = out.table.schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).data_type(), &DataType::Date32);
    assert_eq!(schema.field(2).data_type(), &DataType::Boolean);
    assert_eq!(
        schema.field(3).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(out.table.column("n").unwrap().as_primitive::<Int64Type>().value(0), 1);
}

#[test]
fn empty_text_is_a_null_not_a_parse_error() {
    let t = table(vec![(
        "n",
        Arc::new(StringArray::from(vec![Some("1"), Some(""), Some("  "), None])),
    )]);
    let c = Contract::from_toml("[[column]]\nname = \"n\"\ntype = \"float\"\nnullable = false\n", "c").unwrap();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::Parse, Some("n")), 0);
    assert_eq!(r.count(Rule::NotNull, Some("n")), 3);
}

#[test]
fn schema_violations_missing_extra_wrong_type() {
    let t = table(vec![
        ("id", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
        ("extra", Arc::new(Int32Array::from(vec![1, 2]))),
        ("flag", Arc::new(StringArray::from(vec!["true", "false"]))),
    ]);
    let mut c = Contract::from_toml(
        r#"
coerce = false
[[column]]
name = "id"
type = "int"
[[column]]
name = "name"
type = "string"
[[column]]
name = "flag"
type = "bool"
"#,
        "c",
    )
    .unwrap();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert!(!r.passed && r.has_table_violations());
    assert_eq!(r.count(Rule::MissingColumn, Some("name")), 1);
    assert_eq!(r.count(Rule::ExtraColumn, Some("extra")), 1);
    assert_eq!(r.count(Rule::WrongType, Some("id")), 1);
    assert_eq!(r.count(Rule::WrongType, Some("flag")), 1);
    let msg = |rule| {
        r.rules.iter().find(|x| x.rule == rule).unwrap().examples[0]
            .message
            .clone()
    };
    assert!(
        msg(Rule::MissingColumn).contains("column 'name' is missing")
            && msg(Rule::MissingColumn).contains("id, extra, flag")
    );
    assert!(
        msg(Rule::WrongType).contains("has type Float64, the contract expects int"),
        "{}",
        msg(Rule::WrongType)
    );
    assert!(msg(Rule::ExtraColumn).contains("extra_columns"));
    // Schema violations fail under quarantine too.
    c.policy = Policy::Quarantine;
    let e = c.enforce(&t, &CheckOptions::default()).unwrap_err();
    assert!(e.message.contains("missing_column"), "{e}");
}

#[test]
fn extra_columns_allow_and_drop() {
    let t = table(vec![
        ("a", Arc::new(Int64Array::from(vec![1, 2]))),
        ("b", Arc::new(Int64Array::from(vec![3, 4]))),
    ]);
    let mut c = Contract::from_toml("[[column]]\nname = \"a\"\ntype = \"int\"\n", "c").unwrap();
    c.extra_columns = ExtraColumns::Allow;
    let out = c.enforce(&t, &CheckOptions::default()).unwrap();
    assert_eq!(out.table.column_names(), vec!["a", "b"]);
    c.extra_columns = ExtraColumns::Drop;
    let out = c.enforce(&t, &CheckOptions::default()).unwrap();
    assert_eq!(out.table.column_names(), vec!["a"]);
    assert_eq!(out.table.num_rows(), 2);
}

#[test]
fn min_rows_before_and_after_quarantine() {
    let t = people();
    let mut c = people_contract();
    c.min_rows = Some(10);
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::MinRows, None), 1);
    let e = c.enforce(&t, &CheckOptions::default()).unwrap_err();
    assert!(e.message.contains("min_rows"), "{e}");
    // 6 rows pass min_rows = 4, but only 2 are good after quarantine.
    c.min_rows = Some(4);
    let dir = tempfile::tempdir().unwrap();
    let e = c
        .enforce(
            &t,
            &CheckOptions {
                quarantine_path: Some(dir.path().join("q.csv")),
                ..CheckOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        e.message.contains("2 good rows") && e.message.contains("at least 4"),
        "{e}"
    );
}

#[test]
fn fail_policy_names_the_first_violation_and_the_counts() {
    let mut c = people_contract();
    c.policy = Policy::Fail;
    let t = from_files(&people(), &[6]);
    let e = c.enforce(&t, &CheckOptions::default()).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("a.csv, row 2, column 'age'"), "{s}");
    assert!(
        s.contains("contract 'people' failed") && s.contains("not_null 'age' 1"),
        "{s}"
    );
    // A table that keeps the contract loads unchanged, origins and all.
    let good = t.take(&[0, 5]).unwrap();
    let good = from_files(&good, &[2]);
    let ok = c.enforce(&good, &CheckOptions::default()).unwrap();
    assert!(ok.report.passed && ok.quarantined.is_none());
    assert_eq!(ok.table.locate(1), Some(("a.csv", 2)));
}

#[test]
fn quarantine_writes_every_bad_row_with_its_reasons() {
    let t = from_files(&people(), &[3, 3]);
    let c = people_contract();
    let dir = tempfile::tempdir().unwrap();
    for name in ["bad.csv", "bad.parquet"] {
        let path = dir.path().join(name);
        let out = c
            .enforce(
                &t,
                &CheckOptions {
                    quarantine_path: Some(path.clone()),
                    ..CheckOptions::default()
                },
            )
            .unwrap();
        let q = out.quarantined.as_ref().unwrap();
        // Nothing lost: good + quarantined = all rows.
        assert_eq!(out.table.num_rows() + q.num_rows(), t.num_rows());
        assert_eq!(q.num_rows(), 4);
        let ids = out.table.column("id").unwrap();
        assert_eq!(ids.as_primitive::<Int64Type>().values().to_vec(), vec![1, 6]);
        assert_eq!(out.quarantine_path.as_deref(), Some(path.as_path()));
        assert!(path.exists());
        let reason = q.column("_kiln_reason").unwrap();
        let reason = reason.as_string::<i32>();
        // Row 2 of a.csv broke two rules: both are named.
        assert!(reason.value(0).contains("not_null 'age'") && reason.value(0).contains("not_null 'score'"));
        let file = q.column("_kiln_file").unwrap();
        let file = file.as_string::<i32>();
        let row = q.column("_kiln_row").unwrap();
        let row = row.as_any().downcast_ref::<UInt64Array>().unwrap();
        let got: Vec<(String, u64)> = (0..4).map(|i| (file.value(i).to_string(), row.value(i))).collect();
        assert_eq!(
            got,
            vec![
                ("a.csv".into(), 2),
                ("a.csv".into(), 3),
                ("b.csv".into(), 1),
                ("b.csv".into(), 2)
            ]
        );
        let col = q.column("_kiln_column").unwrap();
        assert_eq!(col.as_string::<i32>().value(1), "age,plan");
        // The original values are kept.
        assert_eq!(q.column("plan").unwrap().as_string::<i32>().value(1), "gold");
    }
    let text = std::fs::read_to_string(dir.path().join("bad.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "_kiln_reason,_kiln_file,_kiln_row,_kiln_column,id,age,plan,score"
    );
    assert_eq!(lines.count(), 4);
    let back = kiln_data::write::read_parquet(&dir.path().join("bad.parquet")).unwrap();
    assert_eq!(back.num_rows(), 4);
}

#[test]
fn quarantine_without_a_path_is_an_error_not_a_drop() {
    let e = people_contract()
        .enforce(&people(), &CheckOptions::default())
        .unwrap_err();
    assert!(e.message.contains("no quarantine file"), "{e}");
    let mut c = people_contract();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("from_contract.csv");
    c.quarantine = Some(p.display().to_string());
    let out = c.enforce(&people(), &CheckOptions::default()).unwrap();
    assert_eq!(out.quarantine_path.as_deref(), Some(p.as_path()));
    assert!(p.exists());
}

#[test]
fn infer_reads_types_nullability_ranges_and_categories() {
    let n = 40;
    let t = table(vec![
        ("id", Arc::new(Int64Array::from_iter_values(0..n))),
        (
            "x",
            Arc::new(Float64Array::from_iter((0..n).map(|i| {
                if i == 3 {
                    None
                } else {
                    Some(i as f64 / 2.0)
                }
            }))),
        ),
        (
            "plan",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| ["basic", "pro", "team"][i as usize % 3]),
            )),
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("user{i}")))),
        ),
        (
            "ok",
            Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
        ),
        (
            "day",
            Arc::new(Date32Array::from_iter_values((0..n).map(|i| 19723 + i as i32))),
        ),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000_000 + i),
            )),
        ),
    ]);
    let c = Contract::infer(
        &t,
        &InferOptions {
            name: Some("inferred".into()),
            ..InferOptions::default()
        },
    )
    .unwrap();
    let col = |n: &str| c.columns.iter().find(|x| x.name == n).unwrap().clone();
    assert_eq!(col("id").kind, Kind::Int);
    assert!(!col("id").nullable);
    assert_eq!(
        (col("id").min, col("id").max),
        (Some(Bound::Int(0)), Some(Bound::Int(39)))
    );
    assert_eq!(col("x").kind, Kind::Float);
    assert!(col("x").nullable);
    assert_eq!(col("x").max, Some(Bound::Float(19.5)));
    assert_eq!(
        col("plan").categories,
        Some(vec!["basic".to_string(), "pro".into(), "team".into()])
    );
    assert_eq!(col("name").categories, None, "every value distinct: not categories");
    assert_eq!(col("ok").kind, Kind::Bool);
    assert_eq!(col("day").kind, Kind::Date);
    assert_eq!(col("day").min, Some(Bound::Text("2024-01-01".into())));
    assert_eq!(col("at").kind, Kind::Timestamp);
    assert_eq!(col("at").min, Some(Bound::Text("2023-11-14T22:13:20".into())));
    // The written TOML is editable text that reads back to the same contract.
    let text = c.to_toml().unwrap();
    assert!(text.starts_with("# Kiln data contract"));
    assert!(
        text.contains("[[column]]") && text.contains("name = \"plan\""),
        "{text}"
    );
    let back = Contract::from_toml(&text, "inferred.toml").unwrap();
    assert_eq!(back, c);
    // The table it came from keeps it.
    let r = back.validate(&t, &CheckOptions::default()).unwrap();
    assert!(r.passed, "{r}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    c.save(&p).unwrap();
    assert_eq!(Contract::load(&p).unwrap(), c);
}

#[test]
fn inferred_contract_catches_later_changes() {
    let t = table(vec![
        ("k", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        ("c", Arc::new(StringArray::from(vec!["a", "b", "a", "b"]))),
    ]);
    let c = Contract::infer(&t, &InferOptions::default()).unwrap();
    let later = table(vec![
        ("k", Arc::new(Int64Array::from(vec![Some(1), None, Some(9)]))),
        ("c", Arc::new(StringArray::from(vec!["a", "z", "b"]))),
    ]);
    let r = c.validate(&later, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::NotNull, Some("k")), 1);
    assert_eq!(r.count(Rule::Max, Some("k")), 1);
    assert_eq!(r.count(Rule::Category, Some("c")), 1);
}

#[test]
fn float_bounds_on_int_columns_and_int_bounds_on_floats() {
    let t = table(vec![
        ("i", Arc::new(Int64Array::from(vec![0, 1, 2]))),
        ("f", Arc::new(Float64Array::from(vec![0.0, 1.0, 2.5]))),
    ]);
    let c = Contract::from_toml(
        "[[column]]\nname = \"i\"\ntype = \"float\"\nmin = 0.5\n[[column]]\nname = \"f\"\ntype = \"float\"\nmax = 2\n",
        "c",
    )
    .unwrap();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::Min, Some("i")), 1);
    assert_eq!(r.count(Rule::Max, Some("f")), 1);
}

#[test]
fn date_and_timestamp_ranges() {
    let t = table(vec![
        ("d", Arc::new(Date32Array::from(vec![19722, 19723, 19800]))),
        (
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![0, 1_000_000, 86_400_000_000])),
        ),
    ]);
    let c = Contract::from_toml(
        r#"
[[column]]
name = "d"
type = "date"
min = "2024-01-01"
max = "2024-02-01"
[[column]]
name = "ts"
type = "timestamp"
max = "1970-01-01T00:00:01"
"#,
        "c",
    )
    .unwrap();
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::Min, Some("d")), 1, "{r}");
    assert_eq!(r.count(Rule::Max, Some("d")), 1, "{r}");
    assert_eq!(r.count(Rule::Max, Some("ts")), 1, "{r}");
    let ex = &r
        .rules
        .iter()
        .find(|x| x.column.as_deref() == Some("d") && x.rule == Rule::Min)
        .unwrap()
        .examples[0];
    assert_eq!(ex.message, "2023-12-31 is below the minimum 2024-01-01");
}

#[test]
fn any_type_checks_only_nulls_and_null_typed_columns_are_all_null() {
    let t = table(vec![
        (
            "blob",
            Arc::new(kiln_data::arrow::array::BinaryArray::from(vec![Some(&b"x"[..]), None])),
        ),
        ("empty", Arc::new(kiln_data::arrow::array::NullArray::new(2))),
    ]);
    let mut c = Contract {
        name: None,
        policy: Policy::Fail,
        quarantine: None,
        min_rows: None,
        extra_columns: ExtraColumns::Error,
        coerce: true,
        unique: vec![],
        columns: vec![ColumnRule::new("blob", Kind::Any), ColumnRule::new("empty", Kind::Int)],
    };
    assert!(c.validate(&t, &CheckOptions::default()).unwrap().passed);
    c.columns[0].nullable = false;
    c.columns[1].nullable = false;
    let r = c.validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::NotNull, Some("blob")), 1);
    assert_eq!(r.count(Rule::NotNull, Some("empty")), 2);
    let inferred = Contract::infer(&t, &InferOptions::default()).unwrap();
    assert_eq!(inferred.columns[0].kind, Kind::Any);
}

#[test]
fn an_empty_table_passes_a_contract_without_min_rows() {
    let t = Table::empty(people().schema().clone());
    let r = people_contract().validate(&t, &CheckOptions::default()).unwrap();
    assert!(r.passed && r.rows == 0);
}

#[test]
fn files_read_from_disk_are_checked_with_their_file_and_row() {
    use kiln_data::read::{read, read_file, ReadOptions};
    let dir = tempfile::tempdir().unwrap();
    // A Parquet file whose schema does not match: age stored as float, plan missing.
    let stored = table(vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2]))),
        ("age", Arc::new(Float64Array::from(vec![30.0, 40.5]))),
        ("score", Arc::new(Float64Array::from(vec![0.1, 0.2]))),
    ]);
    let pq = dir.path().join("people.parquet");
    kiln_data::write::write_table(&stored, &pq).unwrap();
    let t = read_file(pq.to_str().unwrap(), &ReadOptions::default()).unwrap();
    let r = people_contract().validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.count(Rule::WrongType, Some("age")), 1, "{r}");
    assert_eq!(r.count(Rule::MissingColumn, Some("plan")), 1, "{r}");
    // Two CSV files: the violation names the second file and its own row.
    let csv = dir.path().join("csv");
    std::fs::create_dir(&csv).unwrap();
    std::fs::write(csv.join("a.csv"), "id,age,plan,score\n1,30,basic,0.5\n2,31,pro,0.5\n").unwrap();
    std::fs::write(csv.join("b.csv"), "id,age,plan,score\n3,32,pro,0.5\n4,,pro,0.5\n").unwrap();
    let t = read(csv.to_str().unwrap(), &ReadOptions::default()).unwrap();
    let r = people_contract().validate(&t, &CheckOptions::default()).unwrap();
    assert_eq!(r.invalid_rows, 1, "{r}");
    let ex = &r.rules[0].examples[0];
    assert!(
        ex.location.to_string().ends_with("b.csv, row 2, column 'age'"),
        "{}",
        ex.location
    );
}
