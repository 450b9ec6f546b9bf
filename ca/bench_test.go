package ca_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// BenchmarkIssueP256 measures in-process issuance from a P-256 issuing CA into
// the durable SQLite store, with as many requests in flight as
// GOMAXPROCS*16 (the store commits concurrent inserts together). In the same
// run it measures raw ECDSA P-256 signing with the issuing key, the floor
// under which no issuance can go, and reports both rates and their ratio.
//
// Each request carries a fresh CSR, made before the timer starts; its
// signature check, the profile rules, the certificate signature and the store
// commit are all inside the measured time.
func BenchmarkIssueP256(b *testing.B) {
	benchmarkIssue(b, newFixture(b))
}

// benchmarkIssue issues b.N certificates through f with GOMAXPROCS*16
// requests in flight, then measures raw signing with the issuing key, and
// reports both rates and their ratio.
func benchmarkIssue(b *testing.B, f *fixture) {
	ctx := context.Background()
	reqs := make([]*profile.Request, b.N)
	for i := range reqs {
		reqs[i] = &profile.Request{CommonName: "bench.example.com", Lifetime: 30,
			Base64CSRData: csrPEM(b, p256(b), "bench.example.com")}
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := reqs[next.Add(1)-1]
			if _, err := f.ca.Issue(ctx, req, store.SourceAPI); err != nil {
				b.Error(err)
				return
			}
		}
	})
	issueRate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()

	signRate := rawSignRate(b, f.ca.Issuing.Signer, max(b.N, 2000))
	b.ReportMetric(issueRate, "certs/s")
	b.ReportMetric(signRate, "signs/s")
	b.ReportMetric(issueRate/signRate, "ratio")
}

// rawSignRate signs n SHA-256 digests with key on GOMAXPROCS goroutines and
// returns signatures per second.
func rawSignRate(b *testing.B, key crypto.Signer, n int) float64 {
	digest := sha256.Sum256([]byte("anchor"))
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
