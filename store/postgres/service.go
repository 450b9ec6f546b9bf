package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// bumpRevisionSQL grows the revision and stamps the new value on the
// certificates revoked by the transaction (serial keys in $1) as their
// revoked_rev. Every revoking transaction runs it after its changes, so it
// also orders them: the row lock on revision is held until each commits, so
// revisions are handed out in commit order, which RevokedSince relies on.
const bumpRevisionSQL = `WITH r AS (
	UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value)
UPDATE certificates SET revoked_rev = r.value FROM r WHERE serial_key = ANY($1)`

// Revision returns the number of revoking transactions so far: one
// primary-key read.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if !s.gate.Enter() {
		return 0, store.ErrClosed
	}
	defer s.gate.Leave()

	var rev int64
	err := s.pool.QueryRow(ctx, `SELECT value FROM revision WHERE id = 1`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("store/postgres: reading the revision: %w", err)
	}
	return rev, nil
}

// insertOutboxSQL records one delivery, due when its event happened; a second
// insert of the same event for the same notifier changes nothing.
const insertOutboxSQL = `INSERT INTO outbox
	(event_id, notifier, subject, at_us, body, due_us, created_us)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (event_id, notifier) DO NOTHING`

// queueEvents queues one insert per event and notifier on b and returns how
// many. The events must have passed store.CheckEvents.
func queueEvents(b *pgx.Batch, events []store.Outgoing, now time.Time) int {
	n := 0
	for _, o := range events {
		e := o.Event
		for _, name := range o.Notifiers {
			b.Queue(insertOutboxSQL, e.ID, name, e.Subject, stored.Micros(e.At), string(e.Body),
				stored.Micros(e.At), stored.Micros(now))
			n++
		}
	}
	return n
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
	b := &pgx.Batch{}
	if queueEvents(b, events, time.Now()) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("store/postgres: adding event %s: %w", e.ID, err)
	}
	return nil
}

