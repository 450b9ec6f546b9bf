package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrSchemaTooNew is returned, wrapped, by Open when the database was migrated
// by a newer Anchor than this one. Opening it anyway could misread columns
// this binary does not know, so the answer is to run the newer binary.
var ErrSchemaTooNew = errors.New("database schema is newer than this version of anchor")

// A migration moves the schema from version-1 to version. Migrations are only
// ever appended: a released one is never edited, because databases in the
// field have already applied it.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists every schema change in order. The SQL sticks to what
// SQLite and PostgreSQL both accept where that costs nothing, so that
// store/postgres can share the design: INTEGER Unix seconds for times,
// 40-hex-digit keys for 159-bit numbers, partial indexes.
var migrations = []migration{
	{1, "certificates, CAs and CRL numbers", schemaV1},
	{2, "revision, outbox, tokens, audit, reminders and leases", schemaV2},
	{3, "revision of each revocation", schemaV3},
}

// schemaV1 is the first schema.
//
// certificates: serial_key is store.SerialKey; serial repeats the number in
// decimal for people using the sqlite3 shell. revoked_at and reason are NULL
// together until the certificate is revoked.
//
// Indexes are few on purpose: serials and key hashes are random, so every
// index on them puts each insert on a page of its own, and WAL mode writes
// whole pages. serial has no UNIQUE index because serial_key already enforces
// it. Instead of an index on (issuer, revoked_at), the partial index
// certificates_revoked holds only revoked rows, in serial order per issuer,
// with every column a CRL entry needs: RevokedEntries and List of revoked
// certificates read that index alone, and an unrevoked insert does not touch
// it.
//
// crls keeps one row per CRL issued; the last one per issuer is the row with
// the highest number, which is store.SerialKey-encoded for the same reason as
// serial_key.
const schemaV1 = `
CREATE TABLE certificates (
	serial_key    TEXT    NOT NULL PRIMARY KEY,
	serial        TEXT    NOT NULL,
	issuer        TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	common_name   TEXT    NOT NULL,
	key_hash      BLOB    NOT NULL,
	not_before    INTEGER NOT NULL,
	not_after     INTEGER NOT NULL,
	der           BLOB    NOT NULL,
	source        TEXT    NOT NULL,
	notify_issued INTEGER NOT NULL,
	notify_expiry INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	revoked_at    INTEGER,
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
	slug       TEXT    NOT NULL PRIMARY KEY,
	role       TEXT    NOT NULL,
	parent     TEXT    NOT NULL,
	serial     TEXT    NOT NULL,
	key_ref    TEXT    NOT NULL,
	der        BLOB    NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE crls (
	issuer      TEXT    NOT NULL,
	number      TEXT    NOT NULL,
	this_update INTEGER NOT NULL,
	next_update INTEGER NOT NULL,
	PRIMARY KEY (issuer, number)
);
`

// schemaV2 holds what `anchor serve` needs beyond certificates.
//
// revision is one row, bumped in every transaction that revokes a
// certificate; reading it is one primary-key lookup.
//
// outbox keeps one row per event and notifier, unique on that pair so that
// adding an event twice changes nothing. Rows stay after delivery (state done
// or given_up) for operators to read; the partial index outbox_due holds only
// pending rows, in the order Claim takes them, so finished rows cost Claim
// nothing. Times are Unix microseconds: Event.At keeps that precision.
//
// tokens keep only the SHA-256 of their secret. A name is unique among
// unrevoked tokens, so a revoked token's name can be given to a new one.
// allow_cn and allow_san are JSON arrays of patterns.
//
// audit is append-only; seq orders records of the same microsecond.
//
// reminders has one row per certificate and UTC day (Unix seconds of its
// midnight); the primary key makes a second reminder for the same day a
// no-op. leases has one row per lease name; expires_us is Unix microseconds.
const schemaV2 = `
CREATE TABLE revision (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
);
INSERT INTO revision (id, value) VALUES (1, 0);

CREATE TABLE outbox (
	id          INTEGER NOT NULL PRIMARY KEY,
	event_id    TEXT    NOT NULL,
	notifier    TEXT    NOT NULL,
	subject     TEXT    NOT NULL,
	at_us       INTEGER NOT NULL,
	body        TEXT    NOT NULL,
	state       TEXT    NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'done', 'given_up')),
	due_us      INTEGER NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT    NOT NULL DEFAULT '',
	created_us  INTEGER NOT NULL,
	finished_us INTEGER,
	UNIQUE (event_id, notifier)
);
CREATE INDEX outbox_due ON outbox (due_us, id) WHERE state = 'pending';

CREATE TABLE tokens (
	id                TEXT    NOT NULL PRIMARY KEY,
	name              TEXT    NOT NULL,
	role              TEXT    NOT NULL,
	hash              BLOB    NOT NULL UNIQUE,
	allow_cn          TEXT    NOT NULL,
	allow_san         TEXT    NOT NULL,
	max_lifetime_days INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	revoked_at        INTEGER
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE audit (
	seq        INTEGER NOT NULL PRIMARY KEY,
	at_us      INTEGER NOT NULL,
	actor      TEXT    NOT NULL,
	action     TEXT    NOT NULL,
	serial     TEXT    NOT NULL,
	request_id TEXT    NOT NULL,
	detail     TEXT    NOT NULL
);
CREATE INDEX audit_at ON audit (at_us, seq);

CREATE TABLE reminders (
	serial_key TEXT    NOT NULL,
	day        INTEGER NOT NULL,
	PRIMARY KEY (serial_key, day)
);

CREATE TABLE leases (
	name       TEXT    NOT NULL PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_us INTEGER NOT NULL
);
`

// schemaV3 records on each revoked certificate the revision of the
// transaction that revoked it (revoked_rev), so that a CRL cache can read only
// the revocations made since the revision it last saw. Certificates revoked
// before this migration get revision 0: a reader that starts from -1 reads
// them, one that has seen any revision already has them.
//
// certificates_revoked_rev holds only revoked rows, per issuer in revision
// order, with every column RevokedSince reads, so an incremental read is one
// short range of that index.
const schemaV3 = `
ALTER TABLE certificates ADD COLUMN revoked_rev INTEGER;
UPDATE certificates SET revoked_rev = 0 WHERE revoked_at IS NOT NULL;
CREATE INDEX certificates_revoked_rev
	ON certificates (issuer, revoked_rev, serial_key, not_after, revoked_at, reason)
	WHERE revoked_at IS NOT NULL;
`

// latestVersion is the schema version this binary writes.
func latestVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the database behind db to latestVersion, applying each
// missing migration in a transaction of its own, and refuses a database whose
// version is higher.
func migrate(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("schema migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// applyMigration applies m unless the database already has it. The version is
// read inside the migration's own IMMEDIATE transaction, so two processes
// opening a new file at once cannot both apply it.
func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var current int
	err = tx.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current)
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

	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().Unix())
	if err != nil {
		return err
	}
	return tx.Commit()
}
