package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// Revision returns the number of revoking transactions so far: one primary-key
// read on a read connection.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if !s.gate.Enter() {
		return 0, store.ErrClosed
	}
	defer s.gate.Leave()

	var rev int64
	err := s.read.QueryRowContext(ctx, `SELECT value FROM revision WHERE id = 1`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("store/sqlite: reading the revision: %w", err)
	}
	return rev, nil
}

// bumpRevision grows the revision inside tx.
func bumpRevision(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE revision SET value = value + 1 WHERE id = 1`)
	return err
}

// insertOutboxSQL records one delivery, due when its event happened. A second
// insert of the same event for the same notifier changes nothing.
const insertOutboxSQL = `INSERT INTO outbox
	(event_id, notifier, subject, at_us, body, due_us, created_us)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (event_id, notifier) DO NOTHING`

// addEvents records one delivery per event and notifier with stmt, a
// transaction's form of Store.outboxInsert. The events must have passed
// store.CheckEvents.
func addEvents(ctx context.Context, stmt *sql.Stmt, events []store.Outgoing,
	now time.Time) error {
	for _, o := range events {
		e := o.Event
		for _, name := range o.Notifiers {
			_, err := stmt.ExecContext(ctx, e.ID, name, e.Subject, stored.Micros(e.At),
				string(e.Body), stored.Micros(e.At), stored.Micros(now))
			if err != nil {
				return fmt.Errorf("recording event %s for %s: %w", e.ID, name, err)
			}
		}
	}
	return nil
}

// Add implements notify.Outbox: it records one delivery of e per notifier.
func (s *Store) Add(ctx context.Context, e notify.Event, notifiers ...string) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	events := []store.Outgoing{{Event: e, Notifiers: notifiers}}
	if err := store.CheckEvents(events); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store/sqlite: adding event %s: %w", e.ID, err)
	}
	defer tx.Rollback()
	if err := addEvents(ctx, tx.StmtContext(ctx, s.outboxInsert), events, time.Now()); err != nil {
		return fmt.Errorf("store/sqlite: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store/sqlite: adding event %s: %w", e.ID, err)
	}
	return nil
}

// Claim implements notify.Outbox. It reads the due deliveries and moves their
// due time to now+lease in one transaction that holds the write lock, so no
// other claimer, in this process or another, can take the same ones.
func (s *Store) Claim(ctx context.Context, now time.Time, limit int,
	lease time.Duration) ([]notify.Delivery, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	switch {
	case limit <= 0:
		return nil, fmt.Errorf("store/sqlite: claim limit %d must be positive", limit)
	case lease <= 0:
		return nil, fmt.Errorf("store/sqlite: claim lease %s must be positive", lease)
	}
	ds, err := s.claim(ctx, now, limit, lease)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: claiming deliveries: %w", err)
	}
	return ds, nil
}

func (s *Store) claim(ctx context.Context, now time.Time, limit int,
	lease time.Duration) ([]notify.Delivery, error) {
	tx, err := s.write.BeginTx(ctx, nil) // IMMEDIATE: see dataSource
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	// The conditions match the partial index outbox_due.
	rows, err := tx.QueryContext(ctx, `SELECT id, event_id, notifier, subject, at_us, body,
		attempts, last_error FROM outbox
		WHERE state = 'pending' AND due_us <= ? ORDER BY due_us, id LIMIT ?`,
		stored.Micros(now), limit)
	if err != nil {
		return nil, err
	}
	var (
		ds  []notify.Delivery
		ids []int64
	)
	for rows.Next() {
		var (
			d    notify.Delivery
			id   int64
			atUS int64
			body string
		)
		err := rows.Scan(&id, &d.Event.ID, &d.Notifier, &d.Event.Subject, &atUS, &body,
			&d.Attempts, &d.LastError)
		if err != nil {
			rows.Close()
			return nil, err
		}
		d.ID = strconv.FormatInt(id, 10)
		d.Event.At = stored.FromMicros(atUS)
		d.Event.Body = json.RawMessage(body)
		ds = append(ds, d)
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, nil
	}

	until := stored.Micros(now.Add(lease))
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET due_us = ? WHERE id = ?`, until, id)
		if err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return ds, nil
}

