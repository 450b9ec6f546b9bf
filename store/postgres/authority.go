package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// NextCRL reserves the next CRL number for issuer, 1 for its first CRL, and
// records thisUpdate and nextUpdate with it. The upsert of the issuer's
// counter row locks it until the transaction ends, so a concurrent caller in
// any replica waits, and then reads the record this one wrote as its prev.
func (s *Store) NextCRL(ctx context.Context, issuer string, thisUpdate, nextUpdate time.Time) (
	next, prev *store.CRLRecord, err error) {
	if !s.gate.Enter() {
		return nil, nil, store.ErrClosed
	}
	defer s.gate.Leave()

	switch {
	case issuer == "":
		return nil, nil, errors.New("store/postgres: next CRL: issuer is empty")
	case thisUpdate.IsZero():
		return nil, nil, fmt.Errorf("store/postgres: next CRL of %s: thisUpdate is zero", issuer)
	case stored.Unix(nextUpdate) <= stored.Unix(thisUpdate):
		return nil, nil, fmt.Errorf("store/postgres: next CRL of %s: nextUpdate %s is not "+
			"after thisUpdate %s", issuer, nextUpdate.UTC().Format(time.RFC3339),
			thisUpdate.UTC().Format(time.RFC3339))
	}

	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var text string
		err := tx.QueryRow(ctx, `INSERT INTO crl_counters (issuer, number) VALUES ($1, 1)
			ON CONFLICT (issuer) DO UPDATE SET number = crl_counters.number + 1
			RETURNING number::text`, issuer).Scan(&text)
		if err != nil {
			return err
		}
		number, ok := new(big.Int).SetString(text, 10)
		if !ok {
			return fmt.Errorf("stored CRL number %q is not a decimal number", text)
		}
		key, err := stored.NumberKey("CRL number", number)
		if err != nil {
			return err
		}

		prev, err = lastCRL(ctx, tx, issuer)
		if errors.Is(err, pgx.ErrNoRows) {
			prev, err = nil, nil
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO crls (issuer, number, this_update, next_update)
			VALUES ($1, $2, $3, $4)`, issuer, key, stored.Unix(thisUpdate), stored.Unix(nextUpdate))
		if err != nil {
			return err
		}
		next = &store.CRLRecord{
			Issuer:     issuer,
			Number:     number,
			ThisUpdate: stored.FromUnix(stored.Unix(thisUpdate)),
			NextUpdate: stored.FromUnix(stored.Unix(nextUpdate)),
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store/postgres: next CRL of %s: %w", issuer, err)
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

	r, err := lastCRL(ctx, s.pool, issuer)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store/postgres: last CRL of %s: %w", issuer, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/postgres: last CRL of %s: %w", issuer, err)
	}
	return r, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lastCRL reads the highest-numbered CRL record of issuer, or pgx.ErrNoRows.
func lastCRL(ctx context.Context, q querier, issuer string) (*store.CRLRecord, error) {
	var (
		key                    string
		thisUpdate, nextUpdate int64
	)
	err := q.QueryRow(ctx, `SELECT number, this_update, next_update FROM crls
		WHERE issuer = $1 ORDER BY number DESC LIMIT 1`, issuer).
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
	var got *store.CA
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO cas
			(slug, role, parent, serial, key_ref, der, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (slug) DO NOTHING`,
			ca.Slug, ca.Role, ca.Parent, ca.Serial.String(), ca.KeyRef, ca.DER,
			stored.Unix(created))
		if err != nil {
			return err
		}
		got, err = readCA(ctx, tx, ca.Slug)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store/postgres: recording CA %s: %w", ca.Slug, err)
	}
	return got, nil
}

// CA returns the CA with this slug, or an error wrapping store.ErrNotFound.
func (s *Store) CA(ctx context.Context, slug string) (*store.CA, error) {
	if !s.gate.Enter() {
		return nil, store.ErrClosed
	}
	defer s.gate.Leave()

	ca, err := readCA(ctx, s.pool, slug)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store/postgres: CA %q: %w", slug, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store/postgres: reading CA %q: %w", slug, err)
	}
	return ca, nil
}

// readCA reads the CA with this slug, or pgx.ErrNoRows.
func readCA(ctx context.Context, q querier, slug string) (*store.CA, error) {
	var (
		ca        store.CA
		serial    string
		createdAt int64
	)
	err := q.QueryRow(ctx, `SELECT slug, role, parent, serial, key_ref, der, created_at
		FROM cas WHERE slug = $1`, slug).
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
