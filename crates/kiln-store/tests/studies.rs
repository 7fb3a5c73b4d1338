//! Study and trial rows on SQLite and PostgreSQL: budgets under races, claims, the change feed,
//! one final write, heartbeats and reaping, and the MLflow child runs.

mod common;

use kiln_store::studies::*;
use kiln_store::*;

fn new_study(name: &str) -> NewStudy {
    NewStudy {
        name: name.into(),
        directions: "[\"minimize\"]".into(),
        config: "{}".into(),
        experiment_name: format!("exp-{name}"),
        user_id: "tester".into(),
    }
}

fn running(budget: Option<i64>) -> NewTrial {
    NewTrial {
        state: "RUNNING".into(),
        params: "{\"x\": {\"value\": 0.5, \"distribution\": {\"type\": \"float\", \"low\": 0.0, \"high\": 1.0}}}"
            .into(),
        attrs: "{}".into(),
        worker: Some("w1".into()),
        budget,
        heartbeat: true,
        run_params: vec![("x".into(), "0.5".into())],
    }
}

fn finish(t: &TrialRow, state: &str, values: Option<&str>) -> TrialWrite {
    TrialWrite {
        trial_id: t.trial_id,
        state: state.into(),
        params: t.params.clone(),
        values: values.map(str::to_string),
        intermediate: "[[1, 0.7]]".into(),
        attrs: "{}".into(),
        new_run_params: vec![],
        new_metrics: vec![Metric::new("value", 0.7, 1, 1), Metric::new("value", 0.25, 2, 1)],
    }
}

