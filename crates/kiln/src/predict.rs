//! `kiln predict MODEL_URI INPUT [-o OUTPUT]`: score a file with a model
//! bundle; the fitted preprocessing inside the bundle is the only code path.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use kiln_data::arrow::array::{ArrayRef, Float64Array, StringArray};
use kiln_data::arrow::datatypes::{DataType, Field, Schema};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::read::{self, ReadOptions};
use kiln_data::Table;
use kiln_learn::bundle::ModelBundle;
use kiln_learn::Predictions;

#[derive(clap::Args)]
pub struct Args {
    /// The model: runs:/RUN_ID/model, models:/NAME@ALIAS, models:/NAME/VERSION, or a
    /// kiln-model.json file or the folder holding it.
    pub model: String,
    /// The rows to score: a CSV, JSON/NDJSON, Parquet or Avro file, folder or glob.
    pub input: String,
    /// Where to write the predictions: .csv or .parquet (default: CSV on stdout).
    #[arg(long, short)]
    pub output: Option<String>,
    /// Copy these input columns into the output (e.g. an id), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Tracking store or server for runs:/ and models:/ URIs (default: MLFLOW_TRACKING_URI, else sqlite:///kiln.db).
    #[arg(long, env = "KILN_TRACKING_URI")]
    pub tracking_uri: Option<String>,
    /// Artifact folder of the embedded store.
    #[arg(long, default_value = "./kiln-artifacts")]
    pub artifacts: String,
}

/// The output table: kept columns, `prediction`, and a probability per class.
pub fn predictions_table(bundle: &ModelBundle, input: &Table, keep: &[String], pred: &Predictions) -> Result<Table> {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for k in keep {
        let c = input.column(k).map_err(|e| anyhow!("--keep: {}", e.message))?;
        fields.push(Field::new(k, c.data_type().clone(), true));
        cols.push(c);
    }
    let labels = pred.labels();
    match pred {
        Predictions::Regression(v) => {
            fields.push(Field::new("prediction", DataType::Float64, false));
            cols.push(Arc::new(Float64Array::from(v.clone())));
        }
        _ => {
            let names: Vec<&str> = labels
                .iter()
                .map(|&l| bundle.classes.get(l as usize).map(String::as_str).unwrap_or(""))
                .collect();
            fields.push(Field::new("prediction", DataType::Utf8, false));
            cols.push(Arc::new(StringArray::from(names)));
            let k = bundle.classes.len();
            for (ci, class) in bundle.classes.iter().enumerate() {
                let p: Vec<f64> = match pred {
                    Predictions::Binary(p1) => p1.iter().map(|&p| if ci == 1 { p } else { 1.0 - p }).collect(),
                    Predictions::Multiclass { probs, .. } => probs.iter().skip(ci).step_by(k).copied().collect(),
                    Predictions::Regression(_) => Vec::new(),
                };
                fields.push(Field::new(format!("probability_{class}"), DataType::Float64, false));
                cols.push(Arc::new(Float64Array::from(p)));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols).context("assembling the predictions")?;
    Table::new(schema, vec![batch]).map_err(|e| anyhow!("{e}"))
}

pub fn run(args: Args) -> Result<()> {
    let needs_tracker = args.model.starts_with("runs:/") || args.model.starts_with("models:/");
    let tracker = if needs_tracker {
        let uri = crate::train::tracking_uri(args.tracking_uri.as_deref(), None);
        Some(kiln_train::tracking::open(&uri, &args.artifacts)?)
    } else {
        None
    };
    let bytes = kiln_train::tracking::fetch_model(&args.model, tracker.as_deref())?;
    let bundle = ModelBundle::from_json(&bytes, &args.model).map_err(|e| anyhow!("{e}"))?;
    let loaded = bundle.load().map_err(|e| anyhow!("{}: {e}", args.model))?;
    let input = read::read(&args.input, &ReadOptions::default()).map_err(|e| anyhow!("{e}"))?;
    if input.num_rows() == 0 {
        bail!("{}: no rows to score", args.input);
    }
    let pred = loaded.predict(&input).map_err(|e| anyhow!("{e}"))?;
    let out = predictions_table(&loaded.bundle, &input, &args.keep, &pred)?;
    match &args.output {
        Some(path) => {
            kiln_data::write::write_table(&out, std::path::Path::new(path)).map_err(|e| anyhow!("{e}"))?;
            eprintln!("wrote {} predictions to {path}", out.num_rows());
        }
        None => {
            let batch = out.concat().map_err(|e| anyhow!("{e}"))?;
            let mut w = kiln_data::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(std::io::stdout().lock());
            w.write(&batch).context("writing CSV to stdout")?;
        }
    }
    Ok(())
}
