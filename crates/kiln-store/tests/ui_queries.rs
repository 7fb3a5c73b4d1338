//! The web UI's read queries (`ui_queries`), on SQLite and PostgreSQL.

mod common;

use kiln_store::ui_queries::*;
use kiln_store::*;

fn run_req(exp: &str, name: &str, parent: Option<&str>) -> RunCreate {
    let mut tags = Vec::new();
    if let Some(p) = parent {
        tags.push(Tag::new("mlflow.parentRunId", p));
    }
    RunCreate {
        experiment_id: exp.into(),
        user_id: "tester".into(),
        run_name: Some(name.into()),
        start_time: None,
        tags,
    }
}

fn cols(spec: &[&str]) -> Vec<Column> {
    spec.iter().map(|s| Column::parse(s).unwrap()).collect()
}

#[tokio::test]
async fn activity_keys_and_table() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let exp = s.create_experiment("ui-a", None, &[]).await.unwrap();
        let empty = s.create_experiment("ui-empty", None, &[]).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..12 {
            let r = s.create_run(run_req(&exp, &format!("r{i:02}"), None)).await.unwrap();
            let id = r.info.run_id;
            s.log_batch(
                &id,
                &[
                    Metric::new("loss", 1.0 / (i + 1) as f64, 1000 + i, 0),
                    Metric::new("acc", i as f64, 1000 + i, 0),
                ],
                &[Tag::new("lr", format!("0.{i}")), Tag::new("depth", (i % 3).to_string())],
                &[Tag::new("team", if i % 2 == 0 { "a" } else { "b" })],
            )
            .await
            .unwrap();
            if i < 10 {
                s.update_run(&id, Some("FINISHED"), Some(5000 + i), None).await.unwrap();
            }
            ids.push(id);
        }
        let child = s.create_run(run_req(&exp, "child", Some(&ids[0]))).await.unwrap();
        s.log_param(&child.info.run_id, "lr", "0.5").await.unwrap();

        let act = s.experiment_activity(&[exp.clone(), empty.clone()]).await.unwrap();
        let a = &act[&exp];
        assert_eq!((a.run_count, a.running), (13, 3), "{n}");
        assert!(a.last_run_time.unwrap() > 0, "{n}");
        assert!(!act.contains_key(&empty), "{n}: no runs, no entry");

        let keys = s.run_keys(std::slice::from_ref(&exp)).await.unwrap();
        assert_eq!(keys.params, vec!["depth", "lr"], "{n}");
        assert_eq!(keys.metrics, vec!["acc", "loss"], "{n}");
        assert!(keys.tags.contains(&"team".to_string()), "{n}");
        assert!(keys.tags.contains(&"mlflow.parentRunId".to_string()), "{n}");
        assert!(s.run_keys(&["x".into()]).await.is_err(), "{n}: bad id is an error");

        // Filter + order + columns.
        let q = RunTableQuery {
            experiment_ids: vec![exp.clone()],
            filter: "metrics.acc >= 5 and params.depth = '0'".into(),
            order_by: vec!["metrics.acc DESC".into()],
            columns: cols(&["metrics.acc", "params.lr", "tags.team", "metrics.nope"]),
            limit: 100,
            ..Default::default()
        };
        let t = s.run_table(&q).await.unwrap();
        let names: Vec<&str> = t.rows.iter().map(|r| r.run_name.as_str()).collect();
        assert_eq!(names, vec!["r09", "r06"], "{n}");
        assert_eq!(t.total, 2, "{n}");
        assert_eq!(t.rows[0].cells[0], Cell::Number(9.0), "{n}");
        assert_eq!(t.rows[0].cells[1], Cell::Text("0.9".into()), "{n}");
        assert_eq!(t.rows[0].cells[2], Cell::Text("b".into()), "{n}");
        assert_eq!(t.rows[0].cells[3], Cell::Missing, "{n}");

        // Paging and parent ids.
        let all = RunTableQuery {
            experiment_ids: vec![exp.clone()],
            columns: cols(&["params.lr"]),
            limit: 5,
            offset: 10,
            order_by: vec!["attributes.run_name ASC".into()],
            ..Default::default()
        };
        let t = s.run_table(&all).await.unwrap();
        assert_eq!(t.total, 13, "{n}");
        let names: Vec<&str> = t.rows.iter().map(|r| r.run_name.as_str()).collect();
        assert_eq!(names, vec!["r09", "r10", "r11"], "{n}");
        let t = s
            .run_table(&RunTableQuery {
                offset: 0,
                limit: 1,
                order_by: vec!["attributes.run_name ASC".into()],
                ..all.clone()
            })
            .await
            .unwrap();
        assert_eq!(t.rows[0].run_name, "child", "{n}");
        assert_eq!(t.rows[0].parent_run_id.as_deref(), Some(ids[0].as_str()), "{n}");
        assert_eq!(t.rows[0].cells[0], Cell::Text("0.5".into()), "{n}");

        // Only some runs (live refresh); limit 0 gives the total alone.
        let t = s
            .run_table(&RunTableQuery {
                run_ids: Some(vec![ids[10].clone(), ids[11].clone()]),
                offset: 0,
                limit: 10,
                ..all.clone()
            })
            .await
            .unwrap();
        assert_eq!(t.total, 2, "{n}");
        assert!(t.rows.iter().all(|r| r.status == "RUNNING"), "{n}");
        let t = s
            .run_table(&RunTableQuery {
                limit: 0,
                offset: 0,
                ..all.clone()
            })
            .await
            .unwrap();
        assert_eq!((t.total, t.rows.len()), (13, 0), "{n}");
        assert!(t.max_start_time.is_some(), "{n}");

        // Default columns come from the page's own keys.
        let t = s
            .run_table(&RunTableQuery {
                experiment_ids: vec![exp.clone()],
                default_columns: Some(1),
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        let names: Vec<String> = t.columns.iter().map(Column::name).collect();
        assert_eq!(names, vec!["metrics.acc", "params.depth"], "{n}");
        assert_eq!(t.rows[0].cells.len(), 2, "{n}");
        assert!(t.rows.iter().any(|r| matches!(r.cells[0], Cell::Number(_))), "{n}");
        let t = s
            .run_table(&RunTableQuery {
                experiment_ids: vec![exp.clone()],
                columns: cols(&["tags.team"]),
                default_columns: Some(3),
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(t.columns, cols(&["tags.team"]), "{n}: chosen columns win");

        // Client mistakes are errors naming what was wrong.
        let bad = s
            .run_table(&RunTableQuery {
                filter: "metrics.acc >>> 1".into(),
                ..all.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidParameterValue, "{n}");
        let bad = s
            .run_table(&RunTableQuery {
                limit: -1,
                ..all.clone()
            })
            .await
            .unwrap_err();
        assert!(bad.message.contains("limit"), "{n}: {}", bad.message);
        b.finish().await;
    }
}

#[tokio::test]
async fn summaries_and_downsampling() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let exp = s.create_experiment("ui-hist", None, &[]).await.unwrap();
        let run = s.create_run(run_req(&exp, "long", None)).await.unwrap().info.run_id;
        let total = 20_000i64;
        let mut batch = Vec::new();
        for step in 0..total {
            let mut v = (step as f64 / 100.0).sin();
            if step == 12_345 {
                v = 50.0; // a spike the downsampler must keep
            }
            batch.push(Metric::new("wave", v, 1_000_000 + step * 10, step));
            if batch.len() == 1000 {
                s.log_batch(&run, &batch, &[], &[]).await.unwrap();
                batch.clear();
            }
        }
        s.log_batch(
            &run,
            &[
                Metric::new("nan", f64::NAN, 5, 0),
                Metric::new("few", 3.0, 5, 1),
                Metric::new("few", 1.0, 6, 2),
            ],
            &[],
            &[],
        )
        .await
        .unwrap();

        let sums = s.metric_summaries(&run).await.unwrap();
        let by: std::collections::HashMap<_, _> = sums.iter().map(|m| (m.key.as_str(), m)).collect();
        assert_eq!(by["wave"].count, total, "{n}");
        assert_eq!(by["wave"].max, Some(50.0), "{n}");
        assert_eq!(by["wave"].latest_step, total - 1, "{n}");
        assert_eq!(
            (by["few"].min, by["few"].max, by["few"].latest),
            (Some(1.0), Some(3.0), 1.0)
        );
        assert!(by["nan"].latest.is_nan() && by["nan"].min.is_none(), "{n}");
        assert!(s.metric_summaries("nope").await.is_err(), "{n}");

        let h = s
            .sampled_history(&run, "wave", HistoryAxis::Step, None, 1000)
            .await
            .unwrap();
        assert!(h.sampled && h.total == total, "{n}");
        assert!(
            h.points.len() <= 1000 && h.points.len() >= 500,
            "{n}: {}",
            h.points.len()
        );
        assert!(h.points.windows(2).all(|w| w[0].step <= w[1].step), "{n}: x order");
        assert_eq!(h.points.first().unwrap().step, 0, "{n}");
        assert_eq!(h.points.last().unwrap().step, total - 1, "{n}");
        assert!(h.points.iter().any(|p| p.value == 50.0), "{n}: spike kept");

        let z = s
            .sampled_history(&run, "wave", HistoryAxis::Step, Some((100, 299)), 1000)
            .await
            .unwrap();
        assert!(!z.sampled && z.total == 200 && z.points.len() == 200, "{n}");
        let t = s
            .sampled_history(&run, "wave", HistoryAxis::Timestamp, None, 400)
            .await
            .unwrap();
        assert!(t.points.len() <= 400, "{n}");
        assert!(t.points.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "{n}");
        assert!(s
            .sampled_history(&run, "wave", HistoryAxis::Step, Some((5, 1)), 100)
            .await
            .is_err());
        assert!(s
            .sampled_history(&run, "wave", HistoryAxis::Step, None, 1)
            .await
            .is_err());
        let few = s
            .sampled_history(&run, "few", HistoryAxis::Step, None, 100)
            .await
            .unwrap();
        assert_eq!(few.points.iter().map(|p| p.value).collect::<Vec<_>>(), vec![3.0, 1.0]);

        let bulk = s
            .history_bulk_interval(std::slice::from_ref(&run), "wave", 100, None)
            .await
            .unwrap();
        assert_eq!(bulk.len(), 100, "{n}");
        assert_eq!((bulk[0].step, bulk[99].step), (0, total - 1), "{n}");
        let bulk = s
            .history_bulk_interval(std::slice::from_ref(&run), "wave", 2500, Some((10, 19)))
            .await
            .unwrap();
        assert_eq!(
            bulk.iter().map(|m| m.step).collect::<Vec<_>>(),
            (10..20).collect::<Vec<_>>()
        );
        assert!(s
            .history_bulk_interval(std::slice::from_ref(&run), "wave", 0, None)
            .await
            .is_err());
        assert!(s
            .history_bulk_interval(std::slice::from_ref(&run), "wave", 10, Some((9, 1)))
            .await
            .is_err());
        assert_eq!(
            s.history_bulk_interval(&["missing".into()], "wave", 10, None)
                .await
                .unwrap_err()
                .code,
            ErrorCode::ResourceDoesNotExist
        );
        b.finish().await;
    }
}

/// A page larger than the IN-list limit reads column values per experiment; the
/// cells must be the same as on small pages.
#[tokio::test]
async fn large_pages_fill_the_same_cells() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let exp = s.create_experiment("ui-large", None, &[]).await.unwrap();
        let other = s.create_experiment("ui-other", None, &[]).await.unwrap();
        let noise = s.create_run(run_req(&other, "noise", None)).await.unwrap().info.run_id;
        s.log_batch(&noise, &[Metric::new("m", -1.0, 1, 0)], &[Tag::new("p", "noise")], &[])
            .await
            .unwrap();
        for i in 0..620 {
            let id = s
                .create_run(run_req(&exp, &format!("r{i:04}"), None))
                .await
                .unwrap()
                .info
                .run_id;
            s.log_batch(
                &id,
                &[Metric::new("m", i as f64, 1, 0)],
                &[Tag::new("p", format!("v{i}"))],
                &[],
            )
            .await
            .unwrap();
        }
        let q = RunTableQuery {
            experiment_ids: vec![exp.clone()],
            columns: cols(&["metrics.m", "params.p"]),
            order_by: vec!["attributes.run_name ASC".into()],
            limit: 1000,
            ..Default::default()
        };
        let big = s.run_table(&q).await.unwrap();
        assert_eq!((big.total, big.rows.len()), (620, 620), "{n}");
        for (i, r) in big.rows.iter().enumerate() {
            assert_eq!(r.cells[0], Cell::Number(i as f64), "{n}: row {i}");
            assert_eq!(r.cells[1], Cell::Text(format!("v{i}")), "{n}: row {i}");
        }
        let small = s
            .run_table(&RunTableQuery {
                limit: 10,
                offset: 600,
                ..q
            })
            .await
            .unwrap();
        assert_eq!(small.rows, big.rows[600..610].to_vec(), "{n}");
        b.finish().await;
    }
}
