"""Writes reference.json: metric inputs and scikit-learn's values for them.

Run with scikit-learn 1.9.1 and numpy:

    python3 -m venv /tmp/venv-metrics
    /tmp/venv-metrics/bin/pip install scikit-learn==1.9.1 numpy
    /tmp/venv-metrics/bin/python crates/kiln-metrics/tests/reference/gen_reference.py

`tests/reference.rs` reads the file and checks every Kiln metric against the
expected value to 1e-9 (relative to the value's size when it exceeds 1).

The file holds "inputs" (named arrays: y_true, y_pred, scores, probs,
weight, relevance, query) and "cases": {"name", "metric", "input" (a key of
"inputs"), "params" (average, n_classes, k), "expected"}. `expected` is a
number, a list (confusion matrix, row-major) or null for NaN (scikit-learn's
value for an undefined metric). Labels are class indices; multiclass
probabilities are flattened row-major (n x n_classes).
"""

import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn import metrics as skm

warnings.filterwarnings("ignore")  # undefined-metric warnings are part of the cases

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
cases = []
inputs = {}


def num(v):
    v = float(v)
    return None if math.isnan(v) else v


def floats(a):
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def data(name, **arrays):
    """Stores a case's input arrays once, under `name`; cases refer to it."""
    inputs[name] = {k: v for k, v in arrays.items() if v is not None}
    return name


def add(name, metric, input_name, expected, **params):
    params = {k: v for k, v in params.items() if v is not None}
    cases.append({"name": name, "metric": metric, "input": input_name, "params": params, "expected": expected})


def wlist(w):
    return None if w is None else floats(w)


