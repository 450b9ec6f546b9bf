// Package sqlite is Anchor's embedded store: a store.Store kept in one SQLite
// file, with no server to run. It uses modernc.org/sqlite, a translation of
// SQLite to Go, so the binary needs no C compiler and no libsqlite3.
//
// # Model
//
// A Store holds two pools of connections to the same file. One write
// connection carries every change; a pool of read connections, set to
// query_only, answers lookups and listings. The file is in WAL mode, so readers
// never wait for the writer and always see the last committed state.
//
// Certificates are recorded by one writer goroutine that commits in groups:
// every InsertCertificate that arrives while a commit is running joins the
// next transaction, and the whole group is made durable by one disk sync. Under
// load this turns thousands of small transactions a second into a few hundred
// larger ones; an idle store commits a lone certificate at once.
//
// # Promises
//
//   - Durability: the database runs with synchronous=FULL, so a certificate is
//     on disk when InsertCertificate returns nil. A call whose context ends
//     while it waits returns the context's error; its certificate may or may
//     not have been recorded, and the caller must not hand it out.
//   - A duplicate serial fails only the call that brought it, with
//     store.ErrDuplicateSerial; the rest of its group commits.
//   - CRL numbers are reserved in one IMMEDIATE transaction that reads,
//     increments and writes the counter while holding SQLite's write lock, so
//     they strictly increase across Store handles and across processes that
//     share the file.
//   - Events passed to InsertCertificate, Revoke and RecordReminder are
//     written to the outbox in the transaction of the change, so they are
//     recorded exactly when the change is. Audit records go through the
//     group-commit writer too.
//   - Revision is a counter row bumped by every revoking transaction; reading
//     it is one lookup on a read connection.
//   - Claim, leases and token changes run under SQLite's write lock, so they
//     are exclusive across Store handles and processes. Lease expiry uses the
//     clock of the calling process: processes sharing a file share a machine.
//   - Close waits for calls in progress, commits every certificate already
//     queued, and then refuses further calls with store.ErrClosed.
//
// # Schema and encodings
//
// The schema is versioned (see schema.go). Open applies missing migrations, one
// transaction each, and refuses a database written by a newer Anchor with an
// error wrapping ErrSchemaTooNew.
//
// Serial numbers are keyed by store.SerialKey (40 hex digits, so text order is
// numeric order) and also kept in decimal for people reading the file with the
// sqlite3 shell. CRL numbers use the same 40-hex-digit form, which holds every
// number RFC 5280 section 5.2.3 allows (at most 20 octets). All times are
// INTEGER Unix seconds in UTC: certificates and CRLs carry whole seconds
// anyway, and seconds cover notAfter values up to 9999-12-31 that Unix
// nanoseconds in 64 bits cannot. Sub-second parts are dropped on the way in,
// and times come back in UTC.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/groupcommit"
)

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another connection or process before it fails with SQLITE_BUSY. Ten seconds
// is far longer than any transaction Anchor runs, so hitting it means another
// program holds the database.
const busyTimeoutMillis = 10000

// maxBatch caps how many certificates one group commit carries, so that a
// burst cannot make one transaction, and the wait of everyone in it, unbounded.
const maxBatch = 2048

// useFdatasync makes SQLite commit with fdatasync(2) rather than fsync(2), as
// SQLite does when built by Linux distributions. The data and the file size
// reach the disk either way; fdatasync skips the file's timestamps, which
// saves a journal write of the file system at every commit. The setting is
// process-wide, and only this package opens SQLite databases in Anchor.
var useFdatasync sync.Once

// Store is a store.Store kept in one SQLite file. It is safe for concurrent
// use; create it with Open and release it with Close.
type Store struct {
	write *sql.DB // exactly one connection; every change goes through it
	read  *sql.DB // query_only connections for lookups and listings

	// Prepared on the write connection for the group commit.
	insert, outboxInsert, auditInsert *sql.Stmt
	// Prepared for the lookups every issuance and API call makes; database/sql
	// keeps one prepared copy per read connection, so SQLite parses each once.
	bySerial, byKey, tokenByHash *sql.Stmt

	gate     groupcommit.Gate // every call enters; Close shuts it
	group    *groupcommit.Queue[*insertRequest]
	inserted atomic.Uint64 // certificates recorded since Open
}