#[tokio::test]
async fn studies_trials_and_child_runs() {
    for b in common::backends().await {
        let s = &b.store;
        let n = b.name;
        let st = s.create_study(new_study("s1")).await.unwrap();
        assert_eq!(
            s.create_study(new_study("s1")).await.unwrap_err().code,
            ErrorCode::ResourceAlreadyExists,
            "{n}"
        );
        assert_eq!(
            s.create_study(new_study(" ")).await.unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            s.get_study_by_name("nope").await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        assert_eq!(s.list_studies().await.unwrap().len(), 1);
        let parent = s.get_run(&st.parent_run_id).await.unwrap();
        assert_eq!(parent.info.experiment_id, st.experiment_id);

        let t0 = s
            .create_study_trial(st.study_id, running(Some(2)))
            .await
            .unwrap()
            .unwrap();
        let t1 = s
            .create_study_trial(st.study_id, running(Some(2)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t0.number, t1.number), (0, 1), "{n}");
        assert!(
            s.create_study_trial(st.study_id, running(Some(2)))
                .await
                .unwrap()
                .is_none(),
            "{n}: budget of 2 spent"
        );
        assert!(t1.seq > t0.seq);

        // The child run mirrors the trial.
        let run = s.get_run(&t0.run_id).await.unwrap();
        let tag = |k: &str| run.data.tags.iter().find(|t| t.key == k).map(|t| t.value.clone());
        assert_eq!(tag(PARENT_RUN_TAG), Some(st.parent_run_id.clone()), "{n}");
        assert_eq!(tag(TRIAL_NUMBER_TAG).as_deref(), Some("0"));
        assert_eq!(run.info.status, "RUNNING");
        assert_eq!(
            run.data.params.iter().find(|p| p.key == "x").map(|p| p.value.as_str()),
            Some("0.5")
        );

        // One final write; a second one is INVALID_STATE.
        let seq = s
            .update_study_trial(st.study_id, finish(&t0, "COMPLETE", Some("[0.25]")))
            .await
            .unwrap();
        let e = s
            .update_study_trial(st.study_id, finish(&t0, "COMPLETE", Some("[0.1]")))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidState, "{n}");
        let mut bogus = finish(&t0, "COMPLETE", None);
        bogus.trial_id = 999_999;
        assert_eq!(
            s.update_study_trial(st.study_id, bogus).await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );
        let mut bad_state = finish(&t1, "DONE", None);
        bad_state.state = "DONE".into();
        assert_eq!(
            s.update_study_trial(st.study_id, bad_state).await.unwrap_err().code,
            ErrorCode::InvalidParameterValue
        );
        let run = s.get_run(&t0.run_id).await.unwrap();
        assert_eq!(run.info.status, "FINISHED", "{n}");
        assert_eq!(
            run.data.metrics.iter().find(|m| m.key == "value").map(|m| m.value),
            Some(0.25)
        );
        let hist = s.get_metric_history(&t0.run_id, "value", None, None).await.unwrap();
        assert_eq!(hist.items.len(), 2, "{n}: intermediate + final");

        // The change feed returns what changed after a seq.
        let since = s.study_trials_since(st.study_id, t1.seq).await.unwrap();
        assert_eq!(since.len(), 1);
        assert_eq!(
            (since[0].number, since[0].state.as_str(), since[0].seq),
            (0, "COMPLETE", seq)
        );
        assert_eq!(
            s.study_trial(st.study_id, 0).await.unwrap().values.as_deref(),
            Some("[0.25]")
        );
        assert_eq!(
            s.study_trial(st.study_id, 7).await.unwrap_err().code,
            ErrorCode::ResourceDoesNotExist
        );

        // A stale RUNNING trial is failed and re-enqueued with its params; the retry is claimed once.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let reaped = s.reap_stale_study_trials(st.study_id, 10).await.unwrap();
        assert_eq!(reaped, vec![(1, 2)], "{n}");
        let failed = s.study_trial(st.study_id, 1).await.unwrap();
        assert_eq!(failed.state, "FAIL");
        assert!(!failed.budgeted);
        assert!(failed.attrs.contains(RETRIED_AS_ATTR));
        assert_eq!(s.get_run(&failed.run_id).await.unwrap().info.status, "FAILED");
        let retry = s.study_trial(st.study_id, 2).await.unwrap();
        assert_eq!(
            (retry.state.as_str(), retry.params.as_str()),
            ("WAITING", failed.params.as_str())
        );
        assert_eq!(s.get_run(&retry.run_id).await.unwrap().info.status, "SCHEDULED");
        assert!(
            s.create_study_trial(st.study_id, running(Some(2)))
                .await
                .unwrap()
                .is_none(),
            "{n}: the retry holds the slot"
        );
        let claimed = s.claim_waiting_trial(st.study_id, "w2").await.unwrap().unwrap();
        assert_eq!((claimed.number, claimed.state.as_str()), (2, "RUNNING"));
        assert!(s.claim_waiting_trial(st.study_id, "w3").await.unwrap().is_none());
        // Ask-and-tell trials (no heartbeat) are never reaped.
        let mut at = running(None);
        at.heartbeat = false;
        let at = s.create_study_trial(st.study_id, at).await.unwrap().unwrap();
        assert_eq!(at.heartbeat, None);
        s.heartbeat_study_trials(st.study_id, &[claimed.trial_id])
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let reaped = s.reap_stale_study_trials(st.study_id, 10_000).await.unwrap();
        assert!(reaped.is_empty(), "{n}");
        b.finish().await;
    }
}

#[tokio::test]
async fn racing_workers_never_exceed_the_budget_or_share_a_claim() {
    for b in common::backends().await {
        let st = b.store.create_study(new_study("race")).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = b.store.clone();
            let id = st.study_id;
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(t) = s.create_study_trial(id, running(Some(25))).await.unwrap() {
                    got.push(t.number);
                }
                got
            }));
        }
        let mut all: Vec<i64> = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        assert_eq!(
            all,
            (0..25).collect::<Vec<_>>(),
            "{}: every number once, budget exact",
            b.name
        );
        // Enqueue 10 WAITING trials and let 8 claimers race for them.
        for _ in 0..10 {
            let mut w = running(None);
            w.state = "WAITING".into();
            b.store.create_study_trial(st.study_id, w).await.unwrap().unwrap();
        }
        let mut tasks = Vec::new();
        for k in 0..8 {
            let s = b.store.clone();
            let id = st.study_id;
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(t) = s.claim_waiting_trial(id, &format!("w{k}")).await.unwrap() {
                    got.push(t.number);
                }
                got
            }));
        }
        let mut claimed: Vec<i64> = Vec::new();
        for t in tasks {
            claimed.extend(t.await.unwrap());
        }
        claimed.sort();
        assert_eq!(
            claimed,
            (25..35).collect::<Vec<_>>(),
            "{}: each WAITING trial claimed once",
            b.name
        );
        b.finish().await;
    }
}
