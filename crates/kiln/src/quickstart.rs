//! `kiln quickstart`: a real, small training job end to end, with no set-up.
//!
//! It generates a seeded binary-classification data set, splits it, fits
//! logistic regression by gradient descent for a few learning rates (one
//! tracked run each, with per-epoch metrics), writes the data set and the model
//! as artifacts, registers the best model with the alias `champion`, and prints
//! a leaderboard and where to look. The full pipeline (`kiln train`) replaces
//! the learner here as it lands.

use std::fmt::Write as _;

use anyhow::{anyhow, Result};
use kiln_store::{Dataset, DatasetInput, Metric, ModelVersionCreate, RunCreate, Tag};

#[derive(clap::Args)]
pub struct Args {
    /// Tracking store (embedded SQLite by default).
    #[arg(long, default_value = "sqlite:///kiln.db")]
    backend_store_uri: String,
    /// Artifact folder.
    #[arg(long, default_value = "./kiln-artifacts")]
    artifacts_destination: String,
    /// Rows to generate.
    #[arg(long, default_value_t = 4000)]
    rows: usize,
    /// Training epochs per candidate.
    #[arg(long, default_value_t = 60)]
    epochs: usize,
    /// Random seed (same seed, same data and models).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Port the printed UI URL points at (start it with `kiln server`).
    #[arg(long, default_value_t = 5000)]
    port: u16,
}

/// SplitMix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

const FEATURES: [&str; 6] = ["tenure", "monthly_spend", "support_calls", "age", "logins", "discount"];

struct Data {
    x: Vec<[f64; 6]>,
    y: Vec<f64>,
}

fn generate(rows: usize, seed: u64) -> Data {
    let mut rng = Rng(seed);
    let true_w = [-1.2, 0.8, 1.5, -0.3, -0.9, 0.4];
    let mut x = Vec::with_capacity(rows);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let mut row = [0.0; 6];
        for v in row.iter_mut() {
            *v = rng.normal();
        }
        let z: f64 = row.iter().zip(true_w).map(|(a, w)| a * w).sum::<f64>() - 0.5 + 0.7 * rng.normal();
        y.push(if z > 0.0 { 1.0 } else { 0.0 });
        x.push(row);
    }
    Data { x, y }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn predict(w: &[f64; 7], row: &[f64; 6]) -> f64 {
    sigmoid(w[6] + row.iter().zip(w.iter()).map(|(a, b)| a * b).sum::<f64>())
}