var _ store.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file if it does not
// exist, and brings its schema up to date. The folder must exist. Several
// Stores, in one process or several, may open the same file.
func Open(path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store/sqlite: database path %q: want a file name", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: database path %q: %w", path, err)
	}
	ctx := context.Background()
	useFdatasync.Do(func() {
		// Where fdatasync does not exist (macOS, Windows) SQLite keeps
		// its own choice, so the error needs no handling.
		_, _ = sqlite.Fdatasync(true)
	})

	write, err := sql.Open("sqlite", dataSource(abs, true))
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: opening %s: %w", path, err)
	}
	// One write connection: writers in this process queue in database/sql
	// rather than in SQLite's busy handler, which polls with sleeps.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("store/sqlite: opening %s: %w", path, err)
	}
	var stmts [3]*sql.Stmt
	for i, q := range []string{insertCertificateSQL, insertOutboxSQL, insertAuditSQL} {
		if stmts[i], err = write.PrepareContext(ctx, q); err != nil {
			write.Close()
			return nil, fmt.Errorf("store/sqlite: opening %s: preparing inserts: %w",
				path, err)
		}
	}

	read, err := sql.Open("sqlite", dataSource(abs, false))
	if err == nil {
		n := max(4, 2*runtime.GOMAXPROCS(0))
		read.SetMaxOpenConns(n)
		read.SetMaxIdleConns(n)
		err = read.PingContext(ctx)
	}
	if err != nil {
		write.Close() // closes the statements too
		if read != nil {
			read.Close()
		}
		return nil, fmt.Errorf("store/sqlite: opening %s for reading: %w", path, err)
	}

	var lookups [3]*sql.Stmt
	for i, q := range []string{certificateBySerialSQL, certificatesByKeySQL, tokenByHashSQL} {
		if lookups[i], err = read.PrepareContext(ctx, q); err != nil {
			write.Close()
			read.Close()
			return nil, fmt.Errorf("store/sqlite: opening %s: preparing lookups: %w",
				path, err)
		}
	}

	s := &Store{
		write:        write,
		read:         read,
		insert:       stmts[0],
		outboxInsert: stmts[1],
		auditInsert:  stmts[2],
		bySerial:     lookups[0],
		byKey:        lookups[1],
		tokenByHash:  lookups[2],
	}
	// One writer: SQLite takes one write transaction at a time anyway.
	s.group = groupcommit.Start(&s.gate, 1, maxBatch, s.insertAll)
	return s, nil
}

// dataSource builds the modernc.org/sqlite data source name for the file at
// the absolute path abs. The path goes in a file: URI, escaped so that a '?'
// or '#' in a folder name cannot be taken for the start of the parameters.
func dataSource(abs string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		// WAL lets readers run beside the writer; FULL syncs the WAL on
		// every commit, which is what makes a returned insert durable.
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// 32 MiB of page cache keeps the upper levels of the indexes in
		// memory while certificates are inserted at random serials; more
		// costs time at every commit, when SQLite walks the cache.
		q.Add("_pragma", "cache_size(-32768)")
		// Checkpoint every 16000 pages (64 MiB of WAL) rather than 1000:
		// pages written by several commits are copied back once. With a
		// million certificates this is a third more inserts a second.
		q.Add("_pragma", "wal_autocheckpoint(16000)")
		// Every transaction takes the write lock when it begins, so a
		// read-modify-write such as NextCRL never races another writer.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	escape := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + escape.Replace(filepath.ToSlash(abs)) + "?" + q.Encode()
}

// Close commits the certificates already queued, waits for calls in progress
// and closes the database. Calls made after Close return store.ErrClosed; Close
// itself may be called again and then returns nil.
func (s *Store) Close() error {
	if !s.group.Close() {
		return nil
	}
	return errors.Join(s.insert.Close(), s.outboxInsert.Close(), s.auditInsert.Close(),
		s.bySerial.Close(), s.byKey.Close(), s.tokenByHash.Close(),
		s.read.Close(), s.write.Close())
}

// Stats counts the work of the group-commit writer.
type Stats struct {
	Commits      uint64 // group-commit transactions since Open
	Certificates uint64 // certificates recorded since Open
	Queued       int    // inserts waiting for the next commit
	Committing   int    // inserts in the commit under way
}

// Stats returns the group-commit counters. Certificates divided by Commits is
// the mean group size.
func (s *Store) Stats() Stats {
	g := s.group.Stats()
	return Stats{
		Commits:      g.Commits,
		Certificates: s.inserted.Load(),
		Queued:       g.Queued,
		Committing:   g.Committing,
	}
}
