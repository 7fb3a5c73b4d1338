-- Kiln tracking + registry schema, PostgreSQL dialect.
-- Invariants: ids are text (experiment ids are integers rendered as text by the store),
-- timestamps are epoch milliseconds in BIGINT columns, booleans are 0/1 integers.
CREATE TABLE experiments (
    experiment_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL
);
CREATE TABLE experiment_tags (
    experiment_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
    -- A compact integer key for the metric history (the hot, large table); clients see run_uuid.
    run_pk BIGSERIAL PRIMARY KEY,
    run_uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    artifact_uri TEXT NOT NULL,
    deleted_time BIGINT
);
CREATE INDEX runs_experiment ON runs (experiment_id, lifecycle_stage, start_time);
CREATE TABLE params (
    run_uuid TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE TABLE tags (
    run_uuid TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);
CREATE TABLE metrics (
    run_pk BIGINT NOT NULL,
    key TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL DEFAULT 0,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    dataset_name TEXT,
    dataset_digest TEXT,
    -- MLflow's primary key: an exact repeat of a point is stored once.
    PRIMARY KEY (run_pk, key, timestamp, step, value, is_nan)
);
-- Metrics linked to an MLflow 3 logged model (log-batch with model_id).
CREATE TABLE logged_model_metrics (
    model_id TEXT NOT NULL,
    run_uuid TEXT NOT NULL,
    key TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL DEFAULT 0,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    dataset_name TEXT,
    dataset_digest TEXT
);
CREATE UNIQUE INDEX logged_model_metrics_point ON logged_model_metrics (model_id, key, timestamp, step, run_uuid, value, is_nan);
CREATE TABLE latest_metrics (
    run_pk BIGINT NOT NULL,
    key TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL DEFAULT 0,
    timestamp BIGINT NOT NULL,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_pk, key)
);
CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value);
CREATE TABLE datasets (
    dataset_uuid TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source TEXT NOT NULL,
    schema TEXT,
    profile TEXT,
    UNIQUE (experiment_id, name, digest)
);
CREATE TABLE run_inputs (
    run_uuid TEXT NOT NULL,
    dataset_uuid TEXT NOT NULL,
    PRIMARY KEY (run_uuid, dataset_uuid)
);
CREATE TABLE run_input_tags (
    run_uuid TEXT NOT NULL,
    dataset_uuid TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, dataset_uuid, key)
);
CREATE TABLE run_model_io (
    run_uuid TEXT NOT NULL,
    model_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    step BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_uuid, model_id, direction)
);
CREATE TABLE logged_models (
    model_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    artifact_location TEXT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    lifecycle_stage TEXT NOT NULL DEFAULT 'active',
    model_type TEXT,
    source_run_id TEXT
);
CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_timestamp);
CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE registered_models (
    name TEXT PRIMARY KEY,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE registered_model_tags (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE TABLE model_versions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    current_stage TEXT NOT NULL DEFAULT 'None',
    source TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL DEFAULT '',
    run_link TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'READY',
    status_message TEXT NOT NULL DEFAULT '',
    storage_location TEXT NOT NULL DEFAULT '',
    model_id TEXT NOT NULL DEFAULT '',
    deleted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
CREATE TABLE model_version_tags (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key)
);
CREATE TABLE registered_model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);
