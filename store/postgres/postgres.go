// Package postgres is Anchor's store for several replicas: a store.Store kept
// in a PostgreSQL database that any number of `anchor serve` processes share.
// It uses github.com/jackc/pgx/v5 and its connection pool.
//
// # Model
//
// The schema follows store/sqlite: serial and CRL numbers keyed by
// store.SerialKey, times as BIGINT Unix seconds (microseconds for outbox,
// audit), partial indexes for revoked certificates and pending deliveries.
// The tables live in the first schema of the connection's search_path, so
// several Anchors, or tests, can share one database in schemas of their own.
//
// Certificates are recorded by writer goroutines that commit in groups, as
// in store/sqlite: every InsertCertificate that arrives while a commit is
// running joins the next transaction, sent to the server as one pipeline.
//
// # Promises
//
//   - Durability: a certificate is committed when InsertCertificate returns
//     nil; the server's synchronous_commit setting decides what committed
//     means, and Anchor expects the default (on).
//   - A duplicate serial fails only the call that brought it, with
//     store.ErrDuplicateSerial, whichever replica inserted the first.
//   - CRL numbers come from a counter row per issuer, incremented by an
//     INSERT ... ON CONFLICT DO UPDATE that holds the row lock until the CRL
//     record commits, so they strictly increase across replicas.
//   - Claim takes deliveries with FOR UPDATE SKIP LOCKED: concurrent
//     claimers, in any replica, skip each other's rows rather than wait.
//   - Leases are rows compared with the database server's clock (now()), so
//     replicas whose clocks disagree still agree on who holds a lease.
//   - Open applies missing schema migrations while holding an advisory lock,
//     so replicas starting together apply each migration once, and refuses a
//     database migrated by a newer Anchor with an error wrapping
//     ErrSchemaTooNew.
//   - Close commits the certificates already queued, waits for calls in
//     progress and then refuses further calls with store.ErrClosed.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/groupcommit"
)

// maxBatch caps how many certificates one group commit carries.
const maxBatch = 1024

// writers is how many group commits may be in flight at once. PostgreSQL
// runs them side by side, so while one waits for its WAL flush the next
// group is already being sent.
const writers = 4

// Store is a store.Store kept in PostgreSQL. It is safe for concurrent use;
// create it with Open and release it with Close.
type Store struct {
	pool *pgxpool.Pool

	gate  groupcommit.Gate // every call enters; Close shuts it
	group *groupcommit.Queue[*insertRequest]
	added atomic.Uint64 // certificates recorded since Open
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn, a PostgreSQL URL or keyword/
// value string as libpq accepts (e.g. "postgres://anchor@db/anchor" with
// "?search_path=anchor" to use a schema of its own), and brings the schema up
// to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's error may quote the DSN, password included.
		return nil, errors.New("store/postgres: the data source name does not parse")
	}
	cfg.MaxConns = max(cfg.MaxConns, int32(writers+2*runtime.GOMAXPROCS(0)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: connecting: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store/postgres: %w", err)
	}

	s := &Store{pool: pool}
	s.group = groupcommit.Start(&s.gate, writers, maxBatch, s.insertAll)
	return s, nil
}

// Close commits the certificates already queued, waits for calls in progress
// and closes the pool. Calls made after Close return store.ErrClosed; Close
// itself may be called again and then returns nil.
func (s *Store) Close() error {
	if !s.group.Close() {
		return nil
	}
	s.pool.Close()
	return nil
}

// Stats counts the work of the group-commit writers.
type Stats struct {
	Commits      uint64 // group-commit transactions since Open
	Certificates uint64 // certificates recorded since Open
}

// Stats returns the group-commit counters. Certificates divided by Commits is
// the mean group size.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.group.Stats().Commits, Certificates: s.added.Load()}
}
