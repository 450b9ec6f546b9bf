package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// Certificate returns the certificate with this serial, or an error wrapping
// store.ErrNotFound. A serial no certificate can have (nil, not positive,
// longer than 159 bits) is not found either.
func (s *Store) Certificate(ctx context.Context, serial *big.Int) (*store.Certificate, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	key, err := stored.NumberKey("serial", serial)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: certificate: %w: %w", err, store.ErrNotFound)
	}
	c, err := scanCertificate(s.bySerial.QueryRowContext(ctx, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store/sqlite: certificate %s: %w", serial, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: reading certificate %s: %w", serial, err)
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

	rows, err := s.byKey.QueryContext(ctx, keyHash[:])
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: certificates by key %x: %w", keyHash, err)
	}
	certs, err := scanCertificates(rows)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: certificates by key %x: %w", keyHash, err)
	}
	return certs, nil
}

// List returns the certificates matching f in serial order. Status and
// ExpiringBefore compare notAfter with f.Now as RFC 5280 section 4.1.2.5 does:
// a certificate is valid through its notAfter second, and expired once f.Now
// is past it.
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
		return nil, fmt.Errorf("store/sqlite: listing certificates: %w", err)
	}
	return certs, nil
}

// listQuery translates f into SQL. now stands in for a zero f.Now.
func listQuery(f store.Filter, now time.Time) (string, []any, error) {
	if f.Limit < 0 {
		return "", nil, fmt.Errorf("store/sqlite: filter limit %d is negative", f.Limit)
	}
	if !f.Now.IsZero() {
		now = f.Now
	}

	var where []string
	var args []any
	add := func(cond string, arg ...any) {
		where = append(where, cond)
		args = append(args, arg...)
	}
	if f.Issuer != "" {
		add("issuer = ?", f.Issuer)
	}
	if f.CommonName != "" {
		add("common_name = ?", f.CommonName)
	}
	switch f.Status {
	case store.StatusAny:
	case store.StatusValid:
		add("revoked_at IS NULL AND not_after >= ?", stored.UnixCeil(now))
	case store.StatusExpired:
		add("revoked_at IS NULL AND not_after < ?", stored.UnixCeil(now))
	case store.StatusRevoked:
		add("revoked_at IS NOT NULL")
	default:
		return "", nil, fmt.Errorf("store/sqlite: filter status %q is not one of "+
			"valid, revoked, expired", f.Status)
	}
	if !f.ExpiringBefore.IsZero() {
		add("not_after < ?", stored.UnixCeil(f.ExpiringBefore))
	}
	if f.After != "" {
		add("serial_key > ?", f.After)
	}

	var b strings.Builder
	b.WriteString("SELECT " + certificateColumns + " FROM certificates")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY serial_key")
	if f.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	return b.String(), args, nil
}

// query runs a SELECT of certificateColumns on a read connection.
func (s *Store) query(ctx context.Context, query string, args ...any) (
	[]*store.Certificate, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanCertificates(rows)
}

// The lookups prepared once by Open.
const (
	certificateBySerialSQL = `SELECT ` + certificateColumns +
		` FROM certificates WHERE serial_key = ?`
	certificatesByKeySQL = `SELECT ` + certificateColumns +
		` FROM certificates WHERE key_hash = ? ORDER BY created_at, serial_key`
)

