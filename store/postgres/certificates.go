package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// insertCertificateSQL records one certificate; a duplicate serial affects no
// row rather than failing, so that it fails only its own caller.
const insertCertificateSQL = `INSERT INTO certificates (
	serial_key, serial, issuer, subject, common_name, key_hash,
	not_before, not_after, der, source,
	notify_issued, notify_expiry, created_at, revoked_at, reason
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT DO NOTHING`

// certificateArgs checks c and returns the arguments of insertCertificateSQL.
// A zero CreatedAt is recorded as now.
func certificateArgs(c *store.Certificate, now time.Time) ([]any, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	created := c.CreatedAt
	if created.IsZero() {
		created = now
	}
	var revokedAt, reason *int64 // NULL unless revoked
	if c.RevokedAt != nil {
		at, r := stored.Unix(*c.RevokedAt), int64(c.Reason)
		revokedAt, reason = &at, &r
	}
	return []any{
		store.SerialKey(c.Serial), c.Serial.String(), c.Issuer, c.Subject, c.CommonName,
		c.KeyHash[:], stored.Unix(c.NotBefore), stored.Unix(c.NotAfter), c.DER, string(c.Source),
		c.NotifyIssued, c.NotifyExpiry, stored.Unix(created), revokedAt, reason,
	}, nil
}

// certificateColumns are the columns scanCertificate reads, in its order.
const certificateColumns = `serial_key, issuer, subject, common_name, key_hash,
	not_before, not_after, der, source, notify_issued, notify_expiry,
	created_at, revoked_at, reason`

// scanCertificate reads the certificateColumns of one row.
func scanCertificate(row pgx.Row) (*store.Certificate, error) {
	var (
		key, source                    string
		keyHash                        []byte
		notBefore, notAfter, createdAt int64
		revokedAt, reason              *int64
		c                              store.Certificate
	)
	err := row.Scan(&key, &c.Issuer, &c.Subject, &c.CommonName, &keyHash,
		&notBefore, &notAfter, &c.DER, &source, &c.NotifyIssued, &c.NotifyExpiry,
		&createdAt, &revokedAt, &reason)
	if err != nil {
		return nil, err
	}
	if c.Serial, err = store.ParseSerialKey(key); err != nil {
		return nil, err
	}
	if len(keyHash) != len(c.KeyHash) {
		return nil, fmt.Errorf("certificate %s: stored key_hash has %d bytes, want %d",
			c.Serial, len(keyHash), len(c.KeyHash))
	}
	copy(c.KeyHash[:], keyHash)
	c.NotBefore, c.NotAfter = stored.FromUnix(notBefore), stored.FromUnix(notAfter)
	c.Source = store.Source(source)
	c.CreatedAt = stored.FromUnix(createdAt)
	if revokedAt != nil && reason != nil {
		at := stored.FromUnix(*revokedAt)
		c.RevokedAt = &at
		c.Reason = store.Reason(*reason)
	}
	return &c, nil
}

// Certificate returns the certificate with this serial, or an error wrapping
// store.ErrNotFound.
func (s *Store) Certificate(ctx context.Context, serial *big.Int) (*store.Certificate, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	key, err := stored.NumberKey("serial", serial)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: certificate: %w: %w", err, store.ErrNotFound)
	}
	c, err := scanCertificate(s.pool.QueryRow(ctx,
		`SELECT `+certificateColumns+` FROM certificates WHERE serial_key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store/postgres: certificate %s: %w", serial, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading certificate %s: %w", serial, err)
	}
	return c, nil
}

// CertificatesByKey returns the certificates whose SubjectPublicKeyInfo hashes
// to keyHash, oldest first: by CreatedAt, then by serial.
func (s *Store) CertificatesByKey(ctx context.Context, keyHash [32]byte) (
	[]*store.Certificate, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	certs, err := s.query(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE key_hash = $1 ORDER BY created_at, serial_key`, keyHash[:])
	if err != nil {
		return nil, fmt.Errorf("store/postgres: certificates by key %x: %w", keyHash, err)
	}
	return certs, nil
}