def binary_case(name, y, p, w=None):
    """Every binary metric on labels y (0/1) and P(class 1) p."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    d = data(name, y_true=floats(y), scores=floats(p), weight=wlist(w))
    add(name, "log_loss_binary", d, num(skm.log_loss(y, p, labels=[0, 1], sample_weight=w)))
    add(name, "roc_auc", d, num(skm.roc_auc_score(y, p, sample_weight=w)))
    add(name, "average_precision", d, num(skm.average_precision_score(y, p, sample_weight=w)))
    label_case(name + "/labels", y, (p >= 0.5).astype(np.float64), w, binary=True)


def label_case(name, y, yp, w=None, binary=False, n_classes=None):
    """Label metrics: accuracy, balanced accuracy, P/R/F1 under each average, confusion matrix."""
    y = np.asarray(y, dtype=np.float64)
    yp = np.asarray(yp, dtype=np.float64)
    d = data(name, y_true=floats(y), y_pred=floats(yp), weight=wlist(w))
    add(name, "accuracy", d, num(skm.accuracy_score(y, yp, sample_weight=w)))
    add(name, "balanced_accuracy", d, num(skm.balanced_accuracy_score(y, yp, sample_weight=w)))
    averages = ["macro", "micro", "weighted"] + (["binary"] if binary else [])
    for avg in averages:
        add(name, "precision", d, num(skm.precision_score(y, yp, average=avg, sample_weight=w)), average=avg)
        add(name, "recall", d, num(skm.recall_score(y, yp, average=avg, sample_weight=w)), average=avg)
        add(name, "f1", d, num(skm.f1_score(y, yp, average=avg, sample_weight=w)), average=avg)
    k = n_classes or int(max(y.max(), yp.max())) + 1
    cm = skm.confusion_matrix(y, yp, labels=list(range(k)), sample_weight=w)
    add(name, "confusion_matrix", d, floats(cm), n_classes=k)


def multiclass_case(name, y, probs, w=None):
    """Probability metrics on labels y (0..k) and an n x k probability matrix."""
    y = np.asarray(y, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    labels = list(range(k))
    d = data(name, y_true=floats(y), probs=floats(probs), weight=wlist(w))
    add(name, "log_loss", d, num(skm.log_loss(y, probs, labels=labels, sample_weight=w)), n_classes=k)
    all_present = len(np.unique(y)) == k
    for avg in ["macro", "weighted"]:
        auc = skm.roc_auc_score(y, probs, multi_class="ovr", average=avg, labels=labels, sample_weight=w)
        add(name, "roc_auc_ovr", d, num(auc), n_classes=k, average=avg)
        if all_present:  # scikit-learn refuses average precision with an absent class
            ap = skm.average_precision_score(y, probs, average=avg, sample_weight=w)
            add(name, "average_precision_ovr", d, num(ap), n_classes=k, average=avg)
    label_case(name + "/labels", y, probs.argmax(axis=1).astype(np.float64), w, n_classes=k)


def regression_case(name, y, p, w=None):
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    d = data(name, y_true=floats(y), y_pred=floats(p), weight=wlist(w))
    add(name, "mse", d, num(skm.mean_squared_error(y, p, sample_weight=w)))
    add(name, "rmse", d, num(skm.root_mean_squared_error(y, p, sample_weight=w)))
    add(name, "mae", d, num(skm.mean_absolute_error(y, p, sample_weight=w)))
    add(name, "mape", d, num(skm.mean_absolute_percentage_error(y, p, sample_weight=w)))
    if len(y) >= 2:  # scikit-learn returns NaN below two samples; Kiln errors (tested in Rust)
        add(name, "r2", d, num(skm.r2_score(y, p, sample_weight=w)))


def ranking_case(name, rel, score, query, ks=(None, 1, 3, 5, 10)):
    """NDCG@k: scikit-learn's ndcg_score per query, averaged; MAP: mean per-query average precision."""
    rel = np.asarray(rel, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    query = np.asarray(query)
    qs = np.unique(query)
    d = data(name, relevance=floats(rel), scores=floats(score), query=[int(q) for q in query])
    for k in ks:
        per_query = []
        for q in qs:
            m = query == q
            if m.sum() < 2:
                raise ValueError("scikit-learn's ndcg_score needs 2+ documents per query")
            per_query.append(skm.ndcg_score([rel[m]], [score[m]], k=k))
        add(name, "ndcg", d, num(np.mean(per_query)), k=k)
    aps = []
    for q in qs:
        m = query == q
        pos = (rel[m] > 0).astype(int)
        if pos.sum() > 0:
            aps.append(skm.average_precision_score(pos, score[m]))
    add(name, "map", d, num(np.mean(aps)) if aps else None)


def dirichlet(rng, n, k, alpha=1.0):
    return rng.dirichlet([alpha] * k, size=n)


def main():
    rng = np.random.default_rng(20240601)

    # --- binary ---
    n = 60
    y = rng.integers(0, 2, n)
    binary_case("binary/random", y, rng.random(n))
    y = rng.integers(0, 2, 200)
    binary_case("binary/ties", y, np.round(rng.random(200), 1))
    binary_case("binary/all_tied", [0, 1, 1, 0, 1, 0, 0], [0.3] * 7)
    binary_case("binary/perfect", [0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9])
    binary_case("binary/all_wrong", [1, 1, 1, 0, 0], [0.1, 0.2, 0.3, 0.8, 0.9])
    y = np.zeros(300, dtype=int)
    y[rng.choice(300, 4, replace=False)] = 1
    binary_case("binary/imbalanced", y, rng.random(300) ** 2)
    binary_case("binary/only_negatives", [0, 0, 0, 0], [0.1, 0.6, 0.2, 0.7])
    binary_case("binary/only_positives", [1, 1, 1], [0.1, 0.6, 0.9])
    binary_case("binary/extreme_probabilities", [0, 1, 1, 0, 1], [0.0, 1.0, 0.0, 1.0, 0.5])
    binary_case("binary/one_sample", [1], [0.7])
    binary_case("binary/all_predicted_negative", [0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.45])
    y = rng.integers(0, 2, 80)
    binary_case("binary/weighted", y, rng.random(80), w=rng.random(80) * 3)
    w = rng.random(80)
    w[::4] = 0.0
    binary_case("binary/weighted_with_zeros", y, np.round(rng.random(80), 1), w=w)
    y = rng.integers(0, 2, 1000)
    binary_case("binary/large_ties", y, np.clip(y * 0.3 + np.round(rng.random(1000), 2), 0, 1))

    # --- binary labels only (zero division cases) ---
    label_case("labels/binary_none_predicted", [0, 1, 1, 0], [0, 0, 0, 0], binary=True)
    label_case("labels/binary_no_true_positive", [0, 0, 0, 0], [0, 1, 0, 1], binary=True)
    label_case("labels/binary_all_zero", [0, 0, 0], [0, 0, 0], binary=True)
    label_case("labels/multiclass_gaps", [0, 2, 5, 5, 2, 0, 5], [0, 5, 5, 2, 2, 3, 5])
    label_case("labels/multiclass_pred_extra_class", [0, 1, 1, 0, 1], [0, 1, 2, 2, 1])
    y = rng.integers(0, 5, 150)
    yp = np.where(rng.random(150) < 0.6, y, rng.integers(0, 5, 150))
    label_case("labels/multiclass_random", y, yp)
    label_case("labels/multiclass_weighted", y, yp, w=rng.random(150))

    # --- multiclass probabilities ---
    y = rng.integers(0, 3, 90)
    multiclass_case("multiclass/random3", y, dirichlet(rng, 90, 3))
    y = rng.integers(0, 4, 120)
    multiclass_case("multiclass/random4_weighted", y, dirichlet(rng, 120, 4, 0.5), w=rng.random(120) * 2)
    grid = np.array([[0.2, 0.3, 0.5], [0.5, 0.3, 0.2], [0.3, 0.5, 0.2], [0.2, 0.5, 0.3], [0.5, 0.2, 0.3],
                     [0.3, 0.2, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    idx = rng.integers(0, len(grid), 70)
    multiclass_case("multiclass/ties", rng.integers(0, 3, 70), grid[idx])
    y = np.array([0, 1, 2, 0, 1, 2])
    multiclass_case("multiclass/perfect", y, np.eye(3)[y])
    multiclass_case("multiclass/all_wrong", y, np.eye(3)[(y + 1) % 3])
    y = np.zeros(200, dtype=int)
    y[:6] = 1
    y[6:9] = 2
    rng.shuffle(y)
    multiclass_case("multiclass/imbalanced", y, dirichlet(rng, 200, 3))
    multiclass_case("multiclass/absent_class", [0, 1, 0, 1, 1], dirichlet(rng, 5, 3))
    multiclass_case("multiclass/extreme", [0, 1, 2, 2], [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0],
                                                          [0.5, 0.5, 0.0]])

    # --- regression ---
    y = rng.normal(10, 3, 100)
    regression_case("regression/random", y, y + rng.normal(0, 1, 100))
    regression_case("regression/weighted", y, y + rng.normal(0, 2, 100), w=rng.random(100))
    regression_case("regression/perfect", y, y)
    regression_case("regression/constant_truth_perfect", [2.5] * 5, [2.5] * 5)
    regression_case("regression/constant_truth_wrong", [2.5] * 5, [2.5, 2.5, 3.0, 2.5, 2.0])
    regression_case("regression/zeros_in_truth", [0.0, 1.0, -2.0, 0.0, 3.0], [0.5, 1.5, -1.0, 0.0, 2.0])
    regression_case("regression/large_values", rng.normal(1e6, 1e5, 50), rng.normal(1e6, 1e5, 50))
    regression_case("regression/worse_than_mean", [1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0])
    regression_case("regression/one_sample", [3.0], [2.0])

    # --- ranking ---
    nq, per = 12, 9
    query = np.repeat(np.arange(nq) * 7 + 3, per)
    rel = rng.integers(0, 4, nq * per).astype(float)
    rel[:per] = 0  # a query with no relevant document
    score = rel + rng.normal(0, 1.5, nq * per)
    ranking_case("ranking/random", rel, score, query)
    ranking_case("ranking/ties", rel, np.round(score), query)
    order = rng.permutation(nq * per)
    ranking_case("ranking/shuffled_rows", rel[order], score[order], query[order])
    ranking_case("ranking/perfect", [3, 2, 1, 0, 2, 1, 0], [4, 3, 2, 1, 9, 8, 7], [1, 1, 1, 1, 2, 2, 2])
    ranking_case("ranking/uneven_groups", [0, 1, 0, 2, 1, 0, 0, 3], [0.1, 0.4, 0.4, 0.9, 0.2, 0.3, 0.8, 0.1],
                 [5, 5, 5, 9, 9, 9, 9, 9])

    doc = {
        "generator": "crates/kiln-metrics/tests/reference/gen_reference.py",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "inputs": inputs,
        "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
