package ca_test

import (
	"bufio"
	"context"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/sqlite"
)

// Run the CRL measurements with
//
//	go test ./ca -run '^$' -bench 'IssueCRL1M' -benchtime 10x
//
// Each benchmark records a million revoked certificates of the issuing CA in
// a SQLite store (not timed, tens of seconds), then times IssueCRL with one
// new revocation between CRLs (not timed either). BenchmarkIssueCRL1MCached
// builds from a RevokedCache loaded before the loop, as anchor serve does;
// BenchmarkIssueCRL1MStore reads every entry from the store, the path without
// a cache. Both report seconds per CRL, the CRL's size, the peak Go heap in
// use during the loop (sampled every millisecond) and the peak resident
// memory of the process during the loop (VmHWM, reset before the loop; Linux
// only).

const benchRevoked = 1_000_000

func BenchmarkIssueCRL1MCached(b *testing.B) { benchIssueCRL(b, true) }

func BenchmarkIssueCRL1MStore(b *testing.B) { benchIssueCRL(b, false) }

func benchIssueCRL(b *testing.B, cached bool) {
	f := newFixture(b)
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "crl.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	issuer := f.ca.Issuing
	now := time.Now().UTC().Truncate(time.Second)
	fillRevoked(b, st, issuer.Slug, now, benchRevoked)

	c := &ca.CA{Root: f.ca.Root, Issuing: issuer, Store: st}
	if cached {
		cache := ca.NewRevokedCache(st)
		start := time.Now()
		if err := cache.Load(context.Background(), issuer.Slug); err != nil {
			b.Fatal(err)
		}
		b.Logf("cache loaded in %v", time.Since(start).Round(time.Millisecond))
		c.Store = cache
	}
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(3, 4))
	revokeOne := func() {
		rc := revokedCert(rng, issuer.Slug, time.Now().Add(-time.Second), now)
		if err := st.InsertCertificate(ctx, rc); err != nil {
			b.Fatal(err)
		}
	}

	// Start from a collected heap and a fresh high-water mark, so that the
	// peaks are those of issuing CRLs, not of filling the store.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	stop := samplePeakHeap()
	// Only the size of the last CRL is kept: anchor serve drops each CRL once
	// it is published, and so must the loop, or the peaks would count two.
	var size, entries int
	for b.Loop() {
		b.StopTimer()
		revokeOne()
		b.StartTimer()
		crl, err := c.IssueCRL(ctx, issuer, 24*time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		size, entries = len(crl.DER), crl.Entries
	}
	peakHeap := stop()
	if entries < benchRevoked {
		b.Fatalf("the CRL lists %d entries, want at least %d", entries, benchRevoked)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/crl")
	b.ReportMetric(float64(size), "crl-bytes")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	}
}

// revokedCert returns a certificate of issuer revoked at or before at: a
// random 159-bit serial, a reason for half of them, expiring within a year
// after now.
func revokedCert(rng *mrand.Rand, issuer string, at, now time.Time) *store.Certificate {
	var s [20]byte
	for i := range s {
		s[i] = byte(rng.Uint32())
	}
	s[0] = s[0]&0x7f | 0x01
	serial := new(big.Int).SetBytes(s[:])
	revokedAt := at.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	notAfter := now.Add(time.Hour + time.Duration(rng.Int64N(int64(365*24*time.Hour))))
	reason := []store.Reason{store.ReasonUnspecified, store.ReasonUnspecified,
		store.ReasonKeyCompromise, store.ReasonSuperseded}[rng.IntN(4)]
	return &store.Certificate{
		Serial: serial, Issuer: issuer, Subject: "CN=bench", CommonName: "bench",
		NotBefore: notAfter.Add(-398 * 24 * time.Hour), NotAfter: notAfter,
		DER: s[:], Source: store.SourceAPI, CreatedAt: revokedAt,
		RevokedAt: &revokedAt, Reason: reason,
	}
}

// fillRevoked records n revoked certificates of issuer, from enough
// goroutines that the store's group commit writes them in large groups.
func fillRevoked(b *testing.B, st store.Store, issuer string, now time.Time, n int) {
	start := time.Now()
	const workers = 256
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), 99))
			for next.Add(1) <= int64(n) {
				c := revokedCert(rng, issuer, now.Add(-time.Hour), now)
				if err := st.InsertCertificate(context.Background(), c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("%d revoked certificates recorded in %v", n, time.Since(start).Round(time.Second))
}

// samplePeakHeap samples the Go heap in use (the runtime's HeapInuse: spans
// holding objects, live or not yet swept) every millisecond until the
// returned function is called, which returns the highest sample.
func samplePeakHeap() func() uint64 {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	var peak atomic.Uint64
	done, stopped := make(chan struct{}), make(chan struct{})
	read := func() {
		metrics.Read(samples)
		v := samples[0].Value.Uint64() + samples[1].Value.Uint64()
		if v > peak.Load() {
			peak.Store(v)
		}
	}
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		read()
		return peak.Load()
	}
}

// resetPeakRSS resets the kernel's high-water mark of this process's
// resident memory (Linux: "5" to /proc/self/clear_refs); elsewhere it does
// nothing.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM in bytes, or 0 where /proc is missing.
func peakRSS() int64 {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(
				strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