// Done implements notify.Outbox.
func (s *Store) Done(ctx context.Context, id string) error {
	return s.settle(ctx, "done", id, `state = 'done', finished_us = ?`,
		stored.Micros(time.Now()))
}

// Retry implements notify.Outbox.
func (s *Store) Retry(ctx context.Context, id string, next time.Time, lastErr string) error {
	return s.settle(ctx, "retry", id, `attempts = attempts + 1, last_error = ?, due_us = ?`,
		lastErr, stored.Micros(next))
}

// GiveUp implements notify.Outbox.
func (s *Store) GiveUp(ctx context.Context, id string, lastErr string) error {
	return s.settle(ctx, "give up", id,
		`state = 'given_up', attempts = attempts + 1, last_error = ?, finished_us = ?`,
		lastErr, stored.Micros(time.Now()))
}

// settle applies set to the pending delivery id. A delivery already done or
// given up is left alone without an error; an id never handed out is
// notify.ErrUnknownDelivery.
func (s *Store) settle(ctx context.Context, op, id, set string, args ...any) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("store/sqlite: %s delivery %q: %w", op, id, notify.ErrUnknownDelivery)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE outbox SET `+set+
		` WHERE id = ? AND state = 'pending'`, append(args, n)...)
	var changed int64
	if err == nil {
		changed, err = res.RowsAffected()
	}
	if err != nil {
		return fmt.Errorf("store/sqlite: %s delivery %s: %w", op, id, err)
	}
	if changed > 0 {
		return nil
	}
	// Rows are never deleted, so one that is not pending now never will be.
	var one int
	err = s.read.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE id = ?`, n).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store/sqlite: %s delivery %s: %w", op, id, notify.ErrUnknownDelivery)
	case err != nil:
		return fmt.Errorf("store/sqlite: %s delivery %s: %w", op, id, err)
	}
	return nil
}

// tokenColumns are the columns scanToken reads, in its order.
const tokenColumns = `id, name, role, hash, allow_cn, allow_san, max_lifetime_days,
	created_at, revoked_at`

// CreateToken records t; see store.Service.
func (s *Store) CreateToken(ctx context.Context, t *store.Token) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	if err := t.Check(); err != nil {
		return err
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	allowCN, err := patterns(t.AllowCN)
	if err != nil {
		return err
	}
	allowSAN, err := patterns(t.AllowSAN)
	if err != nil {
		return err
	}
	var revoked any
	if t.RevokedAt != nil {
		revoked = stored.Unix(*t.RevokedAt)
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		t.ID, t.Name, string(t.Role), t.Hash[:], allowCN, allowSAN, t.MaxLifetimeDays,
		stored.Unix(created), revoked)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return fmt.Errorf("store/sqlite: creating token %q: %w", t.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("store/sqlite: creating token %q: %w", t.Name, store.ErrDuplicateToken)
	}
	return nil
}

