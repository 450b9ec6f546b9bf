package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// NextCRL reserves the next CRL number for issuer, 1 for its first CRL, and
// records thisUpdate and nextUpdate with it. The previous record is read and
// the new one written in one transaction that holds SQLite's write lock from
// its start, so no other handle or process can take the same number.
func (s *Store) NextCRL(ctx context.Context, issuer string, thisUpdate, nextUpdate time.Time) (
	next, prev *store.CRLRecord, err error) {
	if !s.gate.Enter() {
		return nil, nil, store.ErrClosed
	}
	defer s.gate.Leave()

	switch {
	case issuer == "":
		return nil, nil, errors.New("store/sqlite: next CRL: issuer is empty")
	case thisUpdate.IsZero():
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: thisUpdate is zero", issuer)
	case stored.Unix(nextUpdate) <= stored.Unix(thisUpdate):
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: nextUpdate %s is not "+
			"after thisUpdate %s", issuer, nextUpdate.UTC().Format(time.RFC3339),
			thisUpdate.UTC().Format(time.RFC3339))
	}

	tx, err := s.write.BeginTx(ctx, nil) // IMMEDIATE: see dataSource
	if err != nil {
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: %w", issuer, err)
	}
	defer tx.Rollback()

	prev, err = lastCRL(ctx, tx, issuer)
	number := big.NewInt(1)
	switch {
	case err == nil:
		number.Add(prev.Number, number)
	case errors.Is(err, sql.ErrNoRows):
		prev = nil
	default:
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: %w", issuer, err)
	}
	key, err := stored.NumberKey("CRL number", number)
	if err != nil {
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: %w", issuer, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO crls (issuer, number, this_update, next_update)
		VALUES (?, ?, ?, ?)`, issuer, key, stored.Unix(thisUpdate), stored.Unix(nextUpdate))
	if err != nil {
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: %w", issuer, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("store/sqlite: next CRL of %s: %w", issuer, err)
	}

	next = &store.CRLRecord{
		Issuer:     issuer,
		Number:     number,
		ThisUpdate: stored.FromUnix(stored.Unix(thisUpdate)),
		NextUpdate: stored.FromUnix(stored.Unix(nextUpdate)),
	}
	return next, prev, nil
}

// LastCRL returns the record of the last CRL reserved for issuer, or an error
// wrapping store.ErrNotFound if it has none.
func (s *Store) LastCRL(ctx context.Context, issuer string) (*store.CRLRecord, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	r, err := lastCRL(ctx, s.read, issuer)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store/sqlite: last CRL of %s: %w", issuer, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: last CRL of %s: %w", issuer, err)
	}
	return r, nil
}

// queryRower is a *sql.DB or *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lastCRL reads the highest-numbered CRL record of issuer, or sql.ErrNoRows.
func lastCRL(ctx context.Context, q queryRower, issuer string) (*store.CRLRecord, error) {
	var (
		key                    string
		thisUpdate, nextUpdate int64
	)
	err := q.QueryRowContext(ctx, `SELECT number, this_update, next_update FROM crls
		WHERE issuer = ? ORDER BY number DESC LIMIT 1`, issuer).
		Scan(&key, &thisUpdate, &nextUpdate)
	if err != nil {
		return nil, err
	}
	number, err := store.ParseSerialKey(key)
	if err != nil {
		return nil, err
	}
	return &store.CRLRecord{
		Issuer:     issuer,
		Number:     number,
		ThisUpdate: stored.FromUnix(thisUpdate),
		NextUpdate: stored.FromUnix(nextUpdate),
	}, nil
}

// PutCA records ca unless a CA with its slug exists, and returns the stored
// record either way. A zero CreatedAt is recorded as now.
func (s *Store) PutCA(ctx context.Context, ca *store.CA) (*store.CA, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	if err := ca.Check(); err != nil {
		return nil, err
	}
	created := ca.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: recording CA %s: %w", ca.Slug, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO cas
		(slug, role, parent, serial, key_ref, der, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (slug) DO NOTHING`,
		ca.Slug, ca.Role, ca.Parent, ca.Serial.String(), ca.KeyRef, ca.DER,
		stored.Unix(created))
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: recording CA %s: %w", ca.Slug, err)
	}
	got, err := readCA(ctx, tx, ca.Slug)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: recording CA %s: %w", ca.Slug, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store/sqlite: recording CA %s: %w", ca.Slug, err)
	}
	return got, nil
}

// CA returns the CA with this slug, or an error wrapping store.ErrNotFound.
func (s *Store) CA(ctx context.Context, slug string) (*store.CA, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	ca, err := readCA(ctx, s.read, slug)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store/sqlite: CA %q: %w", slug, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: reading CA %q: %w", slug, err)
	}
	return ca, nil
}

// readCA reads the CA with this slug, or sql.ErrNoRows.
func readCA(ctx context.Context, q queryRower, slug string) (*store.CA, error) {
	var (
		ca        store.CA
		serial    string
		createdAt int64
	)
	err := q.QueryRowContext(ctx, `SELECT slug, role, parent, serial, key_ref, der, created_at
		FROM cas WHERE slug = ?`, slug).
		Scan(&ca.Slug, &ca.Role, &ca.Parent, &serial, &ca.KeyRef, &ca.DER, &createdAt)
	if err != nil {
		return nil, err
	}
	var ok bool
	if ca.Serial, ok = new(big.Int).SetString(serial, 10); !ok {
		return nil, fmt.Errorf("CA %q: stored serial %q is not a decimal number", slug, serial)
	}
	ca.CreatedAt = stored.FromUnix(createdAt)
	return &ca, nil
}
