package sqlite

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/storetest"
)

func TestConformance(t *testing.T) { storetest.Run(t, openTemp) }

// openTemp opens a new store in a temporary folder and closes it when the
// test ends.
func openTemp(t *testing.T) store.Store {
	return openPath(t, filepath.Join(t.TempDir(), "anchor.db"))
}

// openPath opens the store at path and closes it when the test ends.
func openPath(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// testCert returns a certificate with every field set.
func testCert(serial *big.Int) *store.Certificate {
	name := fmt.Sprintf("host-%s.example.com", serial)
	return &store.Certificate{
		Serial:       serial,
		Issuer:       "anchor-issuing-ca-test",
		Subject:      "CN=" + name,
		CommonName:   name,
		KeyHash:      sha256.Sum256([]byte(name)),
		NotBefore:    base,
		NotAfter:     base.Add(24 * time.Hour),
		DER:          append([]byte{0x30, 0x82, 0, 0}, serial.Bytes()...),
		Source:       store.SourceAPI,
		NotifyIssued: true,
		CreatedAt:    base,
	}
}

// rawDB opens the file at path without the Store, to look at it or lock it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anchor.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	big1 := new(big.Int).Lsh(big.NewInt(1), 158)
	certs := []*store.Certificate{testCert(big.NewInt(1)), testCert(big1)}
	for _, c := range certs {
		if err := s.InsertCertificate(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = s.Revoke(ctx, big1, base.Add(time.Hour), store.ReasonKeyCompromise)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, _, err := s.NextCRL(ctx, "anchor-issuing-ca-test", base, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
	}
	ca := &store.CA{Slug: "root", Role: "root", Parent: "root", Serial: big.NewInt(9),
		KeyRef: "root.key", DER: []byte{0x30, 0}, CreatedAt: base}
	if _, err := s.PutCA(ctx, ca); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openPath(t, path)
	got, err := s.Certificate(ctx, big.NewInt(1))
	if err != nil || got.CommonName != certs[0].CommonName || got.Revoked() {
		t.Errorf("certificate 1 after reopening: %+v, %v", got, err)
	}
	got, err = s.Certificate(ctx, big1)
	if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(base.Add(time.Hour)) ||
		got.Reason != store.ReasonKeyCompromise {
		t.Errorf("revoked certificate after reopening: %+v, %v", got, err)
	}
	gotCA, err := s.CA(ctx, "root")
	if err != nil || gotCA.KeyRef != "root.key" || gotCA.Serial.Cmp(big.NewInt(9)) != 0 {
		t.Errorf("CA after reopening: %+v, %v", gotCA, err)
	}
	next, prev, err := s.NextCRL(ctx, "anchor-issuing-ca-test", base, base.Add(time.Hour))
	if err != nil || next.Number.Cmp(big.NewInt(4)) != 0 || prev == nil ||
		prev.Number.Cmp(big.NewInt(3)) != 0 {
		t.Errorf("NextCRL after reopening = %+v, %+v, %v; want 4 after 3", next, prev, err)
	}
}

func TestTwoHandlesShareOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anchor.db")
	a, b := openPath(t, path), openPath(t, path)
	const issuer = "anchor-issuing-ca-test"

	// Taking turns, the handles count 1, 2, 3, ... between them.
	for i := int64(1); i <= 100; i++ {
		h := a
		if i%2 == 0 {
			h = b
		}
		next, _, err := h.NextCRL(ctx, issuer, base, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if next.Number.Cmp(big.NewInt(i)) != 0 {
			t.Fatalf("call %d got CRL number %v", i, next.Number)
		}
	}

	// At the same time, each handle's numbers increase and none repeats.
	var got [2][]int64
	var errs [2]error
	var wg sync.WaitGroup
	for i, h := range []*Store{a, b} {
		wg.Go(func() {
			for range 100 {
				next, _, err := h.NextCRL(ctx, issuer, base, base.Add(time.Hour))
				if err != nil {
					errs[i] = err
					return
				}
				got[i] = append(got[i], next.Number.Int64())
			}
		})
	}
	wg.Wait()
	checkNumbers(t, errs[:], got[:], 101, 300)

	// A certificate recorded through one handle is seen, and is a
	// duplicate, through the other.
	c := testCert(big.NewInt(77))
	if err := a.InsertCertificate(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Certificate(ctx, c.Serial); err != nil {
		t.Errorf("other handle: %v", err)
	}
	if err := b.InsertCertificate(ctx, c); !errors.Is(err, store.ErrDuplicateSerial) {
		t.Errorf("duplicate through the other handle: %v, want ErrDuplicateSerial", err)
	}
}

// checkNumbers fails the test unless every sequence strictly increases and
// together they hold each number from lo to hi exactly once.
func checkNumbers(t *testing.T, errs []error, seqs [][]int64, lo, hi int64) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	var all []int64
	for i, seq := range seqs {
		for j := 1; j < len(seq); j++ {
			if seq[j] <= seq[j-1] {
				t.Errorf("caller %d: number %d after %d", i, seq[j], seq[j-1])
			}
		}
		all = append(all, seq...)
	}
	slices.Sort(all)
	if int64(len(all)) != hi-lo+1 {
		t.Fatalf("%d numbers handed out, want %d", len(all), hi-lo+1)
	}
	for i, n := range all {
		if n != lo+int64(i) {
			t.Fatalf("numbers handed out are not %d..%d: %d at position %d", lo, hi, n, i)
		}
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.db")
	for range 2 { // the second Open finds nothing to do
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	db := rawDB(t, path)
	var versions []int
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	rows.Close()
	if want := []int{1, 2, 3}; !slices.Equal(versions, want) {
		t.Errorf("applied migrations %v, want %v", versions, want)
	}

	var tables []string
	rows, err = db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if want := []string{"audit", "cas", "certificates", "crls", "leases", "outbox",
		"reminders", "revision", "schema_migrations", "tokens"}; !slices.Equal(tables, want) {
		t.Errorf("tables %v, want %v", tables, want)
	}

	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}

	// A database from a newer anchor is refused, and the error says why.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at)
		VALUES (99, 'from the future', 0)`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a version 99 database succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 99") ||
		!strings.Contains(err.Error(), path) {
		t.Errorf("Open of a version 99 database: %v; want ErrSchemaTooNew naming the "+
			"version and the file", err)
	}
}

func TestMigrateFromVersion1(t *testing.T) {
	// A file written by an Anchor that knew only migration 1, with a
	// revoked certificate in it, opens with everything kept and revision 0.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anchor.db")
	db := rawDB(t, path)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL
		PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := applyMigration(ctx, db, migrations[0]); err != nil {
		t.Fatal(err)
	}
	c := testCert(big.NewInt(7))
	c.RevokedAt, c.Reason = &base, store.ReasonKeyCompromise
	args, err := certificateArgs(c, base)
	if err != nil {
		t.Fatal(err)
	}
	// The insert of version 1, before revoked_rev existed.
	if _, err := db.Exec(`INSERT INTO certificates (
		serial_key, serial, issuer, subject, common_name, key_hash,
		not_before, not_after, der, source,
		notify_issued, notify_expiry, created_at, revoked_at, reason
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openPath(t, path)
	got, err := s.Certificate(ctx, big.NewInt(7))
	if err != nil || !got.Revoked() || got.CommonName != c.CommonName {
		t.Errorf("certificate after migrating: %+v, %v", got, err)
	}
	if rev, err := s.Revision(ctx); err != nil || rev != 0 {
		t.Errorf("Revision after migrating = %d, %v; want 0, nil", rev, err)
	}
	if ok, err := s.AcquireLease(ctx, "crl", "a", time.Minute); err != nil || !ok {
		t.Errorf("AcquireLease after migrating = %v, %v; want true, nil", ok, err)
	}

	// The revocation made before migration 3 is at revision 0: a reader
	// starting from -1 sees it, one that has seen revision 0 does not.
	for _, tc := range []struct {
		after int64
		want  []string
	}{{-1, []string{"7@0"}}, {0, nil}} {
		var got []string
		upTo, err := s.RevokedSince(ctx, c.Issuer, tc.after,
			func(e store.RevokedEntry, rev int64) error {
				got = append(got, fmt.Sprintf("%s@%d", e.Serial, rev))
				return nil
			})
		if err != nil || upTo != 0 || !slices.Equal(got, tc.want) {
			t.Errorf("RevokedSince(%d) after migrating = %v, %d, %v; want %v, 0, nil",
				tc.after, got, upTo, err, tc.want)
		}
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not.db")
	garbage := []byte(strings.Repeat("not a database\n", 100))
	if err := os.WriteFile(notDB, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", ":memory:", "file:x.db", notDB,
		filepath.Join(dir, "missing", "anchor.db")} {
		if s, err := Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}

	// Characters that mean something in a URI are only part of the name.
	odd := filepath.Join(dir, "a?b#c%d", "anchor.db")
	if err := os.MkdirAll(filepath.Dir(odd), 0o700); err != nil {
		t.Fatal(err)
	}
	openPath(t, odd)
	if _, err := os.Stat(odd); err != nil {
		t.Errorf("database not created at %s: %v", odd, err)
	}
}

// Environment variables that turn TestCrossProcessNextCRL into one of the two
// processes it starts.
const (
	childDB    = "ANCHOR_SQLITE_TEST_CHILD_DB"
	childOut   = "ANCHOR_SQLITE_TEST_CHILD_OUT"
	childStart = "ANCHOR_SQLITE_TEST_CHILD_START"
	childCalls = 100
)

func TestCrossProcessNextCRL(t *testing.T) {
	if path := os.Getenv(childDB); path != "" {
		crossProcessChild(t, path, os.Getenv(childOut), os.Getenv(childStart))
		return
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "anchor.db")
	s, err := Open(path) // create the schema, so that the children race on NextCRL
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	start := filepath.Join(dir, "start")
	var cmds []*exec.Cmd
	var outputs []*strings.Builder
	var outs []string
	for i := range 2 {
		out := filepath.Join(dir, fmt.Sprintf("child-%d.txt", i))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrossProcessNextCRL$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDB+"="+path, childOut+"="+out, childStart+"="+start)
		var output strings.Builder
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outputs, outs = append(cmds, cmd), append(outputs, &output), append(outs, out)
	}
	// Let both go once both have opened the database.
	deadline := time.Now().Add(time.Minute)
	for _, out := range outs {
		for {
			if _, err := os.Stat(out + ".ready"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("child writing %s never became ready", out)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := os.WriteFile(start, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	var seqs [][]int64
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outputs[i])
		}
		seqs = append(seqs, readNumbers(t, outs[i]))
		if len(seqs[i]) != childCalls {
			t.Fatalf("child %d reported %d numbers, want %d\n%s", i, len(seqs[i]), childCalls,
				outputs[i])
		}
	}
	checkNumbers(t, make([]error, 2), seqs, 1, 2*childCalls)
}

// crossProcessChild is one of the processes of TestCrossProcessNextCRL: it
// opens path, says it is ready, waits for the start file and then reserves
// childCalls CRL numbers, writing them to out one per line.
func crossProcessChild(t *testing.T, path, out, start string) {
	s := openPath(t, path)
	if err := os.WriteFile(out+".ready", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(start); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("start file never appeared")
		}
		time.Sleep(time.Millisecond)
	}

	var b strings.Builder
	for range childCalls {
		next, _, err := s.NextCRL(context.Background(), "anchor-issuing-ca-test", base,
			base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, next.Number)
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readNumbers reads the decimal numbers in the file at path, one per line.
func readNumbers(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var nums []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var n int64
		if _, err := fmt.Sscan(sc.Text(), &n); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		nums = append(nums, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return nums
}

// lockWriter takes SQLite's write lock on the file at path from a connection
// of its own, and returns the function that releases it. Call it after
// opening the store, so that the release runs before the store's Close.
func lockWriter(t *testing.T, path string) (release func()) {
	t.Helper()
	conn, err := rawDB(t, path).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
				t.Error(err)
			}
			conn.Close()
		})
	}
	// If the test stops early, the lock goes before the store is closed.
	t.Cleanup(release)
	return release
}

// waitFor polls cond until it holds. It synchronises with goroutines under
// test; it does not time anything.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.db")
	s := openPath(t, path)
	release := lockWriter(t, path)

	// The first insert is taken by the writer, which then waits for the
	// lock; the next 31 queue up behind it and must share one commit.
	errs := make(chan error, 32)
	insert := func(n int64) {
		errs <- s.InsertCertificate(context.Background(), testCert(big.NewInt(n)))
	}
	go insert(1)
	waitFor(t, "the writer to take the first insert", func() bool {
		return s.Stats().Committing == 1
	})
	for n := int64(2); n <= 32; n++ {
		go insert(n)
	}
	waitFor(t, "31 queued inserts", func() bool { return s.Stats().Queued == 31 })
	release()

	for range 32 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.Stats(), (Stats{Commits: 2, Certificates: 32}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestInsertCanceledWhileWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.db")
	s := openPath(t, path)
	release := lockWriter(t, path)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.InsertCertificate(ctx, testCert(big.NewInt(1))) }()
	waitFor(t, "the writer to take the insert", func() bool {
		return s.Stats().Committing == 1
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled insert returned %v, want context.Canceled", err)
	}
	release()

	// The writer carries on.
	if err := s.InsertCertificate(context.Background(), testCert(big.NewInt(2))); err != nil {
		t.Fatal(err)
	}
}

func TestCloseDrainsTheQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}

	// 16 writers insert until the store is closed under them.
	const writers = 16
	var mu sync.Mutex
	var recorded []*big.Int
	var failed []error
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := int64(1); ; i++ {
				serial := big.NewInt(int64(w)*1_000_000 + i)
				err := s.InsertCertificate(context.Background(), testCert(serial))
				mu.Lock()
				switch {
				case err == nil:
					recorded = append(recorded, serial)
				case !errors.Is(err, store.ErrClosed):
					failed = append(failed, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	waitFor(t, "200 certificates", func() bool { return s.Stats().Certificates >= 200 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("inserts failed with errors other than ErrClosed: %v", failed)
	}

	// Every insert that returned nil is there, and nothing else.
	s = openPath(t, path)
	all, err := s.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(recorded) {
		t.Errorf("%d certificates stored, %d inserts returned nil", len(all), len(recorded))
	}
	for _, serial := range recorded {
		if _, err := s.Certificate(context.Background(), serial); err != nil {
			t.Errorf("certificate %s returned nil from InsertCertificate: %v", serial, err)
		}
	}
}

func TestGroupFailsOnlyTheBadInsert(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.db")
	s := openPath(t, path)
	release := lockWriter(t, path)

	errs := make(chan error, 3)
	insert := func(n int64) {
		errs <- s.InsertCertificate(context.Background(), testCert(big.NewInt(n)))
	}
	go insert(1)
	waitFor(t, "the writer to take the first insert", func() bool {
		return s.Stats().Committing == 1
	})

	// A row the database refuses (a NULL issuer), queued between two good
	// ones, so that all three are in the second group.
	go insert(2)
	waitFor(t, "the second insert", func() bool { return s.Stats().Queued == 1 })
	args, err := certificateArgs(testCert(big.NewInt(3)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	args[2] = nil
	bad := make(chan error, 1)
	go func() { bad <- s.group.Submit(context.Background(), &insertRequest{args: args}) }()
	waitFor(t, "the bad insert", func() bool { return s.Stats().Queued == 2 })
	go insert(4)
	waitFor(t, "three queued inserts", func() bool { return s.Stats().Queued == 3 })
	release()

	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("good insert: %v", err)
		}
	}
	if err := <-bad; err == nil || errors.Is(err, store.ErrDuplicateSerial) ||
		!strings.Contains(err.Error(), "NOT NULL") {
		t.Errorf("bad insert: %v, want the NOT NULL constraint error", err)
	}
	// Group 1, then group 2 without the bad row.
	if got, want := s.Stats(), (Stats{Commits: 2, Certificates: 3}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	for _, n := range []int64{1, 2, 4} {
		if _, err := s.Certificate(context.Background(), big.NewInt(n)); err != nil {
			t.Errorf("certificate %d: %v", n, err)
		}
	}
}

func TestQueryPlans(t *testing.T) {
	// The CRL and revoked listings must walk the partial index in order:
	// a sort or a table scan would make a CRL of a million entries slow.
	path := filepath.Join(t.TempDir(), "anchor.db")
	openPath(t, path)
	db := rawDB(t, path)

	revoked, revokedArgs, err := listQuery(store.Filter{Issuer: "ca", Status: store.StatusRevoked,
		After: "00", Limit: 100}, base)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query string
		args  []any
		want  string
	}{
		{"RevokedEntries", revokedEntriesSQL, []any{"ca", 0},
			"SEARCH certificates USING COVERING INDEX certificates_revoked (issuer=?)"},
		{"List revoked of an issuer", revoked, revokedArgs,
			"SEARCH certificates USING INDEX certificates_revoked (issuer=? AND serial_key>?)"},
	}
	for _, tc := range tests {
		rows, err := db.Query("EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		rows.Close()
		if len(steps) != 1 || steps[0] != tc.want {
			t.Errorf("%s: plan %q, want [%q]", tc.name, steps, tc.want)
		}
	}
}
