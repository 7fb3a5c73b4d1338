//! The store contract, run against every backend (SQLite and PostgreSQL).

mod common;

use kiln_store::*;

fn run_req(exp: &str, name: &str) -> RunCreate {
    RunCreate {
        experiment_id: exp.into(),
        user_id: "tester".into(),
        run_name: Some(name.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn experiments_lifecycle() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let default = s.get_experiment("0").await.unwrap();
        assert_eq!(default.name, "Default", "{n}");
        assert_eq!(default.artifact_location, "mlflow-artifacts:/0");

        let id = s
            .create_experiment("exp-a", None, &[Tag::new("team", "ml")])
            .await
            .unwrap();
        let e = s.get_experiment(&id).await.unwrap();
        assert_eq!((e.name.as_str(), e.lifecycle_stage.as_str()), ("exp-a", "active"));
        assert_eq!(e.artifact_location, format!("mlflow-artifacts:/{id}"));
        assert_eq!(e.tags, vec![Tag::new("team", "ml")]);
        assert_eq!(s.get_experiment_by_name("exp-a").await.unwrap().experiment_id, id);

        let dup = s.create_experiment("exp-a", None, &[]).await.unwrap_err();
        assert_eq!(dup.code, ErrorCode::ResourceAlreadyExists, "{n}");
        assert_eq!(
            s.get_experiment("999999").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(
            s.get_experiment("abc").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(
            s.create_experiment("", None, &[]).await.unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );

        // Deleting cascades to runs; names stay taken; restore brings runs back.
        let run = s.create_run(run_req(&id, "r1")).await.unwrap();
        s.delete_experiment(&id).await.unwrap();
        assert_eq!(
            s.get_run(&run.info.run_id).await.unwrap().info.lifecycle_stage,
            "deleted",
            "{n}"
        );
        assert_eq!(
            s.create_experiment("exp-a", None, &[]).await.unwrap_err().code,
            ErrorCode::ResourceAlreadyExists
        );
        assert!(
            s.create_run(run_req(&id, "r2")).await.is_err(),
            "{n}: runs cannot be created in a deleted experiment"
        );
        s.restore_experiment(&id).await.unwrap();
        assert_eq!(
            s.get_run(&run.info.run_id).await.unwrap().info.lifecycle_stage,
            "active",
            "{n}"
        );
        assert_eq!(
            s.delete_experiment("0").await.unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );

        s.rename_experiment(&id, "exp-b").await.unwrap();
        assert_eq!(s.get_experiment(&id).await.unwrap().name, "exp-b");
        s.set_experiment_tag(&id, "team", "data").await.unwrap();
        assert_eq!(
            s.get_experiment(&id).await.unwrap().tags,
            vec![Tag::new("team", "data")]
        );

        let page = s
            .search_experiments(ViewType::ActiveOnly, "name LIKE 'exp-%'", None, &[], None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{n}");
        assert_eq!(page.items[0].experiment_id, id);
        b.finish().await;
    }
}

#[tokio::test]
async fn runs_params_tags_metrics() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let id = s.create_experiment("runs", None, &[]).await.unwrap();
        let run = s.create_run(run_req(&id, "first")).await.unwrap();
        let rid = run.info.run_id.clone();
        assert_eq!(run.info.status, "RUNNING");
        assert_eq!(run.info.artifact_uri, format!("mlflow-artifacts:/{id}/{rid}/artifacts"));
        assert!(run.data.tags.contains(&Tag::new("mlflow.runName", "first")), "{n}");

        s.log_param(&rid, "lr", "0.1").await.unwrap();
        s.log_param(&rid, "lr", "0.1").await.unwrap(); // same value: fine
        let e = s.log_param(&rid, "lr", "0.2").await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{n}");
        assert!(e.message.contains("lr"), "{}", e.message);

        let mut metrics = Vec::new();
        for step in 0..5 {
            metrics.push(Metric::new("loss", 1.0 / (step + 1) as f64, 1000 + step, step));
        }
        metrics.push(Metric::new("odd", f64::NAN, 5, 0));
        metrics.push(Metric::new("big", f64::INFINITY, 5, 0));
        s.log_batch(&rid, &metrics, &[Tag::new("depth", "3")], &[Tag::new("stage", "dev")])
            .await
            .unwrap();
        // An older step must not replace the latest value.
        s.log_metric(&rid, Metric::new("loss", 9.0, 999, 1)).await.unwrap();

        let got = s.get_run(&rid).await.unwrap();
        let loss = got.data.metrics.iter().find(|m| m.key == "loss").unwrap();
        assert_eq!((loss.value, loss.step), (0.2, 4), "{n}");
        assert!(
            got.data.metrics.iter().find(|m| m.key == "odd").unwrap().value.is_nan(),
            "{n}"
        );
        assert_eq!(
            got.data.metrics.iter().find(|m| m.key == "big").unwrap().value,
            f64::INFINITY,
            "{n}"
        );
        assert_eq!(got.data.params, vec![Tag::new("depth", "3"), Tag::new("lr", "0.1")]);
        assert!(got.data.tags.contains(&Tag::new("stage", "dev")));

        let hist = s.get_metric_history(&rid, "loss", None, None).await.unwrap();
        assert_eq!(hist.items.len(), 6, "{n}");
        // Ordered by timestamp, then step (as MLflow): the late-logged point at ts 999 comes first.
        let order: Vec<(i64, i64)> = hist.items.iter().map(|m| (m.timestamp, m.step)).collect();
        assert_eq!(
            order,
            vec![(999, 1), (1000, 0), (1001, 1), (1002, 2), (1003, 3), (1004, 4)],
            "{n}"
        );
        // Paging through the history gives every point exactly once.
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = s
                .get_metric_history(&rid, "loss", Some(4), token.as_deref())
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|m| (m.step, m.timestamp)));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6, "{n}");

        // Bad input.
        assert_eq!(
            s.log_metric(&rid, Metric::new("bad key!", 1.0, 0, 0))
                .await
                .unwrap_err()
                .code,
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            s.log_metric(&rid, Metric::new("../up", 1.0, 0, 0))
                .await
                .unwrap_err()
                .code,
            ErrorCode::InvalidParameterValue
        );
        let too_many: Vec<Metric> = (0..1001).map(|i| Metric::new("m", i as f64, 0, i)).collect();
        assert!(s
            .log_batch(&rid, &too_many, &[], &[])
            .await
            .unwrap_err()
            .message
            .contains("at most 1000"));
        assert_eq!(
            s.get_run("nope").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(
            s.log_metric("nope", Metric::new("m", 1.0, 0, 0))
                .await
                .unwrap_err()
                .code,
            ErrorCode::ResourceDoesNotExist
        );

        s.delete_tag(&rid, "stage").await.unwrap();
        assert_eq!(
            s.delete_tag(&rid, "stage").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );

        let info = s
            .update_run(&rid, Some("FINISHED"), Some(5000), Some("renamed"))
            .await
            .unwrap();
        assert_eq!(
            (info.status.as_str(), info.end_time, info.run_name.as_str()),
            ("FINISHED", Some(5000), "renamed")
        );
        assert!(
            s.get_run(&rid)
                .await
                .unwrap()
                .data
                .tags
                .contains(&Tag::new("mlflow.runName", "renamed")),
            "{n}"
        );

        s.delete_run(&rid).await.unwrap();
        assert!(
            s.log_param(&rid, "x", "1").await.is_err(),
            "{n}: a deleted run takes no writes"
        );
        s.restore_run(&rid).await.unwrap();
        s.log_param(&rid, "x", "1").await.unwrap();

        s.log_inputs(
            &rid,
            &[DatasetInput {
                tags: vec![Tag::new("mlflow.data.context", "training")],
                dataset: Dataset {
                    name: "iris".into(),
                    digest: "abc123".into(),
                    source_type: "local".into(),
                    source: "{}".into(),
                    schema: None,
                    profile: None,
                },
            }],
            &[],
        )
        .await
        .unwrap();
        let got = s.get_run(&rid).await.unwrap();
        assert_eq!(got.inputs.dataset_inputs.len(), 1);
        assert_eq!(got.inputs.dataset_inputs[0].dataset.name, "iris");
        assert_eq!(
            got.inputs.dataset_inputs[0].tags,
            vec![Tag::new("mlflow.data.context", "training")]
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn search_runs_filters_orders_and_pages_in_sql() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let id = s.create_experiment("search", None, &[]).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..25i64 {
            let run = s.create_run(run_req(&id, &format!("run-{i:02}"))).await.unwrap();
            let rid = run.info.run_id;
            s.log_batch(
                &rid,
                &[Metric::new("loss", (25 - i) as f64 / 10.0, 0, 0)],
                &[Tag::new("model", if i % 2 == 0 { "gbm" } else { "linear" })],
                &[Tag::new("team", if i < 5 { "Vision" } else { "nlp" })],
            )
            .await
            .unwrap();
            ids.push(rid);
        }
        let search = |filter: &str, order: &[&str], max: Option<i64>, token: Option<String>| SearchRuns {
            experiment_ids: vec![id.clone()],
            filter: filter.into(),
            max_results: max,
            order_by: order.iter().map(|o| o.to_string()).collect(),
            page_token: token,
            ..Default::default()
        };
        let page = s
            .search_runs(&search("metrics.loss < 1.0", &["metrics.loss ASC"], None, None))
            .await
            .unwrap();
        let losses: Vec<f64> = page.items.iter().map(|r| r.data.metrics[0].value).collect();
        assert_eq!(losses.len(), 9, "{n}: {losses:?}");
        assert!(losses.windows(2).all(|w| w[0] <= w[1]), "{n}: {losses:?}");

        let page = s
            .search_runs(&search("params.model = 'gbm' and tags.team LIKE 'V%'", &[], None, None))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 3, "{n}"); // i = 0, 2, 4
        let page = s
            .search_runs(&search("tags.team ILIKE 'v%'", &[], None, None))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 5, "{n}");
        let page = s
            .search_runs(&search("tags.team LIKE 'v%'", &[], None, None))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 0, "{n}: LIKE is case-sensitive");
        let filter = format!("attributes.run_id IN ('{}', '{}')", ids[1], ids[2]);
        let page = s.search_runs(&search(&filter, &[], None, None)).await.unwrap();
        assert_eq!(page.items.len(), 2, "{n}");
        let bad = s
            .search_runs(&search("attributes.run_name IN ('run-01')", &[], None, None))
            .await
            .unwrap_err();
        assert_eq!(
            bad.code,
            ErrorCode::InvalidParameterValue,
            "{n}: MLflow allows IN only on run_id"
        );

        // Pages of 10 cover all 25 runs once, in order.
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = s
                .search_runs(&search("", &["attributes.run_name DESC"], Some(10), token))
                .await
                .unwrap();
            all.extend(page.items.into_iter().map(|r| r.info.run_name));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(all.len(), 25, "{n}");
        assert_eq!(all[0], "run-24");
        assert_eq!(all[24], "run-00");

        let bad = s
            .search_runs(&search("metrics.loss <", &[], None, None))
            .await
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidParameterValue, "{n}");
        let bad = s
            .search_runs(&search("", &[], None, Some("garbage!".into())))
            .await
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidParameterValue, "{n}");

        s.delete_run(&ids[0]).await.unwrap();
        let active = s.search_runs(&search("", &[], None, None)).await.unwrap();
        assert_eq!(active.items.len(), 24, "{n}");
        let mut deleted = search("", &[], None, None);
        deleted.view_type = ViewType::DeletedOnly;
        assert_eq!(s.search_runs(&deleted).await.unwrap().items.len(), 1, "{n}");
        b.finish().await;
    }
}