// scanCertificates reads and closes rows.
func scanCertificates(rows *sql.Rows) ([]*store.Certificate, error) {
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
// for reason, records events in the outbox and bumps the revision, all in one
// transaction. If the certificate is already revoked, nothing changes: the
// original time and reason stay, changed is false and no event is recorded.
func (s *Store) Revoke(ctx context.Context, serial *big.Int, at time.Time,
	reason store.Reason, events ...store.Outgoing) (
	c *store.Certificate, changed bool, err error) {
	if !s.gate.Enter() {
		return nil, false, store.ErrClosed
	}
	defer s.gate.Leave()

	key, err := stored.NumberKey("serial", serial)
	if err != nil {
		return nil, false, fmt.Errorf("store/sqlite: revoking: %w: %w", err, store.ErrNotFound)
	}
	switch {
	case at.IsZero():
		return nil, false, fmt.Errorf("store/sqlite: revoking %s: revocation time is zero",
			serial)
	case !reason.Accepted():
		return nil, false, fmt.Errorf("store/sqlite: revoking %s: reason %s is not accepted",
			serial, reason)
	}
	if err := store.CheckEvents(events); err != nil {
		return nil, false, err
	}

	c, changed, err = s.revoke(ctx, key, at, reason, events)
	if err != nil {
		return nil, false, fmt.Errorf("store/sqlite: revoking %s: %w", serial, err)
	}
	return c, changed, nil
}

// revoke runs the transaction of Revoke.
func (s *Store) revoke(ctx context.Context, key string, at time.Time,
	reason store.Reason, events []store.Outgoing) (*store.Certificate, bool, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()

	// revoked_rev is the revision the bump below sets; the transaction holds
	// the write lock from its start, so no other writer moves it meanwhile.
	res, err := tx.ExecContext(ctx, `UPDATE certificates SET revoked_at = ?, reason = ?,
		revoked_rev = (SELECT value + 1 FROM revision WHERE id = 1)
		WHERE serial_key = ? AND revoked_at IS NULL`, stored.Unix(at), int64(reason), key)
	if err != nil {
		return nil, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, false, err
	}
	c, err := scanCertificate(tx.QueryRowContext(ctx,
		`SELECT `+certificateColumns+` FROM certificates WHERE serial_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, store.ErrNotFound
	}
	if err != nil {
		return nil, false, err
	}
	if n == 0 {
		return c, false, nil // already revoked; the rollback changes nothing
	}

	if err := addEvents(ctx, tx.StmtContext(ctx, s.outboxInsert), events,
		time.Now()); err != nil {
		return nil, false, err
	}
	if err := bumpRevision(ctx, tx); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, err
	}
	return c, true, nil
}

// revokedEntriesSQL reads what a CRL needs. Its conditions match the partial
// index certificates_revoked, which holds every column read here in this
// order, so SQLite walks that index alone and sorts nothing.
const revokedEntriesSQL = `SELECT serial_key, revoked_at, reason, not_after
	FROM certificates
	WHERE issuer = ? AND revoked_at IS NOT NULL AND not_after >= ?
	ORDER BY serial_key`

// RevokedEntries calls fn for each revoked certificate of issuer whose notAfter
// is at or after notAfterFrom, in serial order. Rows are read one at a time
// from one read transaction, so the set is a consistent snapshot and memory
// use does not grow with its size. An error from fn stops the walk and is
// returned as it is.
func (s *Store) RevokedEntries(ctx context.Context, issuer string, notAfterFrom time.Time,
	fn func(store.RevokedEntry) error) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Leave()

	rows, err := s.read.QueryContext(ctx, revokedEntriesSQL, issuer,
		stored.UnixCeil(notAfterFrom))
	if err != nil {
		return fmt.Errorf("store/sqlite: revoked certificates of %s: %w", issuer, err)
	}
	defer rows.Close()

	var (
		key                         string
		revokedAt, reason, notAfter int64
	)
	for rows.Next() {
		if err := rows.Scan(&key, &revokedAt, &reason, &notAfter); err != nil {
			return fmt.Errorf("store/sqlite: revoked certificates of %s: %w", issuer, err)
		}
		serial, err := store.ParseSerialKey(key)
		if err != nil {
			return fmt.Errorf("store/sqlite: revoked certificates of %s: %w", issuer, err)
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
		return fmt.Errorf("store/sqlite: revoked certificates of %s: %w", issuer, err)
	}
	return nil
}

// revokedSinceSQL reads the revocations of an issuer made after a revision.
// Its conditions match the partial index certificates_revoked_rev, which holds
// every column read here in this order.
const revokedSinceSQL = `SELECT serial_key, revoked_at, reason, not_after, revoked_rev
	FROM certificates
	WHERE issuer = ? AND revoked_at IS NOT NULL AND revoked_rev > ?
	ORDER BY revoked_rev, serial_key`

// RevokedSince calls fn for each certificate of issuer revoked at a revision
// above afterRevision, in revision order, and returns the revision the read is
// consistent with. The revision and the rows are read in one read
// transaction, which in WAL mode is one snapshot of the file: a revocation
// committed after it has a higher revision than the one returned.
func (s *Store) RevokedSince(ctx context.Context, issuer string, afterRevision int64,
	fn func(store.RevokedEntry, int64) error) (int64, error) {
	if !s.gate.Enter() {
		return 0, store.ErrClosed
	}
	defer s.gate.Leave()

	upTo, err := s.revokedSince(ctx, issuer, afterRevision, fn)
	var cb callbackError
	switch {
	case errors.As(err, &cb):
		return 0, cb.err
	case err != nil:
		return 0, fmt.Errorf("store/sqlite: revocations of %s since revision %d: %w",
			issuer, afterRevision, err)
	}
	return upTo, nil
}

// callbackError carries an error returned by a caller's function, which
// RevokedSince hands back as it is.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

func (s *Store) revokedSince(ctx context.Context, issuer string, after int64,
	fn func(store.RevokedEntry, int64) error) (int64, error) {
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	var upTo int64
	if err := tx.QueryRowContext(ctx,
		`SELECT value FROM revision WHERE id = 1`).Scan(&upTo); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, revokedSinceSQL, issuer, after)
	if err != nil {
		return 0, err
	}
	defer rows.Close()

	var (
		key                              string
		revokedAt, reason, notAfter, rev int64
	)
	for rows.Next() {
		if err := rows.Scan(&key, &revokedAt, &reason, &notAfter, &rev); err != nil {
			return 0, err
		}
		serial, err := store.ParseSerialKey(key)
		if err != nil {
			return 0, err
		}
		err = fn(store.RevokedEntry{
			Serial:    serial,
			RevokedAt: stored.FromUnix(revokedAt),
			Reason:    store.Reason(reason),
			NotAfter:  stored.FromUnix(notAfter),
		}, rev)
		if err != nil {
			return 0, callbackError{err}
		}
	}
	return upTo, rows.Err()
}
