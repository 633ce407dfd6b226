package sqlite

import "github.com/avowhq/avow/store/sqlstore"

// steps are the schema, one numbered step each, applied in order and never
// edited once released: a change is a new step at the end. They build the
// logical schema of store/postgres's steps in SQLite's types: times are
// unix microseconds (UTC), booleans 0 or 1, names COLLATE NOCASE.
var steps = []string{
	1: `
CREATE TABLE providers (
	id             INTEGER PRIMARY KEY,
	name           TEXT    NOT NULL COLLATE NOCASE UNIQUE,
	trust_model    TEXT    NOT NULL CHECK (trust_model IN ('AAD', 'Isolated')),
	accepted_tcb   TEXT    NOT NULL,            -- JSON array of TCB statuses
	grace_ns       INTEGER NOT NULL,            -- collateral grace period, nanoseconds
	settings_extra TEXT,                        -- JSON, later settings
	subscription   TEXT    NOT NULL,
	resource_group TEXT    NOT NULL,
	location       TEXT    NOT NULL,
	tags           TEXT,                        -- JSON object
	created_at     INTEGER NOT NULL,            -- unix microseconds, UTC
	updated_at     INTEGER NOT NULL,
	version        INTEGER NOT NULL
) STRICT;

CREATE TABLE policies (
	provider_id      INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	attestation_type TEXT    NOT NULL COLLATE NOCASE,
	document         TEXT    NOT NULL,
	text             TEXT    NOT NULL,
	hash             BLOB    NOT NULL,
	signer_cert      BLOB,
	updated_at       INTEGER NOT NULL,
	version          INTEGER NOT NULL,
	PRIMARY KEY (provider_id, attestation_type)
) STRICT;

CREATE TABLE signers (
	provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	thumbprint  TEXT    NOT NULL,
	certificate BLOB    NOT NULL,
	added_at    INTEGER NOT NULL,
	UNIQUE (provider_id, thumbprint)
) STRICT;

CREATE TABLE signing_keys (
	id          INTEGER PRIMARY KEY,
	provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
	kid         TEXT    NOT NULL,
	sealed_key  BLOB    NOT NULL,
	certificate BLOB    NOT NULL,
	created_at  INTEGER NOT NULL,
	retired_at  INTEGER,
	active      INTEGER NOT NULL CHECK (active IN (0, 1)),
	UNIQUE (provider_id, kid)
) STRICT;
-- The invariant "at most one active key per provider" is the database's.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (provider_id) WHERE active = 1;
CREATE INDEX signing_keys_retired ON signing_keys (retired_at) WHERE active = 0;

CREATE TABLE admin_tokens (
	id          TEXT    PRIMARY KEY,
	hash        BLOB    NOT NULL UNIQUE,
	role        TEXT    NOT NULL CHECK (role IN ('reader', 'policy-admin', 'owner')),
	description TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER
) STRICT;

CREATE TABLE collateral (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	tee         TEXT    NOT NULL,
	fmspc       TEXT    NOT NULL,
	pce_id      TEXT    NOT NULL,
	bundle      BLOB    NOT NULL,
	size        INTEGER NOT NULL,
	sha256      TEXT    NOT NULL,
	issue_date  INTEGER,
	next_update INTEGER,
	fetched_at  INTEGER NOT NULL,
	source      TEXT    NOT NULL
) STRICT;
CREATE INDEX collateral_key ON collateral (tee, fmspc, pce_id, id);

-- Append-only; provider is a name, not a reference: entries outlive providers.
CREATE TABLE audit (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	time       INTEGER NOT NULL,
	kind       TEXT    NOT NULL CHECK (kind IN ('management', 'attestation')),
	actor      TEXT    NOT NULL,
	provider   TEXT    NOT NULL COLLATE NOCASE,
	operation  TEXT    NOT NULL CHECK (operation <> ''),
	outcome    TEXT    NOT NULL,
	details    TEXT,                            -- JSON object
	request_id TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_provider ON audit (provider, id);
CREATE INDEX audit_kind_time ON audit (kind, time);
CREATE INDEX audit_time ON audit (time);

CREATE TABLE change_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
) STRICT;
INSERT INTO change_version (id, version) VALUES (1, 0);
`,
	2: `
-- Collateral of attestation types other than Intel DCAP (store.TypeCollateral):
-- AMD SEV-SNP VCEKs, certificate chains and CRLs.
CREATE TABLE type_collateral (
	type       TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	data       BLOB    NOT NULL,
	sha256     TEXT    NOT NULL,
	not_after  INTEGER,
	fetched_at INTEGER NOT NULL,
	source     TEXT    NOT NULL,
	PRIMARY KEY (type, kind, key)
) STRICT;
`,
	// 3: the column names PostgreSQL's schema has always had, so that both
	// backends share their queries (store/sqlstore); the lease table that
	// TryLease used to create on first use.
	3: `
ALTER TABLE policies RENAME COLUMN text TO policy_text;
ALTER TABLE audit RENAME COLUMN time TO logged_at;
CREATE TABLE IF NOT EXISTS leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL -- unix microseconds, UTC
) STRICT;
`,
	4: `
-- TCB baselines: the TCB evaluation data number of each row's TCB info
-- (0: stored before this step) and whether the row is kept for that number
-- only (pinned) rather than as the key's current collateral.
ALTER TABLE collateral ADD COLUMN tcb_eval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collateral ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
CREATE INDEX collateral_number ON collateral (tee, fmspc, pce_id, tcb_eval, id);
`,
}

var migrations = sqlstore.Migrations{
	Steps: steps,
	VersionTable: `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = migrations.Latest()