#[tokio::test]
async fn registry_versions_stages_aliases() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let exp = s.create_experiment("reg", None, &[]).await.unwrap();
        let run = s.create_run(run_req(&exp, "train")).await.unwrap();
        let rid = run.info.run_id.clone();

        s.create_registered_model("churn", &[Tag::new("owner", "me")], Some("desc"))
            .await
            .unwrap();
        assert_eq!(
            s.create_registered_model("churn", &[], None).await.unwrap_err().code,
            ErrorCode::ResourceAlreadyExists
        );
        assert_eq!(
            s.create_registered_model("a/b", &[], None).await.unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );

        let mk = |src: String| ModelVersionCreate {
            name: "churn".into(),
            source: src,
            run_id: Some(rid.clone()),
            ..Default::default()
        };
        let v1 = s.create_model_version(mk(format!("runs:/{rid}/model"))).await.unwrap();
        let v2 = s.create_model_version(mk(format!("runs:/{rid}/model"))).await.unwrap();
        assert_eq!((v1.version.as_str(), v2.version.as_str()), ("1", "2"), "{n}");
        assert_eq!(v1.storage_location, format!("{}/model", run.info.artifact_uri));
        assert_eq!(
            s.get_model_version_download_uri("churn", "1").await.unwrap(),
            v1.storage_location
        );

        s.transition_model_version_stage("churn", "1", "production", false)
            .await
            .unwrap();
        let v2p = s
            .transition_model_version_stage("churn", "2", "Production", true)
            .await
            .unwrap();
        assert_eq!(v2p.current_stage, "Production");
        assert_eq!(
            s.get_model_version("churn", "1").await.unwrap().current_stage,
            "Archived",
            "{n}"
        );
        assert!(s
            .transition_model_version_stage("churn", "1", "Nope", false)
            .await
            .is_err());
        let e = s
            .transition_model_version_stage("churn", "1", "None", true)
            .await
            .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::InvalidParameterValue,
            "{n}: archiving needs an active target stage"
        );
        let latest = s.get_latest_versions("churn", &["Production".into()]).await.unwrap();
        assert_eq!(
            latest.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(),
            vec!["2"],
            "{n}"
        );

        s.set_registered_model_alias("churn", "champion", "1").await.unwrap();
        assert_eq!(
            s.get_model_version_by_alias("churn", "champion").await.unwrap().version,
            "1"
        );
        assert_eq!(
            s.set_registered_model_alias("churn", "latest", "1")
                .await
                .unwrap_err()
                .code,
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            s.set_registered_model_alias("churn", "v3", "1").await.unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            s.set_registered_model_alias("churn", "x", "99").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(
            s.get_model_version_by_alias("churn", "latest").await.unwrap().version,
            "2",
            "{n}"
        );
        let rm = s.get_registered_model("churn").await.unwrap();
        assert_eq!(
            rm.aliases,
            vec![Alias {
                alias: "champion".into(),
                version: "1".into()
            }]
        );
        assert_eq!(rm.tags, vec![Tag::new("owner", "me")]);

        s.set_model_version_tag("churn", "2", "validated", "yes").await.unwrap();
        let found = s
            .search_model_versions("name = 'churn' and tags.validated = 'yes'", None, &[], None)
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1, "{n}");
        assert_eq!(found.items[0].version, "2");

        // Versions are never renumbered after a delete; aliases to a deleted version go.
        s.delete_model_version("churn", "1").await.unwrap();
        assert_eq!(
            s.get_model_version("churn", "1").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        assert!(s.get_model_version_by_alias("churn", "champion").await.is_err(), "{n}");
        let v3 = s.create_model_version(mk(format!("runs:/{rid}/model"))).await.unwrap();
        assert_eq!(v3.version, "3", "{n}");

        let renamed = s.rename_registered_model("churn", "churn2").await.unwrap();
        assert_eq!(renamed.name, "churn2");
        assert_eq!(s.get_model_version("churn2", "3").await.unwrap().name, "churn2");
        assert_eq!(
            s.get_registered_model("churn").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        let page = s
            .search_registered_models("name LIKE 'churn%'", None, &[], None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{n}");
        s.delete_registered_model("churn2").await.unwrap();
        assert!(
            s.search_model_versions("name = 'churn2'", None, &[], None)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{n}"
        );
        b.finish().await;
    }
}

#[tokio::test]
async fn logged_models_link_to_versions() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let exp = s.create_experiment("lm", None, &[]).await.unwrap();
        let run = s.create_run(run_req(&exp, "train")).await.unwrap();
        let m = s
            .create_logged_model(LoggedModelCreate {
                experiment_id: exp.clone(),
                name: Some("model".into()),
                source_run_id: Some(run.info.run_id.clone()),
                params: vec![Tag::new("alpha", "1")],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(m.info.status, "LOGGED_MODEL_PENDING", "{n}");
        assert!(m
            .info
            .artifact_uri
            .starts_with(&format!("mlflow-artifacts:/{exp}/models/m-")));
        let f = s
            .finalize_logged_model(&m.info.model_id, "LOGGED_MODEL_READY")
            .await
            .unwrap();
        assert_eq!(f.info.status, "LOGGED_MODEL_READY");
        let mut metric = Metric::new("acc", 0.9, 1, 0);
        metric.model_id = Some(m.info.model_id.clone());
        s.log_metric(&run.info.run_id, metric).await.unwrap();
        let got = s.get_logged_model(&m.info.model_id).await.unwrap();
        assert_eq!(got.data.metrics.len(), 1, "{n}");
        assert_eq!(got.data.params, vec![Tag::new("alpha", "1")]);

        s.create_registered_model("lm-reg", &[], None).await.unwrap();
        let mv = s
            .create_model_version(ModelVersionCreate {
                name: "lm-reg".into(),
                source: format!("models:/{}", m.info.model_id),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(mv.model_id, m.info.model_id, "{n}");
        assert_eq!(mv.storage_location, m.info.artifact_uri);
        let page = s
            .search_logged_models(std::slice::from_ref(&exp), "", &[], &[], None, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let page = s
            .search_logged_models(std::slice::from_ref(&exp), "name = 'model'", &[], &[], None, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{n}");
        let page = s
            .search_logged_models(std::slice::from_ref(&exp), "name = 'other'", &[], &[], None, None)
            .await
            .unwrap();
        assert!(page.items.is_empty(), "{n}");
        let page = s
            .search_logged_models(std::slice::from_ref(&exp), "metrics.acc > 0.5", &[], &[], None, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1, "{n}");
        let bad = s
            .search_logged_models(std::slice::from_ref(&exp), "name ~ 'x'", &[], &[], None, None)
            .await
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidParameterValue, "{n}");
        assert_eq!(
            s.get_logged_model("m-nope").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        b.finish().await;
    }
}
