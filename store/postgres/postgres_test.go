package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/storetest"
)

// serverDSN returns the DSN of the test server from ANCHOR_TEST_POSTGRES. Without
// one the test fails under CI and is skipped elsewhere.
func serverDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("ANCHOR_TEST_POSTGRES")
	if dsn == "" {
		const how = "ANCHOR_TEST_POSTGRES is not set: install PostgreSQL " +
			"(apt-get install -y postgresql) and run " +
			"`source scripts/postgres.sh && start_postgres` before go test"
		if os.Getenv("CI") == "true" {
			tb.Fatal(how)
		}
		tb.Skip(how)
	}
	return dsn
}

// freshSchema creates a schema of its own for one test, drops it when the test
// ends, and returns a DSN whose search_path puts the store's tables there.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	dsn := serverDSN(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connecting to ANCHOR_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)

	schema := "anchor_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return withSearchPath(tb, dsn, schema)
}

// withSearchPath adds search_path=schema to a URL or keyword/value DSN.
func withSearchPath(tb testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("ANCHOR_TEST_POSTGRES does not parse as a URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// openDSN opens a store and closes it when the test ends.
func openDSN(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	serverDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openDSN(t, freshSchema(t)) })
}

var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

func testCert(serial *big.Int) *store.Certificate {
	name := fmt.Sprintf("host-%s.example.com", serial)
	return &store.Certificate{
		Serial: serial, Issuer: "anchor-issuing-ca-test", Subject: "CN=" + name,
		CommonName: name, NotBefore: base, NotAfter: base.Add(24 * time.Hour),
		DER: append([]byte{0x30, 0x82, 0, 0}, serial.Bytes()...), Source: store.SourceAPI,
		CreatedAt: base,
	}
}

func TestMigrationsConcurrent(t *testing.T) {
	// Replicas starting together on an empty schema: every Open succeeds
	// and each migration is applied once.
	dsn := freshSchema(t)
	const replicas = 6
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{1, 2, 3}; !slices.Equal(versions, want) {
		t.Errorf("applied migrations %v, want %v", versions, want)
	}

	// A database from a newer anchor is refused.
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES (99, 'from the future', 0)`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open of a version 99 database succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("Open of a version 99 database: %v; want ErrSchemaTooNew naming it", err)
	}
}

func TestOpenHidesPassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:1/x?sslmode=bogus")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a bad DSN: %v; want an error without the password", err)
	}
}

func TestReplicasShareCRLNumbers(t *testing.T) {
	// Two Stores on one schema stand for two replicas. Their CRL numbers
	// interleave without a gap or a repeat, taking turns and at once.
	ctx := context.Background()
	dsn := freshSchema(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	const issuer = "anchor-issuing-ca-test"
	for i := int64(1); i <= 20; i++ {
		h := a
		if i%2 == 0 {
			h = b
		}
		next, prev, err := h.NextCRL(ctx, issuer, base, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if next.Number.Int64() != i || (i > 1) != (prev != nil) {
			t.Fatalf("call %d: number %v, prev %+v", i, next.Number, prev)
		}
	}

	const workers, calls = 8, 25
	got := make([][]int64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		h := []*Store{a, b}[w%2]
		wg.Go(func() {
			for range calls {
				next, prev, err := h.NextCRL(ctx, issuer, base, base.Add(time.Hour))
				if err != nil {
					errs[w] = err
					return
				}
				if next.Number.Int64() != prev.Number.Int64()+1 {
					errs[w] = fmt.Errorf("number %v after %v", next.Number, prev.Number)
					return
				}
				got[w] = append(got[w], next.Number.Int64())
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		for i, n := range got[w] {
			if i > 0 && n <= got[w][i-1] {
				t.Errorf("worker %d: %d after %d", w, n, got[w][i-1])
			}
			if seen[n] {
				t.Errorf("number %d handed out twice", n)
			}
			seen[n] = true
		}
	}
	for n := int64(21); n <= 20+workers*calls; n++ {
		if !seen[n] {
			t.Errorf("number %d never handed out", n)
		}
	}
}

func TestReplicasShareOutboxAndRevision(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)

	// A revocation through one replica moves the revision the other reads.
	if err := a.InsertCertificate(ctx, testCert(big.NewInt(7))); err != nil {
		t.Fatal(err)
	}
	before, err := b.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Revoke(ctx, big.NewInt(7), base, store.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if after, err := b.Revision(ctx); err != nil || after <= before {
		t.Errorf("replica b's revision went from %d to %d (%v), want it to grow",
			before, after, err)
	}

	// Claimers in both replicas never share a delivery.
	for i := range 60 {
		ev := storetestEvent(fmt.Sprintf("ev-%02d", i))
		if err := a.Add(ctx, ev, "webhook"); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for w := range 8 {
		h := []*Store{a, b}[w%2]
		wg.Go(func() {
			for range 60 {
				ds, err := h.Claim(ctx, base, 4, time.Hour)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.Event.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 60 {
		t.Errorf("claimers got %d distinct deliveries, want 60", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}

	// A lease one replica holds is refused to the other.
	if ok, err := a.AcquireLease(ctx, "crl", "replica-a", time.Hour); err != nil || !ok {
		t.Fatalf("a: %v, %v", ok, err)
	}
	if ok, err := b.AcquireLease(ctx, "crl", "replica-b", time.Hour); err != nil || ok {
		t.Errorf("b took a's lease: %v, %v", ok, err)
	}
}

func TestQueryPlans(t *testing.T) {
	// The CRL query walks the partial index in serial order, with no sort.
	ctx := context.Background()
	s := openDSN(t, freshSchema(t))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// An empty table tempts the planner to scan it; forbid that, and see
	// whether an index gives the order on its own.
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off;
		SET LOCAL enable_bitmapscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) SELECT serial_key, revoked_at,
		reason, not_after FROM certificates
		WHERE issuer = 'x' AND revoked_at IS NOT NULL AND not_after >= 0
		ORDER BY serial_key`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Sort") || !strings.Contains(text, "certificates_revoked") {
		t.Errorf("the revoked-entries query sorts:\n%s", text)
	}
}

// storetestEvent returns a valid event with this id.
func storetestEvent(id string) notify.Event {
	return notify.Event{ID: id, Subject: notify.SubjectRevoked, At: base,
		Body: []byte(`{"SerialNumber":"1"}`)}
}
