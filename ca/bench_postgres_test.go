package ca_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store/postgres"
)

// BenchmarkIssueP256Postgres is BenchmarkIssueP256 with the store on
// PostgreSQL (ANCHOR_TEST_POSTGRES) instead of SQLite: the same requests, the
// same concurrency (GOMAXPROCS*16 in flight), the same metrics. Comparing the
// two shows what the shared store of a replicated deployment costs per
// certificate; the signing floor (signs/s) is the same in both.
func BenchmarkIssueP256Postgres(b *testing.B) {
	benchmarkIssue(b, newPostgresFixture(b))
}

// newPostgresFixture makes a hierarchy with the default config, its keys in
// a temporary folder and its store in a schema of its own on the PostgreSQL
// server of ANCHOR_TEST_POSTGRES, dropped when the benchmark ends.
func newPostgresFixture(b *testing.B) *fixture {
	b.Helper()
	dsn := os.Getenv("ANCHOR_TEST_POSTGRES")
	if dsn == "" {
		const how = "ANCHOR_TEST_POSTGRES is not set: install PostgreSQL and run " +
			"`source scripts/postgres.sh && start_postgres` first"
		if os.Getenv("CI") == "true" {
			b.Fatal(how)
		}
		b.Skip(how)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatalf("connecting to ANCHOR_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	schema := "anchor_bench_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			b.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatalf("ANCHOR_TEST_POSTGRES is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.BaseURL = "http://pki.example.com"
	keys := ca.FileKeys{Dir: filepath.Join(b.TempDir(), "keys")}
	res, err := ca.Init(ctx, cfg, st, keys)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{cfg: cfg, store: st, keys: keys, obs: &recorder{}}
	f.ca = &ca.CA{
		Root: res.Root, Issuing: res.Issuing, Store: st,
		Policy:   profile.Policy{MaxLifetimeDays: cfg.MaxLifetimeDays},
		BaseURL:  cfg.PublicBaseURL(),
		Observer: f.obs,
	}
	return f
}
