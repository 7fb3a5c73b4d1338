//! The model bundle: preprocessing + model in one file, loaded back to the
//! same predictions on raw rows; files of another format are refused clearly.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_data::arrow::array::{Float64Array, StringArray};
use kiln_data::arrow::datatypes::{DataType, Field, Schema};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::Table;
use kiln_learn::bundle::{ModelBundle, FORMAT_VERSION};
use kiln_learn::lightgbm::LightGbmLearner;
use kiln_learn::{Callbacks, Learner, Task, TrainSet};

fn table(n: usize) -> (Table, Vec<f64>) {
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let c: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
    let y: Vec<f64> = x
        .iter()
        .zip(&c)
        .map(|(v, c)| ((v + if *c == "a" { 0.5 } else { 0.0 }) > 0.2) as u8 as f64)
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("c", DataType::Utf8, true),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Float64Array::from(x)), Arc::new(StringArray::from(c))],
    )
    .unwrap();
    (Table::new(schema, vec![b]).unwrap(), y)
}

fn bundle() -> (ModelBundle, Table) {
    let (t, y) = table(300);
    let feats = vec!["x".to_string(), "c".to_string()];
    let (prep, m) = kiln_prep::fit(
        &Default::default(),
        &t,
        &feats,
        None,
        Some(&y),
        kiln_prep::TargetKind::Binary,
        1,
    )
    .unwrap();
    let params: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"rounds": 20})).unwrap();
    let model = LightGbmLearner::from_params("lightgbm", &params)
        .unwrap()
        .fit(Task::Binary, &TrainSet::new(&m, &y), None, &mut Callbacks::new())
        .unwrap();
    let b = ModelBundle::new(
        "lightgbm",
        "y",
        Task::Binary,
        vec!["no".into(), "yes".into()],
        prep,
        model.save().unwrap(),
    );
    (b, t)
}

#[test]
fn a_bundle_round_trips_to_identical_predictions_on_raw_rows() {
    let (b, t) = bundle();
    let bytes = b.to_json().unwrap();
    let first = b.clone().load().unwrap().predict(&t).unwrap();
    let back = ModelBundle::from_json(&bytes, "kiln-model.json")
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(back.predict(&t).unwrap(), first);
    assert_eq!(back.class_label(1), "yes");
}

#[test]
fn files_of_another_format_or_version_are_refused() {
    let (b, _) = bundle();
    let mut v: serde_json::Value = serde_json::from_slice(&b.to_json().unwrap()).unwrap();
    v["format_version"] = serde_json::json!(FORMAT_VERSION + 1);
    v["kiln_version"] = serde_json::json!("9.0.0");
    let e = ModelBundle::from_json(&serde_json::to_vec(&v).unwrap(), "m.json").unwrap_err();
    assert!(
        e.message.contains("format version 2 (written by Kiln 9.0.0)") && e.message.contains("upgrade Kiln"),
        "{e}"
    );
    v["format_version"] = serde_json::json!(0);
    let e = ModelBundle::from_json(&serde_json::to_vec(&v).unwrap(), "m.json").unwrap_err();
    assert!(e.message.contains("retrain"), "{e}");
    let e = ModelBundle::from_json(b"{\"a\": 1}", "m.json").unwrap_err();
    assert!(e.message.contains("not a Kiln model file"), "{e}");
    let e = ModelBundle::from_json(b"\x00\x01", "m.json").unwrap_err();
    assert!(e.message.contains("m.json: not a Kiln model file"), "{e}");
    v["format_version"] = serde_json::json!(FORMAT_VERSION);
    v["model"]["kind"] = serde_json::json!("neural_net");
    let b2 = ModelBundle::from_json(&serde_json::to_vec(&v).unwrap(), "m.json").unwrap();
    let e = b2.load().err().unwrap();
    assert!(e.message.contains("unknown model kind 'neural_net'"), "{e}");
}

#[test]
fn scoring_rows_without_a_column_the_model_needs_is_an_error() {
    let (b, t) = bundle();
    let loaded = b.load().unwrap();
    let only_x = t.select(&["x"]).unwrap();
    let e = loaded.predict(&only_x).unwrap_err();
    assert!(e.message.contains("'c'"), "{e}");
}
