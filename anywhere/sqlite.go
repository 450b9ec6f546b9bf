package anywhere

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DBFile is the name of the SQLite database inside the data folder.
const DBFile = "anywhere.db"

// sqliteStore implements Store on SQLite. Each table holds one JSON document
// per record: the records are small and read whole, so columns would only add
// migrations.
type sqliteStore struct {
	db *sql.DB
}

var tables = []string{"trust_anchors", "profiles", "crls", "subjects", "sessions",
	"admin_keys"}

// OpenSQLite opens (creating if needed) the SQLite store in dir/anywhere.db.
func OpenSQLite(dir string) (Store, error) {
	path := filepath.Join(dir, DBFile)
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("anywhere: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
	for _, t := range tables {
		q := `CREATE TABLE IF NOT EXISTS ` + t + ` (id TEXT PRIMARY KEY,
			body BLOB NOT NULL, expires INTEGER NOT NULL DEFAULT 0)`
		if _, err := db.Exec(q); err != nil {
			db.Close()
			return nil, fmt.Errorf("anywhere: create table %s: %w", t, err)
		}
	}
	return &sqliteStore{db: db}, nil
}

func (s *sqliteStore) Close() error { return s.db.Close() }

func (s *sqliteStore) put(ctx context.Context, table, id string, v any,
	expires int64) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO `+table+` (id, body, expires)
		VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body,
		expires = excluded.expires`, id, body, expires)
	if err != nil {
		return fmt.Errorf("anywhere: write %s %s: %w", table, id, err)
	}
	return nil
}

func (s *sqliteStore) del(ctx context.Context, table, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("anywhere: delete %s %s: %w", table, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqliteStore) get(ctx context.Context, table, id string, v any) error {
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM `+table+` WHERE id = ?`, id).
		Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("anywhere: read %s %s: %w", table, id, err)
	}
	return json.Unmarshal(body, v)
}

// all reads every record of a table into a slice of T.
func all[T any](ctx context.Context, s *sqliteStore, table string) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM `+table+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("anywhere: read %s: %w", table, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("anywhere: decode %s row: %w", table, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// putBatch writes many records in one transaction: one fsync for the batch.
func putBatch[T any](ctx context.Context, s *sqliteStore, table string, items []T,
	key func(T) (string, int64)) error {
	if len(items) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+table+` (id, body, expires)
		VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body,
		expires = excluded.expires`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, it := range items {
		body, err := json.Marshal(it)
		if err != nil {
			return err
		}
		id, exp := key(it)
		if _, err := stmt.ExecContext(ctx, id, body, exp); err != nil {
			return fmt.Errorf("anywhere: write %s %s: %w", table, id, err)
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) TrustAnchors(ctx context.Context) ([]TrustAnchor, error) {
	return all[TrustAnchor](ctx, s, "trust_anchors")
}

func (s *sqliteStore) PutTrustAnchor(ctx context.Context, ta TrustAnchor) error {
	return s.put(ctx, "trust_anchors", ta.ID, ta, 0)
}

func (s *sqliteStore) DeleteTrustAnchor(ctx context.Context, id string) error {
	return s.del(ctx, "trust_anchors", id)
}

func (s *sqliteStore) Profiles(ctx context.Context) ([]Profile, error) {
	return all[Profile](ctx, s, "profiles")
}

func (s *sqliteStore) PutProfile(ctx context.Context, p Profile) error {
	return s.put(ctx, "profiles", p.ID, p, 0)
}

func (s *sqliteStore) DeleteProfile(ctx context.Context, id string) error {
	return s.del(ctx, "profiles", id)
}

func (s *sqliteStore) CRLs(ctx context.Context) ([]CRL, error) {
	return all[CRL](ctx, s, "crls")
}

func (s *sqliteStore) PutCRL(ctx context.Context, c CRL) error {
	return s.put(ctx, "crls", c.ID, c, 0)
}

func (s *sqliteStore) DeleteCRL(ctx context.Context, id string) error {
	return s.del(ctx, "crls", id)
}

func (s *sqliteStore) Subjects(ctx context.Context) ([]Subject, error) {
	return all[Subject](ctx, s, "subjects")
}

func (s *sqliteStore) PutSubjects(ctx context.Context, subs []Subject) error {
	return putBatch(ctx, s, "subjects", subs, func(v Subject) (string, int64) {
		return v.ID, 0
	})
}

func (s *sqliteStore) Session(ctx context.Context, id string) (Session, error) {
	var v Session
	err := s.get(ctx, "sessions", id, &v)
	return v, err
}

func (s *sqliteStore) PutSessions(ctx context.Context, ss []Session) error {
	return putBatch(ctx, s, "sessions", ss, func(v Session) (string, int64) {
		return v.AccessKeyID, v.Expiration.Unix()
	})
}

func (s *sqliteStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires < ?`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("anywhere: delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (s *sqliteStore) AdminKey(ctx context.Context, id string) (AdminKey, error) {
	var v AdminKey
	err := s.get(ctx, "admin_keys", id, &v)
	return v, err
}

func (s *sqliteStore) PutAdminKey(ctx context.Context, k AdminKey) error {
	return s.put(ctx, "admin_keys", k.AccessKeyID, k, 0)
}
