"""The Python equivalent of bench/train's `kiln train`: pandas read_csv, an 80/20 split,
LightGBM with the same parameters, scikit-learn's AUC, mlflow logging to a local store.

Prints one JSON line with the stage times and the test AUC.
    python baseline.py DATA.csv TRACKING_URI
"""
import json
import sys
import time

t0 = time.perf_counter()
stages = {}
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import lightgbm as lgb  # noqa: E402
from sklearn.metrics import roc_auc_score, log_loss, accuracy_score  # noqa: E402
import mlflow  # noqa: E402

stages["import"] = time.perf_counter() - t0
data, uri = sys.argv[1], sys.argv[2]

t = time.perf_counter()
df = pd.read_csv(data)
stages["read"] = time.perf_counter() - t

t = time.perf_counter()
y = df.pop("label").to_numpy()
x = df
rng = np.random.default_rng(42)
idx = rng.permutation(len(x))
cut = int(len(x) * 0.8)
tr, te = idx[:cut], idx[cut:]
x_tr, x_te, y_tr, y_te = x.iloc[tr], x.iloc[te], y[tr], y[te]
train_set = lgb.Dataset(x_tr, label=y_tr, params={"max_bin": 255, "verbosity": -1})
stages["preprocess"] = time.perf_counter() - t

params = {
    "objective": "binary",
    "num_leaves": 31,
    "learning_rate": 0.1,
    "max_bin": 255,
    "min_data_in_leaf": 20,
    "deterministic": True,
    "force_col_wise": True,
    "seed": 42,
    "verbosity": -1,
}
t = time.perf_counter()
booster = lgb.train(params, train_set, num_boost_round=200)
stages["train"] = time.perf_counter() - t

t = time.perf_counter()
p = booster.predict(x_te)
metrics = {
    "test_auc": float(roc_auc_score(y_te, p)),
    "test_logloss": float(log_loss(y_te, p)),
    "test_accuracy": float(accuracy_score(y_te, p >= 0.5)),
}
stages["evaluate"] = time.perf_counter() - t

t = time.perf_counter()
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("bench-train")
with mlflow.start_run():
    mlflow.log_params({**params, "num_boost_round": 200})
    mlflow.log_metrics(metrics)
    mlflow.lightgbm.log_model(booster, name="model")
stages["log"] = time.perf_counter() - t
stages["total"] = time.perf_counter() - t0
print(json.dumps({"stages": stages, **metrics}))
