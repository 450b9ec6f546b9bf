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
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/anchorpki/anchor/store"
)

// realisticDER returns a certificate shaped like the ones Anchor issues: a
// P-256 key signed by a P-256 issuing CA, two DNS names and an IP address,
// both EKUs, CRL distribution point and AIA URLs. It is about 600 bytes.
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
		Subject:      pkix.Name{CommonName: "Anchor Issuing CA dev", Organization: []string{"Anchor"}},
		SubjectKeyId: []byte("0123456789abcdefghij"),
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Lsh(big.NewInt(0x5a5a5a5a), 127),
		Subject: pkix.Name{CommonName: "backup-01.prod.example.com",
			Organization: []string{"Example Ltd"}, Country: []string{"GB"}},
		NotBefore:             base,
		NotAfter:              base.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"backup-01.prod.example.com", "backup-01.example.com"},
		IPAddresses:           []net.IP{net.ParseIP("10.20.30.40")},
		CRLDistributionPoints: []string{"https://pki.example.com/anchor-issuing-ca-dev.crl"},
		IssuingCertificateURL: []string{"https://pki.example.com/anchor-issuing-ca-dev.crt"},
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

// BenchmarkInsertParallel measures durable inserts with many callers at once,
// as under HTTP load: 32 goroutines per GOMAXPROCS, each waiting for its
// certificate to be committed.
func BenchmarkInsertParallel(b *testing.B) {
	der := realisticDER(b)
	s, err := Open(filepath.Join(b.TempDir(), "anchor.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()

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
	if st := s.Stats(); st.Commits > 0 {
		b.ReportMetric(float64(st.Certificates)/float64(st.Commits), "certs/commit")
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
// revoked certificates, as the CRL builder does. The million rows are
// inserted once, before timing starts, in transactions of 50,000.
func BenchmarkRevokedEntries1M(b *testing.B) {
	const rows = 1_000_000
	s, err := Open(filepath.Join(b.TempDir(), "anchor.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	issuer := testCert(big.NewInt(1)).Issuer
	fillRevoked(b, s, rows, realisticDER(b))

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
		if n != rows {
			b.Fatalf("streamed %d entries, want %d", n, rows)
		}
		runs++
	}
	b.ReportMetric(float64(rows*runs)/b.Elapsed().Seconds(), "rows/s")
}

// fillRevoked inserts n revoked certificates straight through the write
// connection, in large transactions, and logs the rate.
func fillRevoked(b *testing.B, s *Store, n int, der []byte) {
	b.Helper()
	ctx, start := context.Background(), time.Now()
	const chunk = 50_000
	for done := 0; done < n; done += chunk {
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		stmt := tx.StmtContext(ctx, s.insert)
		for i := done; i < min(n, done+chunk); i++ {
			c := benchCert(der, start)
			c.RevokedAt = timePtr(base.Add(time.Duration(i) * time.Second))
			c.Reason = store.ReasonKeyCompromise
			args, err := certificateArgs(c, start)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup: inserted %d revoked certificates of %d bytes in %s (%.0f rows/s)",
		n, len(der), time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds())
}

func timePtr(t time.Time) *time.Time { return &t }
