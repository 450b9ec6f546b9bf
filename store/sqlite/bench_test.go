package sqlite

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/store"
)

// realisticDER returns a certificate shaped like the ones Anchor issues: a
// P-256 key signed by a P-256 issuing CA, two DNS names, both EKUs, CRL
// distribution point and AIA URLs. It is about 600 bytes.
func realisticDER(tb testing.TB) []byte {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &x509.Certificate{
		Subject: pkix.Name{CommonName: "Anchor Issuing CA dev",
			Organization: []string{"Anchor"}},
		SubjectKeyId: []byte("0123456789abcdefghij"),
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Lsh(big.NewInt(0x5a5a5a5a), 127),
		Subject: pkix.Name{CommonName: "backup-01.example.com",
			Organization: []string{"Example Ltd"}},
		NotBefore: base,
		NotAfter:  base.Add(365 * 24 * time.Hour),
		KeyUsage:  x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth,
			x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"backup-01.example.com", "backup-01"},
		CRLDistributionPoints: []string{"http://pki.example.com/issuing-ca.crl"},
		IssuingCertificateURL: []string{"http://pki.example.com/issuing-ca.crt"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// randomSerial returns a random serial of at most 159 bits, as Anchor draws
// them.
func randomSerial() *big.Int {
	var b [20]byte
	for i := 0; i < len(b); i += 8 {
		v := mrand.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[0] = b[0]&0x7f | 0x40 // 159 bits, like a fresh 20-octet serial
	return new(big.Int).SetBytes(b[:])
}

// benchCert returns a certificate with a random serial and the given DER.
func benchCert(der []byte, created time.Time) *store.Certificate {
	serial := randomSerial()
	c := testCert(serial)
	c.KeyHash = sha256.Sum256(serial.Bytes())
	c.NotAfter = base.Add(365 * 24 * time.Hour)
	c.DER = der
	c.CreatedAt = created
	return c
}

// BenchmarkInsertParallel measures durable inserts into an empty store with
// many callers at once, as under HTTP load: 32 goroutines per GOMAXPROCS,
// each waiting for its certificate to be committed.
func BenchmarkInsertParallel(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "anchor.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	insertParallel(b, s)
}

// insertParallel runs the parallel insert benchmark on s and reports inserts
// a second, CPU time per insert and the mean group size.
func insertParallel(b *testing.B, s *Store) {
	der := realisticDER(b)
	now := time.Now()
	before := s.Stats()

	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := s.InsertCertificate(ctx, benchCert(der, now)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu = processCPU() - cpu

	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/insert")
	}
	after := s.Stats()
	if commits := after.Commits - before.Commits; commits > 0 {
		b.ReportMetric(float64(after.Certificates-before.Certificates)/float64(commits),
			"certs/commit")
	}
}

// BenchmarkInsertSequential measures one caller inserting one certificate at
// a time: every insert pays a commit and an fsync of its own. It is the floor
// that group commit lifts.
func BenchmarkInsertSequential(b *testing.B) {
	der := realisticDER(b)
	s, err := Open(filepath.Join(b.TempDir(), "anchor.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, now := context.Background(), time.Now()

	for b.Loop() {
		if err := s.InsertCertificate(ctx, benchCert(der, now)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}

// BenchmarkRevokedEntries1M streams the entries of an issuer with a million
// revoked certificates, as the CRL builder does.
func BenchmarkRevokedEntries1M(b *testing.B) {
	s, err := Open(millionRevoked(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	issuer := testCert(big.NewInt(1)).Issuer

	ctx := context.Background()
	runs := 0
	for b.Loop() {
		n := 0
		err := s.RevokedEntries(ctx, issuer, time.Time{}, func(store.RevokedEntry) error {
			n++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != million {
			b.Fatalf("streamed %d entries, want %d", n, million)
		}
		runs++
	}
	b.ReportMetric(float64(million*runs)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInsertParallel1M is BenchmarkInsertParallel on a store that
// already holds a million certificates, where the indexes no longer fit in
// SQLite's page cache and every insert lands on pages of its own.
func BenchmarkInsertParallel1M(b *testing.B) {
	s, err := Open(millionRevoked(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	insertParallel(b, s)
}

// million is the number of revoked certificates in the database that
// millionRevoked builds.
const million = 1_000_000

// millionDB is the database of the 1M benchmarks, built once per test binary
// and removed by TestMain.
var millionDB struct {
	once sync.Once
	dir  string
	err  error
}

// millionRevoked returns the path of a database holding a million revoked
// certificates of one issuer, building it on first use. Building takes a
// minute or two and is not timed.
func millionRevoked(b *testing.B) string {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	millionDB.once.Do(func() {
		millionDB.dir, millionDB.err = os.MkdirTemp("", "anchor-sqlite-bench-")
		if millionDB.err != nil {
			return
		}
		s, err := Open(filepath.Join(millionDB.dir, "anchor.db"))
		if err != nil {
			millionDB.err = err
			return
		}
		defer s.Close()
		millionDB.err = fillRevoked(b, s, million, realisticDER(b))
	})
	if millionDB.err != nil {
		b.Fatal(millionDB.err)
	}
	return filepath.Join(millionDB.dir, "anchor.db")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if millionDB.dir != "" {
		os.RemoveAll(millionDB.dir)
	}
	os.Exit(code)
}

// fillRevoked inserts n revoked certificates straight through the write
// connection, in transactions of 50,000, and logs the rate.
func fillRevoked(b *testing.B, s *Store, n int, der []byte) error {
	ctx, start := context.Background(), time.Now()
	const chunk = 50_000
	for done := 0; done < n; done += chunk {
		if err := fillChunk(ctx, s, done, min(n, done+chunk), der, start); err != nil {
			return err
		}
	}
	b.Logf("setup: inserted %d revoked certificates of %d bytes in %s (%.0f rows/s)",
		n, len(der), time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds())
	return nil
}

// fillChunk inserts revoked certificates from to to in one transaction.
func fillChunk(ctx context.Context, s *Store, from, to int, der []byte, now time.Time) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, s.insert)
	for i := from; i < to; i++ {
		c := benchCert(der, now)
		c.RevokedAt = timePtr(base.Add(time.Duration(i) * time.Second))
		c.Reason = store.ReasonKeyCompromise
		args, err := certificateArgs(c, now)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func timePtr(t time.Time) *time.Time { return &t }