// patterns encodes a token's name patterns as a JSON array.
func patterns(p []string) (string, error) {
	if p == nil {
		p = []string{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("store/sqlite: encoding token patterns: %w", err)
	}
	return string(b), nil
}

// scanToken reads the tokenColumns of one row.
func scanToken(row scanner) (*store.Token, error) {
	var (
		t                 store.Token
		role, cn, san     string
		hash              []byte
		created           int64
		revoked           sql.NullInt64
		maxLifetime       int64
		allowCN, allowSAN []string
	)
	err := row.Scan(&t.ID, &t.Name, &role, &hash, &cn, &san, &maxLifetime, &created, &revoked)
	if err != nil {
		return nil, err
	}
	if len(hash) != len(t.Hash) {
		return nil, fmt.Errorf("token %q: stored hash has %d bytes, want %d",
			t.Name, len(hash), len(t.Hash))
	}
	if err := json.Unmarshal([]byte(cn), &allowCN); err != nil {
		return nil, fmt.Errorf("token %q: stored allow_cn: %w", t.Name, err)
	}
	if err := json.Unmarshal([]byte(san), &allowSAN); err != nil {
		return nil, fmt.Errorf("token %q: stored allow_san: %w", t.Name, err)
	}
	copy(t.Hash[:], hash)
	t.Role = store.Role(role)
	t.AllowCN, t.AllowSAN = allowCN, allowSAN
	t.MaxLifetimeDays = int(maxLifetime)
	t.CreatedAt = stored.FromUnix(created)
	if revoked.Valid {
		at := stored.FromUnix(revoked.Int64)
		t.RevokedAt = &at
	}
	return &t, nil
}

// TokenByHash returns the token whose secret hashes to h, revoked or not, or an
// error wrapping store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, h [32]byte) (*store.Token, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	t, err := scanToken(s.tokenByHash.QueryRowContext(ctx, h[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store/sqlite: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: reading token: %w", err)
	}
	return t, nil
}

// tokenByHashSQL is prepared once by Open: every API call runs it.
const tokenByHashSQL = `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ?`

