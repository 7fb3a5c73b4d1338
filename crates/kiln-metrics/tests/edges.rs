//! Bad inputs give errors (not panics), undefined values are the documented
//! ones, the name lookup round-trips, and independent definitions agree
//! (AUC = Mann-Whitney with ties as half, micro-F1 = accuracy).

use kiln_metrics::*;
use proptest::prelude::*;

fn err_contains<T: std::fmt::Debug>(r: Result<T>, needle: &str) {
    match r {
        Ok(v) => panic!("expected an error containing '{needle}', got Ok({v:?})"),
        Err(e) => assert!(
            e.message.contains(needle),
            "error '{}' does not mention '{needle}'",
            e.message
        ),
    }
}

#[test]
fn length_mismatch_and_empty_inputs_are_errors() {
    err_contains(accuracy(&[0.0, 1.0], &[0.0], None), "same length");
    err_contains(accuracy(&[], &[], None), "empty");
    err_contains(roc_auc(&[0.0, 1.0], &[0.5], None), "same length");
    err_contains(mse(&[], &[], None), "empty");
    err_contains(log_loss(&[], &[], 3, None), "empty");
    err_contains(
        log_loss(&[0.0, 1.0], &[0.5, 0.5, 0.5], 2, None),
        "expected 2 rows x 2 classes",
    );
    err_contains(ndcg(&[1.0, 0.0], &[0.3, 0.2], &[1], None), "query ids");
    err_contains(f1(&[0.0, 1.0], &[1.0, 1.0, 0.0], Average::Macro, None), "same length");
}

#[test]
fn labels_that_are_not_class_indices_are_errors() {
    err_contains(
        accuracy(&[0.0, 1.5], &[0.0, 1.0], None),
        "y_true[1] = 1.5 is not a class index",
    );
    err_contains(accuracy(&[0.0, -1.0], &[0.0, 1.0], None), "y_true[1] = -1");
    err_contains(accuracy(&[0.0, f64::NAN], &[0.0, 1.0], None), "y_true[1] = NaN");
    err_contains(
        f1(&[0.0, 2.0], &[0.0, 1.0], Average::Binary, None),
        "binary labels must be 0 or 1",
    );
    err_contains(roc_auc(&[0.0, 2.0], &[0.1, 0.2], None), "y_true[1] = 2");
    err_contains(log_loss(&[0.0, 3.0], &[0.5; 6], 3, None), "out of range");
    err_contains(
        confusion_matrix(&[0.0, 1.0], &[0.0, 4.0], 2, None),
        "y_pred[1] = 4 is out of range",
    );
    err_contains(accuracy(&[1e30], &[0.0], None), "not a class index");
}

#[test]
fn bad_scores_and_weights_are_errors() {
    err_contains(roc_auc(&[0.0, 1.0], &[0.1, f64::NAN], None), "scores[1] = NaN");
    err_contains(
        log_loss_binary(&[0.0, 1.0], &[0.1, 1.2], None),
        "probabilities[1] = 1.2",
    );
    err_contains(log_loss(&[0.0], &[0.5, -0.1, 0.6], 3, None), "probabilities[1] = -0.1");
    err_contains(mse(&[1.0, f64::INFINITY], &[1.0, 2.0], None), "y_true[1] = inf");
    err_contains(accuracy(&[0.0, 1.0], &[0.0, 1.0], Some(&[1.0, -1.0])), "weight[1] = -1");
    err_contains(accuracy(&[0.0, 1.0], &[0.0, 1.0], Some(&[0.0, 0.0])), "sum to zero");
    err_contains(
        accuracy(&[0.0, 1.0], &[0.0, 1.0], Some(&[1.0])),
        "sample weights have 1 values",
    );
    err_contains(
        roc_auc_ovr(
            &[0.0, 1.0],
            &[0.5, 0.2, 0.2, 0.3, 0.3, 0.3],
            3,
            ClassAverage::Macro,
            None,
        ),
        "row 0 sums to 0.8999",
    );
    err_contains(log_loss(&[0.0], &[1.0], 1, None), "at least 2 classes");
    err_contains(confusion_matrix(&[0.0], &[0.0], 0, None), "n_classes = 0");
}