// Claim implements notify.Outbox. One statement picks the due deliveries
// with FOR UPDATE SKIP LOCKED and moves their due time to now+lease: a
// concurrent claimer skips the rows this one has locked, and finds them not
// due once it commits.
func (s *Store) Claim(ctx context.Context, now time.Time, limit int,
	lease time.Duration) ([]notify.Delivery, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	switch {
	case limit <= 0:
		return nil, fmt.Errorf("store/postgres: claim limit %d must be positive", limit)
	case lease <= 0:
		return nil, fmt.Errorf("store/postgres: claim lease %s must be positive", lease)
	}
	rows, err := s.pool.Query(ctx, `WITH picked AS (
			SELECT id, due_us FROM outbox
			WHERE state = 'pending' AND due_us <= $1
			ORDER BY due_us, id LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox o SET due_us = $3 FROM picked WHERE o.id = picked.id
		RETURNING o.id, picked.due_us, o.event_id, o.notifier, o.subject, o.at_us, o.body,
			o.attempts, o.last_error`,
		stored.Micros(now), limit, stored.Micros(now.Add(lease)))
	if err != nil {
		return nil, fmt.Errorf("store/postgres: claiming deliveries: %w", err)
	}
	defer rows.Close()

	type claimed struct {
		d      notify.Delivery
		id, at int64
	}
	var cs []claimed
	for rows.Next() {
		var (
			c    claimed
			atUS int64
			body string
		)
		err := rows.Scan(&c.id, &c.at, &c.d.Event.ID, &c.d.Notifier, &c.d.Event.Subject,
			&atUS, &body, &c.d.Attempts, &c.d.LastError)
		if err != nil {
			return nil, fmt.Errorf("store/postgres: claiming deliveries: %w", err)
		}
		c.d.ID = strconv.FormatInt(c.id, 10)
		c.d.Event.At = stored.FromMicros(atUS)
		c.d.Event.Body = json.RawMessage(body)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/postgres: claiming deliveries: %w", err)
	}

	// RETURNING keeps no order: put the longest-due first again.
	slices.SortFunc(cs, func(a, b claimed) int {
		if a.at != b.at {
			return cmpInt(a.at, b.at)
		}
		return cmpInt(a.id, b.id)
	})
	ds := make([]notify.Delivery, len(cs))
	for i, c := range cs {
		ds[i] = c.d
	}
	return ds, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Done implements notify.Outbox.
func (s *Store) Done(ctx context.Context, id string) error {
	return s.settle(ctx, "done", id, `state = 'done', finished_us = $1`,
		stored.Micros(time.Now()))
}

// Retry implements notify.Outbox.
func (s *Store) Retry(ctx context.Context, id string, next time.Time, lastErr string) error {
	return s.settle(ctx, "retry", id,
		`attempts = attempts + 1, last_error = $1, due_us = $2`, lastErr, stored.Micros(next))
}

// GiveUp implements notify.Outbox.
func (s *Store) GiveUp(ctx context.Context, id string, lastErr string) error {
	return s.settle(ctx, "give up", id,
		`state = 'given_up', attempts = attempts + 1, last_error = $1, finished_us = $2`,
		lastErr, stored.Micros(time.Now()))
}

// settle applies set, whose parameters are args, to the pending delivery id.
// A delivery already done or given up is left alone without an error; an id
// never handed out is notify.ErrUnknownDelivery.
func (s *Store) settle(ctx context.Context, op, id, set string, args ...any) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("store/postgres: %s delivery %q: %w", op, id,
			notify.ErrUnknownDelivery)
	}
	var exists, changed bool
	err = s.pool.QueryRow(ctx, `WITH u AS (UPDATE outbox SET `+set+`
			WHERE id = $`+strconv.Itoa(len(args)+1)+` AND state = 'pending' RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM outbox WHERE id = $`+strconv.Itoa(len(args)+1)+`),
			EXISTS (SELECT 1 FROM u)`, append(args, n)...).Scan(&exists, &changed)
	if err != nil {
		return fmt.Errorf("store/postgres: %s delivery %s: %w", op, id, err)
	}
	if !exists && !changed {
		return fmt.Errorf("store/postgres: %s delivery %s: %w", op, id,
			notify.ErrUnknownDelivery)
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
	var revoked *int64
	if t.RevokedAt != nil {
		at := stored.Unix(*t.RevokedAt)
		revoked = &at
	}
	nonNil := func(p []string) []string {
		if p == nil {
			return []string{}
		}
		return p
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		t.ID, t.Name, string(t.Role), t.Hash[:], nonNil(t.AllowCN), nonNil(t.AllowSAN),
		t.MaxLifetimeDays, stored.Unix(created), revoked)
	if err != nil {
		return fmt.Errorf("store/postgres: creating token %q: %w", t.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store/postgres: creating token %q: %w", t.Name,
			store.ErrDuplicateToken)
	}
	return nil
}

// scanToken reads the tokenColumns of one row.
func scanToken(row pgx.Row) (*store.Token, error) {
	var (
		t        store.Token
		role     string
		hash     []byte
		created  int64
		revoked  *int64
		lifetime int32
	)
	err := row.Scan(&t.ID, &t.Name, &role, &hash, &t.AllowCN, &t.AllowSAN, &lifetime,
		&created, &revoked)
	if err != nil {
		return nil, err
	}
	if len(hash) != len(t.Hash) {
		return nil, fmt.Errorf("token %q: stored hash has %d bytes, want %d",
			t.Name, len(hash), len(t.Hash))
	}
	copy(t.Hash[:], hash)
	t.Role = store.Role(role)
	t.MaxLifetimeDays = int(lifetime)
	t.CreatedAt = stored.FromUnix(created)
	if revoked != nil {
		at := stored.FromUnix(*revoked)
		t.RevokedAt = &at
	}
	return &t, nil
}

