package anywhere

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCreateSession measures the whole CreateSession handler (signature,
// path validation, CRL lookup against a 10,000-entry CRL, profile checks,
// credential issue, attempt recording) at several concurrencies, reporting
// sessions/s and the 99th percentile latency.
func BenchmarkCreateSession(b *testing.B) {
	e := newEnv(b, Config{})
	l := e.ca.leaf(b, leafOpts{})
	installBigCRL(b, e, 10000)
	tmpl := e.buildSession(sessionReq{leaf: l})
	body := `{"durationSeconds":3600}`
	h := e.srv.Handler()

	for _, conc := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Int64
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for w := 0; w < conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						req := httptest.NewRequest("POST", tmpl.URL.String(),
							strings.NewReader(body))
						req.Header = tmpl.Header.Clone()
						rec := httptest.NewRecorder()
						t0 := time.Now()
						h.ServeHTTP(rec, req)
						lat[i] = time.Since(t0)
						if rec.Code != http.StatusCreated {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d requests failed", n)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "sessions/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			// CPU time per session is what the machine's other load does
			// not distort; 2 cores sustain 2e6/cpu-µs sessions per second.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// installBigCRL imports and enables a CRL of n serials that do not include
// the benchmark's client.
func installBigCRL(b *testing.B, e *env, n int) {
	b.Helper()
	serials := make([]*big.Int, 0, n)
	for i := 0; i < n; i++ {
		serials = append(serials, nextSerial())
	}
	c := CRL{ID: newUUID(), Name: "big", TrustAnchorID: e.taID, Enabled: true,
		Data: e.ca.crl(b, 1, serials...), CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.srv.putCRL(b.Context(), c); err != nil {
		b.Fatal(err)
	}
	if got := len(e.srv.snap.Load().anchorsByID[e.taID].revoked); got != n {
		b.Fatalf("%d revoked entries, want %d", got, n)
	}
}

// BenchmarkVerifyOnly measures the floor of CreateSession: the two signature
// verifications every request needs (the request signature with the leaf's
// key, and the leaf's signature with the CA's key), both ECDSA P-256.
func BenchmarkVerifyOnly(b *testing.B) {
	e := newEnv(b, Config{})
	l := e.ca.leaf(b, leafOpts{})
	req := e.buildSession(sessionReq{leaf: l})
	a, err := parseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	req.RequestURI = req.URL.RequestURI()
	req.Host = req.URL.Host
	headers, _ := canonicalHeaders(req, a.SignedHeaders)
	query, _ := canonicalQuery(req.URL.RawQuery)
	sum := sha256.Sum256(body)
	creq := canonicalRequest("POST", "/sessions", query, headers, a.SignedHeaders,
		hex.EncodeToString(sum[:]))
	digest := sha256.Sum256([]byte(stringToSign(a.Algorithm,
		req.Header.Get("X-Amz-Date"), a.Scope(), creq)))
	pub := l.cert.PublicKey.(*ecdsa.PublicKey)
	if !ecdsa.VerifyASN1(pub, digest[:], a.Signature) {
		b.Fatal("request signature does not verify")
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(pub, digest[:], a.Signature) {
			b.Fatal("request signature")
		}
		if err := l.cert.CheckSignatureFrom(e.ca.cert); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
