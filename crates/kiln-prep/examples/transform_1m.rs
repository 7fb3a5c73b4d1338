//! Rough timing of kiln-prep on 1,000,000 rows x 50 numeric columns (Float64,
//! 1% nulls): fit (median impute + standard scaling) and transform, against a
//! plain parallel f64 -> f32 column copy of the same data as the memory-speed
//! reference.
//!
//! `cargo run --release -p kiln-prep --example transform_1m [rows] [cols]`

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use arrow::record_batch::RecordBatch;
use kiln_data::Table;
use kiln_prep::{fit, PrepConfig, TargetKind};
use rayon::prelude::*;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let k = args.get(1).copied().unwrap_or(50);
    let mut state = 7u64;
    let mut rand = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let columns: Vec<ArrayRef> = (0..k)
        .map(|j| {
            let v: Vec<Option<f64>> = (0..n)
                .map(|_| {
                    let r = rand();
                    (r >= 0.01).then_some(r * 100.0 + j as f64)
                })
                .collect();
            Arc::new(Float64Array::from(v)) as ArrayRef
        })
        .collect();
    let names: Vec<String> = (0..k).map(|j| format!("c{j}")).collect();
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns.clone()).expect("batch");
    let table = Table::new(schema, vec![batch]).expect("table");
    let threads = rayon::current_num_threads();
    println!("kiln-prep transform benchmark: {n} rows x {k} Float64 columns, {threads} threads");

    let config: PrepConfig = toml::from_str("impute = \"median\"\nscale = \"standard\"").expect("config");
    let t = Instant::now();
    let (pipeline, m) = fit(&config, &table, &names, None, None, TargetKind::None, 0).expect("fit");
    let fit_s = t.elapsed().as_secs_f64();
    assert_eq!((m.n_rows(), m.n_cols()), (n, k));
    drop(m);

    let best = |f: &dyn Fn()| {
        (0..9)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let transform_s = best(&|| {
        let m = pipeline.transform(&table, None).expect("transform");
        std::hint::black_box(&m);
    });
    let (plain, _) = fit(
        &PrepConfig {
            impute: kiln_prep::Impute::None,
            ..PrepConfig::default()
        },
        &table,
        &names,
        None,
        None,
        TargetKind::None,
        0,
    )
    .expect("fit");
    let plain_s = best(&|| {
        let m = plain.transform(&table, None).expect("transform");
        std::hint::black_box(&m);
    });
    let half: Vec<usize> = (0..n).step_by(2).collect();
    let rows_s = best(&|| {
        let m = pipeline.transform(&table, Some(&half)).expect("transform");
        std::hint::black_box(&m);
    });
    // Reference: read every f64 and write f32 into one column-major buffer, in parallel, nothing else.
    let copy_s = best(&|| {
        let mut out = vec![0.0f32; n * k];
        out.par_chunks_mut(n).zip(&columns).for_each(|(o, c)| {
            let c = c.as_primitive::<Float64Type>();
            let nulls = c.nulls();
            for (i, (o, v)) in o.iter_mut().zip(c.values().iter()).enumerate() {
                *o = if nulls.is_none_or(|b| b.is_valid(i)) {
                    *v as f32
                } else {
                    f32::NAN
                };
            }
        });
        std::hint::black_box(&out);
    });
    // One string column with 50 categories, one-hot (20 kept + other) and target-encoded.
    let cats: Vec<String> = (0..50).map(|c| format!("category-{c}")).collect();
    let s: Vec<Option<&str>> = (0..n).map(|i| Some(cats[(i * 7919) % 50].as_str())).collect();
    let s: ArrayRef = Arc::new(arrow::array::StringArray::from(s));
    let s_schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let s_table = Table::new(
        s_schema.clone(),
        vec![RecordBatch::try_new(s_schema, vec![s]).expect("batch")],
    )
    .expect("table");
    let y: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect();
    let one = vec!["s".to_string()];
    let (onehot, _) = fit(&PrepConfig::default(), &s_table, &one, None, None, TargetKind::None, 0).expect("fit");
    let onehot_s = best(&|| {
        std::hint::black_box(onehot.transform(&s_table, None).expect("transform"));
    });
    let te_config = PrepConfig {
        encode: kiln_prep::Encoding::Target,
        ..PrepConfig::default()
    };
    let t = Instant::now();
    let (te, _) = fit(&te_config, &s_table, &one, None, Some(&y), TargetKind::Binary, 0).expect("fit");
    let te_fit_s = t.elapsed().as_secs_f64();
    let te_s = best(&|| {
        std::hint::black_box(te.transform(&s_table, None).expect("transform"));
    });
    println!("one Utf8 column, 50 categories: one-hot (21 columns) transform {onehot_s:.3} s; target encoding fit (5 folds) {te_fit_s:.3} s, transform {te_s:.3} s");
    let gb = (n * k * (8 + 4)) as f64 / 1e9;
    println!("fit (median + standard, incl. training matrix): {fit_s:.3} s");
    println!(
        "transform all rows: {transform_s:.3} s ({:.1} GB/s read+written)",
        gb / transform_s
    );
    println!("transform all rows, no imputation or scaling: {plain_s:.3} s");
    println!("transform every 2nd row (rows = Some): {rows_s:.3} s");
    println!(
        "plain parallel f64->f32 copy (memory reference): {copy_s:.3} s ({:.1} GB/s)",
        gb / copy_s
    );
    println!("ratio transform / copy: {:.2}", transform_s / copy_s);
}