#[test]
fn undefined_values_are_the_documented_ones() {
    // One class: ROC AUC is NaN (scikit-learn 1.9), AP is 0 without positives.
    assert!(roc_auc(&[1.0, 1.0], &[0.2, 0.9], None).unwrap().is_nan());
    assert_eq!(average_precision(&[0.0, 0.0], &[0.2, 0.9], None).unwrap(), 0.0);
    assert_eq!(average_precision(&[1.0, 1.0], &[0.2, 0.9], None).unwrap(), 1.0);
    // Zero division is 0.
    assert_eq!(precision(&[0.0, 1.0], &[0.0, 0.0], Average::Binary, None).unwrap(), 0.0);
    assert_eq!(f1(&[0.0, 0.0], &[0.0, 0.0], Average::Binary, None).unwrap(), 0.0);
    // R^2: constant truth, and too few samples.
    assert_eq!(r2(&[2.0, 2.0], &[2.0, 2.0], None).unwrap(), 1.0);
    assert_eq!(r2(&[2.0, 2.0], &[2.0, 3.0], None).unwrap(), 0.0);
    err_contains(r2(&[2.0], &[2.0], None), "at least two samples");
    // Ranking: k = 0, negative relevance, no relevant documents anywhere.
    err_contains(ndcg(&[1.0, 0.0], &[0.3, 0.2], &[1, 1], Some(0)), "at least 1");
    err_contains(ndcg(&[1.0, -1.0], &[0.3, 0.2], &[1, 1], None), "relevance[1] = -1");
    assert!(mean_average_precision(&[0.0, 0.0], &[0.3, 0.2], &[1, 1])
        .unwrap()
        .is_nan());
    assert_eq!(ndcg(&[0.0, 0.0], &[0.3, 0.2], &[1, 1], None).unwrap(), 0.0);
    // A single-document query: 1 if relevant, else 0.
    assert_eq!(ndcg(&[2.0, 0.0], &[0.3, 0.2], &[1, 2], None).unwrap(), 0.5);
}

#[test]
fn hand_computed_values() {
    // Pairs (pos, neg): (0.8 vs 0.4) right, (0.8 vs 0.8) tie, (0.3 vs 0.4) wrong, (0.3 vs 0.8) wrong.
    let auc = roc_auc(&[1.0, 0.0, 1.0, 0.0], &[0.8, 0.4, 0.3, 0.8], None).unwrap();
    assert!((auc - 1.5 / 4.0).abs() < 1e-15, "{auc}");
    // Confident and wrong costs -ln(eps).
    let ll = log_loss_binary(&[1.0], &[0.0], None).unwrap();
    assert!((ll - -(f64::EPSILON).ln()).abs() < 1e-12, "{ll}");
    let cm = confusion_matrix(
        &[0.0, 1.0, 1.0, 2.0],
        &[0.0, 2.0, 1.0, 2.0],
        3,
        Some(&[1.0, 2.0, 3.0, 4.0]),
    )
    .unwrap();
    assert_eq!(cm.row(1), &[0.0, 3.0, 2.0]);
    assert_eq!(cm.get(2, 2), 4.0);
    assert_eq!(cm.get(9, 0), 0.0);
    assert_eq!(mape(&[2.0, 4.0], &[1.0, 5.0], None).unwrap(), 0.375);
}

#[test]
fn names_round_trip_with_direction() {
    for name in METRIC_NAMES {
        let m = Metric::from_name(name).unwrap();
        assert_eq!(&m.name(), name);
        assert_eq!(Metric::from_name(&m.name()).unwrap(), m);
    }
    assert_eq!(Metric::from_name("NDCG@10").unwrap(), Metric::Ndcg(Some(10)));
    assert_eq!(Metric::from_name("ndcg@10").unwrap().name(), "ndcg@10");
    assert_eq!(Metric::from_name("roc_auc").unwrap(), Metric::Auc(ClassAverage::Macro));
    assert_eq!(
        Metric::from_name("aucpr").unwrap(),
        Metric::AveragePrecision(ClassAverage::Macro)
    );
    assert!(Metric::from_name("auc").unwrap().higher_is_better());
    assert!(Metric::from_name("r2").unwrap().higher_is_better());
    assert!(!Metric::from_name("logloss").unwrap().higher_is_better());
    assert!(!Metric::from_name("rmse").unwrap().higher_is_better());
    assert!(!Metric::from_name("error").unwrap().higher_is_better());
    assert_eq!(
        Metric::from_name("auc_pr").unwrap(),
        Metric::AveragePrecision(ClassAverage::Macro)
    );
    err_contains(Metric::from_name("aucc"), "unknown metric 'aucc'");
    err_contains(Metric::from_name("ndcg@0"), "cut-off");
    err_contains(Metric::from_name("f1_average"), "unknown metric");
}