// List returns the certificates matching f in serial order. A certificate is
// valid through its notAfter second (RFC 5280 section 4.1.2.5).
func (s *Store) List(ctx context.Context, f store.Filter) ([]*store.Certificate, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	query, args, err := listQuery(f, time.Now())
	if err != nil {
		return nil, err
	}
	certs, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: listing certificates: %w", err)
	}
	return certs, nil
}

// listQuery translates f into SQL. now stands in for a zero f.Now.
func listQuery(f store.Filter, now time.Time) (string, []any, error) {
	if f.Limit < 0 {
		return "", nil, fmt.Errorf("store/postgres: filter limit %d is negative", f.Limit)
	}
	if !f.Now.IsZero() {
		now = f.Now
	}

	var (
		where []string
		args  []any
	)
	add := func(cond string, arg ...any) {
		// Each condition has at most one parameter, written $?.
		if len(arg) > 0 {
			args = append(args, arg...)
			cond = strings.Replace(cond, "$?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if f.Issuer != "" {
		add("issuer = $?", f.Issuer)
	}
	if f.CommonName != "" {
		add("common_name = $?", f.CommonName)
	}
	switch f.Status {
	case store.StatusAny:
	case store.StatusValid:
		add("revoked_at IS NULL AND not_after >= $?", stored.UnixCeil(now))
	case store.StatusExpired:
		add("revoked_at IS NULL AND not_after < $?", stored.UnixCeil(now))
	case store.StatusRevoked:
		add("revoked_at IS NOT NULL")
	default:
		return "", nil, fmt.Errorf("store/postgres: filter status %q is not one of "+
			"valid, revoked, expired", f.Status)
	}
	if !f.ExpiringBefore.IsZero() {
		add("not_after < $?", stored.UnixCeil(f.ExpiringBefore))
	}
	if f.After != "" {
		add("serial_key > $?", f.After)
	}

	var b strings.Builder
	b.WriteString("SELECT " + certificateColumns + " FROM certificates")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY serial_key")
	if f.Limit > 0 {
		args = append(args, f.Limit)
		b.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	}
	return b.String(), args, nil
}

// query runs a SELECT of certificateColumns.
func (s *Store) query(ctx context.Context, query string, args ...any) (
	[]*store.Certificate, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	certs := []*store.Certificate{}
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, rows.Err()
}

// Revoke marks the certificate with this serial revoked at the second of at,
// records events and bumps the revision in one transaction. If it is already
// revoked nothing changes, changed is false and no event is recorded. Of
// concurrent callers, in any replica, the first to lock the row wins; the
// others wait for it and then find the certificate revoked.
func (s *Store) Revoke(ctx context.Context, serial *big.Int, at time.Time,
	reason store.Reason, events ...store.Outgoing) (
	c *store.Certificate, changed bool, err error) {
	if !s.gate.Enter() {
		return nil, false, store.ErrClosed
	}
	defer s.gate.Leave()

	key, err := stored.NumberKey("serial", serial)
	if err != nil {
		return nil, false, fmt.Errorf("store/postgres: revoking: %w: %w", err, store.ErrNotFound)
	}
	switch {
	case at.IsZero():
		return nil, false, fmt.Errorf("store/postgres: revoking %s: revocation time is zero",
			serial)
	case !reason.Accepted():
		return nil, false, fmt.Errorf("store/postgres: revoking %s: reason %s is not accepted",
			serial, reason)
	}
	if err := store.CheckEvents(events); err != nil {
		return nil, false, err
	}

	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE certificates SET revoked_at = $1, reason = $2
			WHERE serial_key = $3 AND revoked_at IS NULL`, stored.Unix(at), int64(reason), key)
		if err != nil {
			return err
		}
		c, err = scanCertificate(tx.QueryRow(ctx,
			`SELECT `+certificateColumns+` FROM certificates WHERE serial_key = $1`, key))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if changed = tag.RowsAffected() > 0; !changed {
			return nil // already revoked: commits nothing
		}
		b := &pgx.Batch{}
		queueEvents(b, events, time.Now())
		b.Queue(bumpRevisionSQL, []string{key})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, false, fmt.Errorf("store/postgres: revoking %s: %w", serial, err)
	}
	return c, changed, nil
}

// RevokedEntries calls fn for each revoked certificate of issuer whose notAfter
// is at or after notAfterFrom, in serial order. Rows stream from one query, so
// the set is a consistent snapshot and memory use does not grow with it. An
// error from fn stops the walk and is returned as it is.
func (s *Store) RevokedEntries(ctx context.Context, issuer string, notAfterFrom time.Time,
	fn func(store.RevokedEntry) error) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	rows, err := s.pool.Query(ctx, `SELECT serial_key, revoked_at, reason, not_after
		FROM certificates
		WHERE issuer = $1 AND revoked_at IS NOT NULL AND not_after >= $2
		ORDER BY serial_key`, issuer, stored.UnixCeil(notAfterFrom))
	if err != nil {
		return fmt.Errorf("store/postgres: revoked certificates of %s: %w", issuer, err)
	}
	defer rows.Close()

	var (
		key                         string
		revokedAt, reason, notAfter int64
	)
	for rows.Next() {
		if err := rows.Scan(&key, &revokedAt, &reason, &notAfter); err != nil {
			return fmt.Errorf("store/postgres: revoked certificates of %s: %w", issuer, err)
		}
		serial, err := store.ParseSerialKey(key)
		if err != nil {
			return fmt.Errorf("store/postgres: revoked certificates of %s: %w", issuer, err)
		}
		err = fn(store.RevokedEntry{
			Serial:    serial,
			RevokedAt: stored.FromUnix(revokedAt),
			Reason:    store.Reason(reason),
			NotAfter:  stored.FromUnix(notAfter),
		})
		if err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store/postgres: revoked certificates of %s: %w", issuer, err)
	}
	return nil
}

// RevokedSince calls fn for each certificate of issuer revoked at a revision
// above afterRevision, in revision order, and returns the revision the read is
// consistent with. The revision and the rows are read in one REPEATABLE READ
// transaction, one snapshot: revisions are handed out in commit order (see
// bumpRevisionSQL), so every revocation at or below the revision read is in
// the snapshot and every later one gets a higher revision.
func (s *Store) RevokedSince(ctx context.Context, issuer string, afterRevision int64,
	fn func(store.RevokedEntry, int64) error) (int64, error) {
	if !s.gate.Enter() {
		return 0, store.ErrClosed
	}
	defer s.gate.Leave()

	var upTo int64
	var fnErr error
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{
		IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly,
	}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT value FROM revision WHERE id = 1`).Scan(&upTo)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT serial_key, revoked_at, reason, not_after,
				revoked_rev
			FROM certificates
			WHERE issuer = $1 AND revoked_at IS NOT NULL AND revoked_rev > $2
			ORDER BY revoked_rev, serial_key`, issuer, afterRevision)
		if err != nil {
			return err
		}
		defer rows.Close()

		var (
			key                              string
			revokedAt, reason, notAfter, rev int64
		)
		for rows.Next() {
			if err := rows.Scan(&key, &revokedAt, &reason, &notAfter, &rev); err != nil {
				return err
			}
			serial, err := store.ParseSerialKey(key)
			if err != nil {
				return err
			}
			fnErr = fn(store.RevokedEntry{
				Serial:    serial,
				RevokedAt: stored.FromUnix(revokedAt),
				Reason:    store.Reason(reason),
				NotAfter:  stored.FromUnix(notAfter),
			}, rev)
			if fnErr != nil {
				return fnErr
			}
		}
		return rows.Err()
	})
	switch {
	case fnErr != nil:
		return 0, fnErr
	case err != nil:
		return 0, fmt.Errorf("store/postgres: revocations of %s since revision %d: %w",
			issuer, afterRevision, err)
	}
	return upTo, nil
}
