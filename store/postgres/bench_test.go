package postgres

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
	"testing"
	"time"
)

// benchDER returns a certificate of the shape and size (about 600 bytes)
// Anchor issues: P-256, two DNS names, both EKUs, CRL and AIA URLs.
func benchDER(tb testing.TB) []byte {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &x509.Certificate{Subject: pkix.Name{CommonName: "Anchor Issuing CA dev"},
		SubjectKeyId: []byte("0123456789abcdefghij")}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Lsh(big.NewInt(0x5a5a5a5a), 127),
		Subject:      pkix.Name{CommonName: "backup-01.example.com"},
		NotBefore:    base,
		NotAfter:     base.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth,
			x509.ExtKeyUsageClientAuth},
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

// benchSerial returns a random 159-bit serial, as Anchor draws them.
func benchSerial() *big.Int {
	var b [20]byte
	for i := range b {
		b[i] = byte(mrand.Uint32())
	}
	b[0] = b[0]&0x7f | 0x40
	return new(big.Int).SetBytes(b[:])
}

// BenchmarkInsertParallel measures committed inserts into an empty schema
// with many callers at once, as under HTTP load: 32 goroutines per
// GOMAXPROCS, each waiting for its certificate to be committed. It needs
// ANCHOR_TEST_POSTGRES, as the tests do.
func BenchmarkInsertParallel(b *testing.B) {
	s := openDSN(b, freshSchema(b))
	der := benchDER(b)
	now := time.Now()
	before := s.Stats()

	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			serial := benchSerial()
			c := testCert(serial)
			c.KeyHash = sha256.Sum256(serial.Bytes())
			c.DER, c.CreatedAt = der, now
			if err := s.InsertCertificate(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()

	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	after := s.Stats()
	if commits := after.Commits - before.Commits; commits > 0 {
		b.ReportMetric(float64(after.Certificates-before.Certificates)/float64(commits),
			"certs/commit")
	}
}