#[test]
fn evaluate_dispatches_by_prediction_kind() {
    let y = [0.0, 1.0, 1.0, 0.0, 1.0];
    let p = [0.2, 0.7, 0.4, 0.6, 0.9];
    let labels = [0.0, 1.0, 0.0, 1.0, 1.0];
    let auc = Metric::from_name("auc").unwrap();
    assert_eq!(
        auc.evaluate(&y, Scores::Binary(&p), None).unwrap(),
        roc_auc(&y, &p, None).unwrap()
    );
    assert_eq!(Metric::Error.evaluate(&y, Scores::Binary(&p), None).unwrap(), 0.4);
    let f = Metric::from_name("f1").unwrap();
    assert_eq!(
        f.evaluate(&y, Scores::Binary(&p), None).unwrap(),
        f1(&y, &labels, Average::Binary, None).unwrap()
    );
    // Multiclass: argmax labels, macro default.
    let yk = [0.0, 1.0, 2.0, 2.0];
    let probs = [0.6, 0.3, 0.1, 0.2, 0.5, 0.3, 0.1, 0.1, 0.8, 0.4, 0.4, 0.2];
    let mc = Scores::Multiclass {
        n_classes: 3,
        probs: &probs,
    };
    assert_eq!(
        f.evaluate(&yk, mc, None).unwrap(),
        f1(&yk, &[0.0, 1.0, 2.0, 0.0], Average::Macro, None).unwrap()
    );
    assert_eq!(
        Metric::from_name("logloss").unwrap().evaluate(&yk, mc, None).unwrap(),
        log_loss(&yk, &probs, 3, None).unwrap()
    );
    err_contains(
        f.evaluate(
            &yk,
            Scores::Multiclass {
                n_classes: 3,
                probs: &probs[..9],
            },
            None,
        ),
        "expected 4 rows",
    );
    // Mismatches are errors naming the metric.
    err_contains(
        auc.evaluate(&y, Scores::Regression(&p), None),
        "'auc' does not apply to regression",
    );
    err_contains(
        Metric::Rmse.evaluate(&y, Scores::Binary(&p), None),
        "'rmse' does not apply to binary",
    );
    err_contains(Metric::Map.evaluate(&y, Scores::Binary(&p), None), "needs query ids");
    err_contains(auc.evaluate_ranking(&y, &p, &[1; 5]), "not a ranking metric");
    assert_eq!(
        Metric::Rmse.evaluate(&y, Scores::Regression(&p), None).unwrap(),
        rmse(&y, &p, None).unwrap()
    );
    assert_eq!(
        Metric::Ndcg(Some(2)).evaluate_ranking(&y, &p, &[1; 5]).unwrap(),
        ndcg(&y, &p, &[1; 5], Some(2)).unwrap()
    );
}

/// AUC by counting pairs: 1 for a positive scored above a negative, 1/2 for a tie.
fn mann_whitney(y: &[f64], s: &[f64]) -> f64 {
    let (mut num, mut pairs) = (0.0, 0.0);
    for i in 0..y.len() {
        for j in 0..y.len() {
            if y[i] == 1.0 && y[j] == 0.0 {
                pairs += 1.0;
                num += if s[i] > s[j] {
                    1.0
                } else if s[i] == s[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    num / pairs
}

proptest! {
    #[test]
    fn auc_is_the_pairwise_probability(data in prop::collection::vec((0u8..2, 0u8..6), 2..60)) {
        let y: Vec<f64> = data.iter().map(|d| d.0 as f64).collect();
        let s: Vec<f64> = data.iter().map(|d| d.1 as f64 / 5.0).collect();
        let auc = roc_auc(&y, &s, None).unwrap();
        if y.iter().all(|&v| v == y[0]) {
            prop_assert!(auc.is_nan());
        } else {
            prop_assert!((auc - mann_whitney(&y, &s)).abs() < 1e-12);
        }
    }

    #[test]
    fn micro_f1_is_accuracy(data in prop::collection::vec((0u8..4, 0u8..4), 1..50)) {
        let y: Vec<f64> = data.iter().map(|d| d.0 as f64).collect();
        let p: Vec<f64> = data.iter().map(|d| d.1 as f64).collect();
        let acc = accuracy(&y, &p, None).unwrap();
        let prf = precision_recall_f1(&y, &p, Average::Micro, None).unwrap();
        prop_assert!((prf.f1 - acc).abs() < 1e-12);
        prop_assert!((prf.precision - acc).abs() < 1e-12);
    }

    #[test]
    fn weights_of_two_equal_duplicating_a_row(data in prop::collection::vec((0u8..2, 0u8..10), 2..40)) {
        // Weight 2 on a row equals that row appearing twice.
        let y: Vec<f64> = data.iter().map(|d| d.0 as f64).collect();
        let s: Vec<f64> = data.iter().map(|d| d.1 as f64 / 10.0).collect();
        let mut w = vec![1.0; y.len()];
        w[0] = 2.0;
        let (mut y2, mut s2) = (y.clone(), s.clone());
        y2.push(y[0]);
        s2.push(s[0]);
        let a = average_precision(&y, &s, Some(&w)).unwrap();
        let b = average_precision(&y2, &s2, None).unwrap();
        prop_assert!((a - b).abs() < 1e-12);
        let a = log_loss_binary(&y, &s, Some(&w)).unwrap();
        let b = log_loss_binary(&y2, &s2, None).unwrap();
        prop_assert!((a - b).abs() < 1e-12);
    }
}
