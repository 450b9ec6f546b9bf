package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaTooNew is returned, wrapped, by Open when the database was migrated
// by a newer Anchor than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this version of anchor")

// A migration moves the schema from version-1 to version. Migrations are only
// ever appended: a released one is never edited.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists every schema change in order. They mirror those of
// store/sqlite, so that the two stores keep the same design.
var migrations = []migration{
	{1, "certificates, CAs and CRL numbers", schemaV1},
	{2, "revision, outbox, tokens, audit, reminders and leases", schemaV2},
	{3, "revision of each revocation", schemaV3},
}

// schemaV1 is the first schema; see store/sqlite's for the reasoning about
// keys and indexes, which holds here too. Keys compare in the "C" collation,
// byte by byte, whatever the database's default, so that their order is the
// numbers' order. crl_counters adds one row per
// issuer holding its last CRL number: NextCRL increments it with an upsert,
// whose row lock orders concurrent callers in every replica.
const schemaV1 = `
CREATE TABLE certificates (
	serial_key    TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
	serial        TEXT    NOT NULL,
	issuer        TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	common_name   TEXT    NOT NULL,
	key_hash      BYTEA   NOT NULL,
	not_before    BIGINT  NOT NULL,
	not_after     BIGINT  NOT NULL,
	der           BYTEA   NOT NULL,
	source        TEXT    NOT NULL,
	notify_issued BOOLEAN NOT NULL,
	notify_expiry BOOLEAN NOT NULL,
	created_at    BIGINT  NOT NULL,
	revoked_at    BIGINT,
	reason        INTEGER,
	CHECK ((revoked_at IS NULL) = (reason IS NULL))
);
CREATE INDEX certificates_common_name ON certificates (common_name);
CREATE INDEX certificates_key_hash ON certificates (key_hash);
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_revoked
	ON certificates (issuer, serial_key, not_after, revoked_at, reason)
	WHERE revoked_at IS NOT NULL;

CREATE TABLE cas (
	slug       TEXT   NOT NULL PRIMARY KEY,
	role       TEXT   NOT NULL,
	parent     TEXT   NOT NULL,
	serial     TEXT   NOT NULL,
	key_ref    TEXT   NOT NULL,
	der        BYTEA  NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE crls (
	issuer      TEXT   NOT NULL,
	number      TEXT   COLLATE "C" NOT NULL,
	this_update BIGINT NOT NULL,
	next_update BIGINT NOT NULL,
	PRIMARY KEY (issuer, number)
);

CREATE TABLE crl_counters (
	issuer TEXT           NOT NULL PRIMARY KEY,
	number NUMERIC(49, 0) NOT NULL
);
`

// schemaV2 holds what anchor serve needs beyond certificates; see
// store/sqlite's schemaV2. Event bodies are TEXT, not JSONB, so that they come
// back byte for byte and a body holding \u0000 (which JSONB refuses) is kept.
const schemaV2 = `
CREATE TABLE revision (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	value BIGINT  NOT NULL
);
INSERT INTO revision (id, value) VALUES (1, 0);

CREATE TABLE outbox (
	id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id    TEXT    NOT NULL,
	notifier    TEXT    NOT NULL,
	subject     TEXT    NOT NULL,
	at_us       BIGINT  NOT NULL,
	body        TEXT    NOT NULL,
	state       TEXT    NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'done', 'given_up')),
	due_us      BIGINT  NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	created_us  BIGINT  NOT NULL,
	finished_us BIGINT,
	UNIQUE (event_id, notifier)
);
CREATE INDEX outbox_due ON outbox (due_us, id) WHERE state = 'pending';

CREATE TABLE tokens (
	id                TEXT    NOT NULL PRIMARY KEY,
	name              TEXT    NOT NULL,
	role              TEXT    NOT NULL,
	hash              BYTEA   NOT NULL UNIQUE,
	allow_cn          TEXT[]  NOT NULL,
	allow_san         TEXT[]  NOT NULL,
	max_lifetime_days INTEGER NOT NULL,
	created_at        BIGINT  NOT NULL,
	revoked_at        BIGINT
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE audit (
	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at_us      BIGINT NOT NULL,
	actor      TEXT   NOT NULL,
	action     TEXT   NOT NULL,
	serial     TEXT   NOT NULL,
	request_id TEXT   NOT NULL,
	detail     TEXT   NOT NULL
);
CREATE INDEX audit_at ON audit (at_us, seq);

CREATE TABLE reminders (
	serial_key TEXT   COLLATE "C" NOT NULL,
	day        BIGINT NOT NULL,
	PRIMARY KEY (serial_key, day)
);

CREATE TABLE leases (
	name       TEXT        NOT NULL PRIMARY KEY,
	holder     TEXT        NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
`

// schemaV3 records on each revoked certificate the revision of the
// transaction that revoked it; see store/sqlite's schemaV3. The index keeps
// the columns RevokedSince reads in INCLUDE, so the read needs no heap lookup
// once the visibility map is current.
const schemaV3 = `
ALTER TABLE certificates ADD COLUMN revoked_rev BIGINT;
UPDATE certificates SET revoked_rev = 0 WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_revoked_rev
	ON certificates (issuer, revoked_rev, serial_key)
	INCLUDE (not_after, revoked_at, reason)
	WHERE revoked_at IS NOT NULL;
`

// latestVersion is the schema version this binary writes.
func latestVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the schema to latestVersion. It holds a session advisory
// lock, keyed by the schema the tables go to, for the whole run, so that
// replicas starting together take turns: the first applies what is missing
// and the others find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Release()

	const key = `hashtextextended('anchor schema ' || COALESCE(current_schema(), ''), 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return fmt.Errorf("locking the schema for migration: %w", err)
	}
	defer func() {
		// A failed unlock leaves the lock to end with the session; the
		// connection is closed rather than returned to the pool with it.
		if _, err := conn.Exec(context.WithoutCancel(ctx),
			`SELECT pg_advisory_unlock(`+key+`)`); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if err := applyMigration(ctx, conn.Conn(), m); err != nil {
			return fmt.Errorf("schema migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// applyMigration applies m in a transaction of its own unless the database
// already has it.
func applyMigration(ctx context.Context, conn *pgx.Conn, m migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)

	var current int
	err = tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).
		Scan(&current)
	if err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	switch {
	case current > latestVersion():
		return fmt.Errorf("%w: the database is at version %d, this binary knows up to %d; "+
			"run a newer anchor", ErrSchemaTooNew, current, latestVersion())
	case current >= m.version:
		return nil
	case current != m.version-1:
		return fmt.Errorf("database is at version %d, expected %d", current, m.version-1)
	}

	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES ($1, $2, $3)`, m.version, m.name, time.Now().Unix())
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}