// Tokens returns every token, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]*store.Token, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	rows, err := s.read.QueryContext(ctx,
		`SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: listing tokens: %w", err)
	}
	defer rows.Close()
	tokens := []*store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store/sqlite: listing tokens: %w", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/sqlite: listing tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken revokes the token with this ID, or else the unrevoked token with
// this name, at the second of at.
func (s *Store) RevokeToken(ctx context.Context, idOrName string, at time.Time) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	if at.IsZero() {
		return fmt.Errorf("store/sqlite: revoking token %q: revocation time is zero", idOrName)
	}
	for _, col := range []string{"id", "name"} {
		res, err := s.write.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?
			WHERE `+col+` = ? AND revoked_at IS NULL`, stored.Unix(at), idOrName)
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err != nil {
			return fmt.Errorf("store/sqlite: revoking token %q: %w", idOrName, err)
		}
		if n > 0 {
			return nil
		}
		var one int
		err = s.read.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE `+col+` = ?`,
			idOrName).Scan(&one)
		switch {
		case err == nil:
			return nil // already revoked
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("store/sqlite: revoking token %q: %w", idOrName, err)
		}
	}
	return fmt.Errorf("store/sqlite: token %q: %w", idOrName, store.ErrNotFound)
}

// insertAuditSQL records one audit record; the arguments come from auditArgs.
const insertAuditSQL = `INSERT INTO audit (at_us, actor, action, serial, request_id, detail)
	VALUES (?, ?, ?, ?, ?, ?)`

// AppendAudit records recs, all in one transaction, through the group-commit
// writer, and returns once they are durable.
func (s *Store) AppendAudit(ctx context.Context, recs ...store.AuditRecord) error {
	now := time.Now()
	rows := make([][]any, len(recs))
	for i := range recs {
		r := &recs[i]
		if err := r.Check(); err != nil {
			return err
		}
		at := r.At
		if at.IsZero() {
			at = now
		}
		rows[i] = []any{stored.Micros(at), r.Actor, r.Action, r.Serial, r.RequestID, r.Detail}
	}
	if len(rows) == 0 {
		if !s.gate.Enter() {
			return store.ErrClosed
		}
		s.gate.Leave()
		return nil
	}
	return s.group.Submit(ctx, &insertRequest{audit: rows})
}

// Audit returns up to limit records (0: all) at or after since, oldest first.
func (s *Store) Audit(ctx context.Context, since time.Time, limit int) (
	[]store.AuditRecord, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	if limit < 0 {
		return nil, fmt.Errorf("store/sqlite: audit limit %d is negative", limit)
	}
	query := `SELECT at_us, actor, action, serial, request_id, detail FROM audit
		WHERE at_us >= ? ORDER BY at_us, seq`
	args := []any{stored.MicrosCeil(since)}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: reading audit: %w", err)
	}
	defer rows.Close()
	recs := []store.AuditRecord{}
	for rows.Next() {
		var (
			r  store.AuditRecord
			at int64
		)
		if err := rows.Scan(&at, &r.Actor, &r.Action, &r.Serial, &r.RequestID,
			&r.Detail); err != nil {
			return nil, fmt.Errorf("store/sqlite: reading audit: %w", err)
		}
		r.At = stored.FromMicros(at)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/sqlite: reading audit: %w", err)
	}
	return recs, nil
}

// LastReminders returns, per decimal serial, the last reminder day of each
// certificate with reminders whose notAfter is in [notAfterFrom, notAfterTo).
// A zero notAfterTo leaves the range open above.
func (s *Store) LastReminders(ctx context.Context, notAfterFrom, notAfterTo time.Time) (
	map[string]time.Time, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	query := `SELECT c.serial, MAX(r.day) FROM reminders r
		JOIN certificates c ON c.serial_key = r.serial_key
		WHERE c.not_after >= ?`
	args := []any{stored.UnixCeil(notAfterFrom)}
	if !notAfterTo.IsZero() {
		query += ` AND c.not_after < ?`
		args = append(args, stored.UnixCeil(notAfterTo))
	}
	query += ` GROUP BY c.serial_key, c.serial`
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: reading reminders: %w", err)
	}
	defer rows.Close()
	last := map[string]time.Time{}
	for rows.Next() {
		var (
			serial string
			day    int64
		)
		if err := rows.Scan(&serial, &day); err != nil {
			return nil, fmt.Errorf("store/sqlite: reading reminders: %w", err)
		}
		last[serial] = stored.FromUnix(day)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/sqlite: reading reminders: %w", err)
	}
	return last, nil
}

// RecordReminder notes r and records events in one transaction, unless a
// reminder for the same serial and UTC day exists.
func (s *Store) RecordReminder(ctx context.Context, r store.Reminded,
	events ...store.Outgoing) (bool, error) {
	if !s.gate.Enter() {
		return false, store.ErrClosed
	}
	defer s.gate.Leave()

	if err := r.Check(); err != nil {
		return false, err
	}
	if err := store.CheckEvents(events); err != nil {
		return false, err
	}
	serial, _ := new(big.Int).SetString(r.Serial, 10) // checked above
	fail := func(err error) (bool, error) {
		return false, fmt.Errorf("store/sqlite: recording reminder for %s: %w", r.Serial, err)
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO reminders (serial_key, day) VALUES (?, ?)
		ON CONFLICT DO NOTHING`, store.SerialKey(serial), stored.Unix(stored.UTCDay(r.Day)))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		return false, nil
	}
	if err := addEvents(ctx, tx.StmtContext(ctx, s.outboxInsert), events,
		time.Now()); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return true, nil
}

// AcquireLease takes the lease if it is free, expired or already holder's, in
// one statement under SQLite's write lock. The clock is this process's; every
// process sharing the file runs on the same machine and so the same clock.
func (s *Store) AcquireLease(ctx context.Context, name, holder string,
	ttl time.Duration) (bool, error) {
	if !s.gate.Enter() {
		return false, store.ErrClosed
	}
	defer s.gate.Leave()

	if err := store.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	now := time.Now()
	res, err := s.write.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_us)
		VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE
		SET holder = excluded.holder, expires_us = excluded.expires_us
		WHERE leases.holder = excluded.holder OR leases.expires_us <= ?`,
		name, holder, stored.Micros(now.Add(ttl)), stored.Micros(now))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("store/sqlite: acquiring lease %q: %w", name, err)
	}
	return n > 0, nil
}

// ReleaseLease deletes the lease if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	_, err := s.write.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`,
		name, holder)
	if err != nil {
		return fmt.Errorf("store/sqlite: releasing lease %q: %w", name, err)
	}
	return nil
}
