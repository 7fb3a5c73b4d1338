-- Kiln studies (hyperparameter optimisation), PostgreSQL dialect. Same conventions as 0001:
-- epoch-ms BIGINT timestamps, 0/1 booleans, JSON as TEXT.
CREATE TABLE studies (
    study_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- JSON array of "minimize" / "maximize".
    directions TEXT NOT NULL,
    -- JSON: sampler, pruner, declared space, seed, metric names, heartbeat settings.
    config TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    -- The experiment's artifact location, for the trials' child runs.
    artifact_location TEXT NOT NULL,
    -- The MLflow run every trial's run is a child of.
    parent_run_uuid TEXT NOT NULL,
    next_number BIGINT NOT NULL DEFAULT 0,
    -- Trials counted against a budget (a lost trial's retry takes its place).
    budget_used BIGINT NOT NULL DEFAULT 0,
    -- Bumped by every trial write (under the study row's lock): readers fetch the trials with seq > the last seen.
    seq BIGINT NOT NULL DEFAULT 0,
    creation_time BIGINT NOT NULL
);
CREATE TABLE study_trials (
    trial_id BIGSERIAL PRIMARY KEY,
    study_id BIGINT NOT NULL,
    number BIGINT NOT NULL,
    -- RUNNING | COMPLETE | PRUNED | FAIL | WAITING
    state TEXT NOT NULL,
    -- JSON object: name -> {"value": ..., "distribution": {...}}.
    params TEXT NOT NULL DEFAULT '{}',
    -- JSON array, one value per direction (COMPLETE trials).
    objective_values TEXT,
    -- JSON array of [step, value].
    intermediate TEXT NOT NULL DEFAULT '[]',
    -- JSON object of sampler / system attributes.
    attrs TEXT NOT NULL DEFAULT '{}',
    budgeted BIGINT NOT NULL DEFAULT 1,
    worker TEXT,
    start_time BIGINT,
    end_time BIGINT,
    -- NULL for ask-and-tell trials, which are never reaped.
    heartbeat BIGINT,
    run_uuid TEXT NOT NULL,
    run_pk BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    UNIQUE (study_id, number)
);
CREATE INDEX study_trials_seq ON study_trials (study_id, seq);
CREATE INDEX study_trials_state ON study_trials (study_id, state, number);