fn log_loss(w: &[f64; 7], d: &Data, idx: &[usize]) -> f64 {
    idx.iter()
        .map(|&i| {
            let p = predict(w, &d.x[i]).clamp(1e-12, 1.0 - 1e-12);
            -(d.y[i] * p.ln() + (1.0 - d.y[i]) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / idx.len().max(1) as f64
}

fn accuracy(w: &[f64; 7], d: &Data, idx: &[usize]) -> f64 {
    idx.iter()
        .filter(|&&i| (predict(w, &d.x[i]) >= 0.5) == (d.y[i] >= 0.5))
        .count() as f64
        / idx.len().max(1) as f64
}

/// ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged.
fn auc(w: &[f64; 7], d: &Data, idx: &[usize]) -> f64 {
    let mut scored: Vec<(f64, f64)> = idx.iter().map(|&i| (predict(w, &d.x[i]), d.y[i])).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut pos, mut i) = (0.0, 0.0, 0);
    while i < scored.len() {
        let mut j = i;
        while j + 1 < scored.len() && scored[j + 1].0 == scored[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for s in &scored[i..=j] {
            if s.1 >= 0.5 {
                rank_sum += avg_rank;
                pos += 1.0;
            }
        }
        i = j + 1;
    }
    let neg = scored.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub async fn run(args: Args) -> Result<()> {
    if args.rows < 50 {
        return Err(anyhow!("--rows must be at least 50, got {}", args.rows));
    }
    let state = crate::open_state(&args.backend_store_uri, &args.artifacts_destination, None).await?;
    let store = &state.store;
    let err = |e: kiln_store::StoreError| anyhow!(e.message);

    let data = generate(args.rows, args.seed);
    let mut csv = String::new();
    let _ = writeln!(csv, "{},churned", FEATURES.join(","));
    for (row, y) in data.x.iter().zip(&data.y) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
        let _ = writeln!(csv, "{},{}", cells.join(","), *y as i64);
    }
    let digest = fnv1a(csv.as_bytes());
    let n_train = args.rows * 8 / 10;
    let train: Vec<usize> = (0..n_train).collect();
    let valid: Vec<usize> = (n_train..args.rows).collect();

    let exp_name = "quickstart";
    let exp_id = match store.get_experiment_by_name(exp_name).await {
        Ok(e) if e.lifecycle_stage == "active" => e.experiment_id,
        Ok(e) => {
            store.restore_experiment(&e.experiment_id).await.map_err(err)?;
            e.experiment_id
        }
        Err(_) => store.create_experiment(exp_name, None, &[]).await.map_err(err)?,
    };

    println!(
        "kiln quickstart: {} rows x {} features (seed {}), 80/20 split",
        args.rows,
        FEATURES.len(),
        args.seed
    );
    let mut board: Vec<(f64, f64, f64, String, f64)> = Vec::new();
    for lr in [0.03, 0.1, 0.3] {
        let run = store
            .create_run(RunCreate {
                experiment_id: exp_id.clone(),
                user_id: std::env::var("USER").unwrap_or_else(|_| "kiln".into()),
                start_time: None,
                run_name: Some(format!("logistic-lr{lr}")),
                tags: vec![
                    Tag::new("kiln.source", "quickstart"),
                    Tag::new("mlflow.source.type", "LOCAL"),
                ],
            })
            .await
            .map_err(err)?;
        let run_id = run.info.run_id.clone();
        store
            .log_batch(
                &run_id,
                &[],
                &[
                    Tag::new("model", "logistic_regression"),
                    Tag::new("learning_rate", lr.to_string()),
                    Tag::new("epochs", args.epochs.to_string()),
                    Tag::new("seed", args.seed.to_string()),
                ],
                &[],
            )
            .await
            .map_err(err)?;
        store
            .log_inputs(
                &run_id,
                &[DatasetInput {
                    tags: vec![Tag::new("mlflow.data.context", "training")],
                    dataset: Dataset {
                        name: "quickstart-churn".into(),
                        digest: digest[..8].to_string(),
                        source_type: "code".into(),
                        source: format!("{{\"generator\": \"kiln quickstart\", \"seed\": {}}}", args.seed),
                        schema: None,
                        profile: Some(format!(
                            "{{\"num_rows\": {}, \"num_features\": {}}}",
                            args.rows,
                            FEATURES.len()
                        )),
                    },
                }],
                &[],
            )
            .await
            .map_err(err)?;

        let mut w = [0.0f64; 7];
        for epoch in 0..args.epochs {
            let mut grad = [0.0f64; 7];
            for &i in &train {
                let e = predict(&w, &data.x[i]) - data.y[i];
                for (g, xi) in grad.iter_mut().zip(data.x[i].iter()) {
                    *g += e * xi;
                }
                grad[6] += e;
            }
            for (wi, g) in w.iter_mut().zip(grad) {
                *wi -= lr * g / train.len() as f64;
            }
            let ts = kiln_store::now_ms();
            let step = epoch as i64;
            let metrics = vec![
                Metric::new("train_loss", log_loss(&w, &data, &train), ts, step),
                Metric::new("valid_loss", log_loss(&w, &data, &valid), ts, step),
                Metric::new("valid_accuracy", accuracy(&w, &data, &valid), ts, step),
                Metric::new("valid_auc", auc(&w, &data, &valid), ts, step),
            ];
            store.log_batch(&run_id, &metrics, &[], &[]).await.map_err(err)?;
        }
        let (vl, va, vauc) = (
            log_loss(&w, &data, &valid),
            accuracy(&w, &data, &valid),
            auc(&w, &data, &valid),
        );
        let root = state.artifacts.path_for_uri(&run.info.artifact_uri).map_err(err)?;
        let model = serde_json::json!({
            "kind": "logistic_regression",
            "features": FEATURES,
            "weights": &w[..6],
            "intercept": w[6],
            "target": "churned",
        });
        state
            .artifacts
            .put_bytes(
                &format!("{root}/model/model.json"),
                bytes::Bytes::from(serde_json::to_string_pretty(&model)?),
            )
            .await
            .map_err(err)?;
        if board.is_empty() {
            state
                .artifacts
                .put_bytes(&format!("{root}/data/churn.csv"), bytes::Bytes::from(csv.clone()))
                .await
                .map_err(err)?;
        }
        store
            .update_run(&run_id, Some("FINISHED"), Some(kiln_store::now_ms()), None)
            .await
            .map_err(err)?;
        board.push((vauc, va, vl, run_id, lr));
    }
    board.sort_by(|a, b| b.0.total_cmp(&a.0));

    println!("\n  rank  learning_rate  valid_auc  valid_accuracy  valid_loss  run");
    for (i, (vauc, va, vl, id, lr)) in board.iter().enumerate() {
        println!(
            "  {:>4}  {:>13}  {:>9.4}  {:>14.4}  {:>10.4}  {}",
            i + 1,
            lr,
            vauc,
            va,
            vl,
            id
        );
    }

    let best = &board[0];
    let model_name = "quickstart-churn";
    if store.get_registered_model(model_name).await.is_err() {
        store
            .create_registered_model(model_name, &[], Some("Logistic regression from kiln quickstart"))
            .await
            .map_err(err)?;
    }
    let best_info = store.get_run_info(&best.3).await.map_err(err)?;
    let mv = store
        .create_model_version(ModelVersionCreate {
            name: model_name.into(),
            source: format!("{}/model", best_info.artifact_uri),
            run_id: Some(best.3.clone()),
            ..Default::default()
        })
        .await
        .map_err(err)?;
    store
        .set_registered_model_alias(model_name, "champion", &mv.version)
        .await
        .map_err(err)?;

    println!(
        "\nRegistered {model_name} version {} as @champion (valid_auc {:.4}).",
        mv.version, best.0
    );
    println!(
        "Store: {}   artifacts: {}",
        args.backend_store_uri,
        crate::absolute(&args.artifacts_destination).display()
    );
    println!(
        "UI: start `kiln server --backend-store-uri {} --artifacts-destination {}` and open http://127.0.0.1:{}/#/experiments/{}",
        args.backend_store_uri, args.artifacts_destination, args.port, exp_id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_and_reversed_rankings() {
        let d = Data {
            x: vec![[0.0; 6], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]],
            y: vec![0.0, 1.0],
        };
        let w = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(auc(&w, &d, &[0, 1]), 1.0);
        let w = [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(auc(&w, &d, &[0, 1]), 0.0);
    }

    #[test]
    fn generation_is_seeded() {
        let a = generate(100, 7);
        let b = generate(100, 7);
        let c = generate(100, 8);
        assert_eq!(a.x, b.x);
        assert_ne!(a.x, c.x);
        assert!(a.y.contains(&1.0) && a.y.contains(&0.0));
    }
}
