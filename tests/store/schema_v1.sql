-- The schema storage.open_store created at version 1 (before 2: event tool and verdict columns;
-- indexes for the dashboard), dumped from SQLite. tests/store/test_schema.py upgrades a store built from it.
CREATE TABLE schema_migrations (
	version INTEGER NOT NULL,
	name VARCHAR NOT NULL,
	applied_at DATETIME NOT NULL,
	PRIMARY KEY (version)
);
CREATE TABLE runs (
	id VARCHAR(32) NOT NULL,
	goal VARCHAR NOT NULL,
	model VARCHAR NOT NULL,
	model_name VARCHAR NOT NULL,
	autonomy VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	tools JSON,
	max_steps INTEGER NOT NULL,
	max_seconds FLOAT NOT NULL,
	max_tokens INTEGER,
	max_cost_usd FLOAT,
	policy JSON,
	workspace VARCHAR,
	parent_run_id VARCHAR,
	created_by VARCHAR,
	created_at DATETIME NOT NULL,
	started_at DATETIME,
	finished_at DATETIME,
	updated_at DATETIME NOT NULL,
	worker_id VARCHAR,
	lease_expires_at DATETIME,
	last_seq INTEGER NOT NULL,
	steps INTEGER NOT NULL,
	tool_calls INTEGER NOT NULL,
	tokens_in INTEGER NOT NULL,
	tokens_out INTEGER NOT NULL,
	cost_usd FLOAT NOT NULL,
	active_seconds FLOAT NOT NULL,
	result VARCHAR,
	reason VARCHAR,
	PRIMARY KEY (id)
);
CREATE INDEX ix_runs_created_at ON runs (created_at);
CREATE INDEX ix_runs_model_created_at ON runs (model, created_at);
CREATE INDEX ix_runs_status_created_at ON runs (status, created_at);
CREATE TABLE events (
	id INTEGER NOT NULL,
	run_id VARCHAR NOT NULL,
	seq INTEGER NOT NULL,
	kind VARCHAR NOT NULL,
	at DATETIME NOT NULL,
	payload JSON,
	PRIMARY KEY (id),
	CONSTRAINT uq_events_run_seq UNIQUE (run_id, seq),
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE TABLE approvals (
	id INTEGER NOT NULL,
	run_id VARCHAR NOT NULL,
	request_seq INTEGER NOT NULL,
	tool_call_id VARCHAR NOT NULL,
	tool VARCHAR NOT NULL,
	arguments JSON,
	args_hash VARCHAR NOT NULL,
	risk VARCHAR NOT NULL,
	reason VARCHAR NOT NULL,
	rule VARCHAR,
	model_text VARCHAR NOT NULL,
	summary VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	requested_at DATETIME NOT NULL,
	expires_at DATETIME,
	decided_at DATETIME,
	decided_by VARCHAR,
	note VARCHAR,
	edited_arguments JSON,
	approved_hash VARCHAR,
	allow_scope VARCHAR,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE INDEX ix_approvals_run_id ON approvals (run_id);
CREATE INDEX ix_approvals_status_requested_at ON approvals (status, requested_at);
CREATE TABLE commands (
	id INTEGER NOT NULL,
	run_id VARCHAR NOT NULL,
	kind VARCHAR NOT NULL,
	payload JSON,
	created_by VARCHAR,
	created_at DATETIME NOT NULL,
	consumed_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE INDEX ix_commands_run_consumed ON commands (run_id, consumed_at);
