package postgres

import "github.com/avowhq/avow/store/sqlstore"

// steps are the schema, one numbered step each, applied in order and never
// edited once released: a change is a new step at the end. They build the
// logical schema of store/sqlite's steps in PostgreSQL's types.
var steps = []string{
	1: `
CREATE TABLE providers (
	id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name           text        NOT NULL CHECK (name <> ''),
	trust_model    text        NOT NULL CHECK (trust_model IN ('AAD', 'Isolated')),
	accepted_tcb   text        NOT NULL,  -- JSON array of TCB statuses
	grace_ns       bigint      NOT NULL,  -- collateral grace period, nanoseconds
	settings_extra text,                  -- JSON as given, later settings
	subscription   text        NOT NULL,
	resource_group text        NOT NULL,
	location       text        NOT NULL,
	tags           text,                  -- JSON object
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL,
	version        bigint      NOT NULL
);
-- Names are unique without regard to case and kept as first stored.
CREATE UNIQUE INDEX providers_name ON providers (lower(name));

CREATE TABLE policies (
	provider_id      bigint      NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	attestation_type text        NOT NULL,
	document         text        NOT NULL,
	policy_text      text        NOT NULL,
	hash             bytea       NOT NULL,
	signer_cert      bytea,
	updated_at       timestamptz NOT NULL,
	version          bigint      NOT NULL
);
CREATE UNIQUE INDEX policies_key ON policies (provider_id, lower(attestation_type));

CREATE TABLE signers (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	provider_id bigint      NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	thumbprint  text        NOT NULL,
	certificate bytea       NOT NULL,
	added_at    timestamptz NOT NULL,
	UNIQUE (provider_id, thumbprint)
);

CREATE TABLE signing_keys (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	provider_id bigint      NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	kid         text        NOT NULL,
	sealed_key  bytea       NOT NULL,
	certificate bytea       NOT NULL,
	created_at  timestamptz NOT NULL,
	retired_at  timestamptz,
	active      boolean     NOT NULL,
	UNIQUE (provider_id, kid)
);
-- The invariant "at most one active key per provider" is the database's.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (provider_id) WHERE active;
CREATE INDEX signing_keys_retired ON signing_keys (retired_at) WHERE NOT active;

CREATE TABLE admin_tokens (
	seq         bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,  -- creation order
	id          text        PRIMARY KEY,
	hash        bytea       NOT NULL UNIQUE,
	role        text        NOT NULL CHECK (role IN ('reader', 'policy-admin', 'owner')),
	description text        NOT NULL,
	created_at  timestamptz NOT NULL,
	revoked_at  timestamptz
);

CREATE TABLE collateral (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tee         text        NOT NULL,
	fmspc       text        NOT NULL,
	pce_id      text        NOT NULL,
	bundle      bytea       NOT NULL,
	size        bigint      NOT NULL,
	sha256      text        NOT NULL,
	issue_date  timestamptz,
	next_update timestamptz,
	fetched_at  timestamptz NOT NULL,
	source      text        NOT NULL
);
CREATE INDEX collateral_key ON collateral (tee, fmspc, pce_id, id);

-- Append-only; provider is a name, not a reference: entries outlive providers.
CREATE TABLE audit (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	logged_at  timestamptz NOT NULL,
	kind       text        NOT NULL CHECK (kind IN ('management', 'attestation')),
	actor      text        NOT NULL,
	provider   text        NOT NULL,
	operation  text        NOT NULL CHECK (operation <> ''),
	outcome    text        NOT NULL,
	details    text,                      -- JSON object
	request_id text        NOT NULL
);
CREATE INDEX audit_provider ON audit (lower(provider), id);
CREATE INDEX audit_kind_time ON audit (kind, logged_at);
CREATE INDEX audit_time ON audit (logged_at);

CREATE TABLE change_version (
	id      integer PRIMARY KEY CHECK (id = 1),
	version bigint  NOT NULL
);
INSERT INTO change_version (id, version) VALUES (1, 0);
`,
	2: `
-- Named, time-limited leases (store.Leaser): one node runs a periodic job.
CREATE TABLE leases (
	name       text        PRIMARY KEY,
	holder     text        NOT NULL,
	expires_at timestamptz NOT NULL
);
`,
	3: `
-- Collateral of attestation types other than Intel DCAP (store.TypeCollateral):
-- AMD SEV-SNP VCEKs, certificate chains and CRLs.
CREATE TABLE type_collateral (
	type       text        NOT NULL,
	kind       text        NOT NULL,
	key        text        NOT NULL,
	data       bytea       NOT NULL,
	sha256     text        NOT NULL,
	not_after  timestamptz,
	fetched_at timestamptz NOT NULL,
	source     text        NOT NULL,
	PRIMARY KEY (type, kind, key)
);
`,
	4: `
-- TCB baselines: the TCB evaluation data number of each row's TCB info
-- (0: stored before this step) and whether the row is kept for that number
-- only (pinned) rather than as the key's current collateral.
ALTER TABLE collateral ADD COLUMN tcb_eval bigint NOT NULL DEFAULT 0;
ALTER TABLE collateral ADD COLUMN pinned boolean NOT NULL DEFAULT false;
CREATE INDEX collateral_number ON collateral (tee, fmspc, pce_id, tcb_eval, id);
`,
}

// migrations run each step in a transaction that first takes an advisory
// lock ('avow' and the schema, so installations in different schemas do
// not wait for each other): nodes starting at once queue on the lock, and
// each step is applied once. PostgreSQL's DDL is transactional, so a
// failed step leaves nothing behind.
var migrations = sqlstore.Migrations{
	Steps: steps,
	VersionTable: `CREATE TABLE IF NOT EXISTS schema_version (
	version    integer     PRIMARY KEY,
	applied_at timestamptz NOT NULL
)`,
	Lock: `SELECT pg_advisory_xact_lock(1635086199, hashtext(current_schema()))`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = migrations.Latest()