// TokenByHash returns the token whose secret hashes to h, revoked or not, or
// an error wrapping store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, h [32]byte) (*store.Token, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	t, err := scanToken(s.pool.QueryRow(ctx,
		`SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, h[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store/postgres: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading token: %w", err)
	}
	return t, nil
}

// Tokens returns every token, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]*store.Token, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	rows, err := s.pool.Query(ctx,
		`SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: listing tokens: %w", err)
	}
	defer rows.Close()
	tokens := []*store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store/postgres: listing tokens: %w", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/postgres: listing tokens: %w", err)
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
		return fmt.Errorf("store/postgres: revoking token %q: revocation time is zero",
			idOrName)
	}
	for _, col := range []string{"id", "name"} {
		var exists, changed bool
		err := s.pool.QueryRow(ctx, `WITH u AS (UPDATE tokens SET revoked_at = $1
				WHERE `+col+` = $2 AND revoked_at IS NULL RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM tokens WHERE `+col+` = $2), EXISTS (SELECT 1 FROM u)`,
			stored.Unix(at), idOrName).Scan(&exists, &changed)
		if err != nil {
			return fmt.Errorf("store/postgres: revoking token %q: %w", idOrName, err)
		}
		if exists || changed {
			return nil
		}
	}
	return fmt.Errorf("store/postgres: token %q: %w", idOrName, store.ErrNotFound)
}

// insertAuditSQL records one audit record; the arguments come from
// AppendAudit.
const insertAuditSQL = `INSERT INTO audit (at_us, actor, action, serial, request_id, detail)
	VALUES ($1, $2, $3, $4, $5, $6)`

// AppendAudit records recs, all in one transaction, through the group-commit
// writers, and returns once they are committed.
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
		return nil, fmt.Errorf("store/postgres: audit limit %d is negative", limit)
	}
	query := `SELECT at_us, actor, action, serial, request_id, detail FROM audit
		WHERE at_us >= $1 ORDER BY at_us, seq`
	args := []any{stored.MicrosCeil(since)}
	if limit > 0 {
		query += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading audit: %w", err)
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
			return nil, fmt.Errorf("store/postgres: reading audit: %w", err)
		}
		r.At = stored.FromMicros(at)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/postgres: reading audit: %w", err)
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
		WHERE c.not_after >= $1`
	args := []any{stored.UnixCeil(notAfterFrom)}
	if !notAfterTo.IsZero() {
		query += ` AND c.not_after < $2`
		args = append(args, stored.UnixCeil(notAfterTo))
	}
	query += ` GROUP BY c.serial_key, c.serial`
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading reminders: %w", err)
	}
	defer rows.Close()
	last := map[string]time.Time{}
	for rows.Next() {
		var (
			serial string
			day    int64
		)
		if err := rows.Scan(&serial, &day); err != nil {
			return nil, fmt.Errorf("store/postgres: reading reminders: %w", err)
		}
		last[serial] = stored.FromUnix(day)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store/postgres: reading reminders: %w", err)
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

	var recorded bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO reminders (serial_key, day) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, store.SerialKey(serial), stored.Unix(stored.UTCDay(r.Day)))
		if err != nil {
			return err
		}
		if recorded = tag.RowsAffected() > 0; !recorded {
			return nil
		}
		b := &pgx.Batch{}
		if queueEvents(b, events, time.Now()) == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return false, fmt.Errorf("store/postgres: recording reminder for %s: %w", r.Serial, err)
	}
	return recorded, nil
}

// AcquireLease takes the lease if it is free, expired or already holder's, in
// one upsert compared with the database server's clock.
func (s *Store) AcquireLease(ctx context.Context, name, holder string,
	ttl time.Duration) (bool, error) {
	if !s.gate.Enter() {
		return false, store.ErrClosed
	}
	defer s.gate.Leave()

	if err := store.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at)
		VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
		ON CONFLICT (name) DO UPDATE
		SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
		WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= clock_timestamp()`,
		name, holder, ttl.Seconds())
	if err != nil {
		return false, fmt.Errorf("store/postgres: acquiring lease %q: %w", name, err)
	}
	return tag.RowsAffected() > 0, nil
}

// ReleaseLease deletes the lease if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`,
		name, holder)
	if err != nil {
		return fmt.Errorf("store/postgres: releasing lease %q: %w", name, err)
	}
	return nil
}
