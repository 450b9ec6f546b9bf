// Package bench measures how fast an Anchor server issues certificates over
// its HTTP API, as a client sees it.
//
// Issue drives POST /v1/certificates from Concurrency workers over keep-alive
// connections for Duration and reports certificates per second, latency
// percentiles and error counts.
//
// # What is measured, honestly
//
// Every request carries a CSR for a key that was never certified, and
// force_issue is false, so the server does all the work a real request costs:
// it verifies the CSR signature, looks the key up in its history, signs and
// records the certificate. Generating keys is not the server's work, so
// Options.Pool CSRs are made before the clock starts. When the pool runs dry
// during the run, background generators (a quarter of the CPUs) keep making
// fresh CSRs; a worker that finds none waits, the wait counts against
// throughput (it is inside Elapsed) but not against latency (which is measured
// from sending a request to reading its answer), and Result.Stalls says how
// often it happened. A run with many stalls measured the key generator, not the
// server: raise Pool. When the benchmark shares the machine with the server
// (as in the tests), the generators take CPU from it.
//
// Options.ReuseKeys instead cycles through the pool with force_issue=true.
// That skips the server's key-history lookup and so is slightly optimistic; it
// exists for RSA, whose keys take too long to make in bulk.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anchorpki/anchor/signer"
)

// Options configures a run. Server and Token are required.
type Options struct {
	Server string // base URL of the API, e.g. http://127.0.0.1:8080
	Token  string // a token with the issuer role, without name patterns
	// Concurrency is the number of workers, each with its own requests in
	// flight one at a time; default 8.
	Concurrency int
	// Duration is how long requests are sent; default 10 s.
	Duration time.Duration
	// KeyType of the subscriber keys; default ecdsa-p256.
	KeyType signer.KeyType
	// Pool is the number of CSRs made before the clock starts; default 2000.
	Pool int
	// ReuseKeys cycles through the pool with force_issue=true instead of
	// making a fresh key for every request (see the package documentation).
	ReuseKeys bool
	// Lifetime of the certificates in days; default 1.
	Lifetime int
	// HTTP is the client to use; nil makes one with keep-alive connections
	// for every worker.
	HTTP *http.Client
}

// Result is what a run measured. Requests = Issued + Rejected + Failed.
type Result struct {
	Requests int
	Issued   int // 201 answers
	Rejected int // 4xx answers
	Failed   int // 5xx answers and transport errors
	// Stalls counts the times a worker waited for a fresh CSR.
	Stalls int
	// Elapsed runs from the first request to the last answer.
	Elapsed        time.Duration
	CertsPerSecond float64
	// Latency percentiles of all requests, from sending to the answer read.
	P50, P90, P99, Max time.Duration
	// FirstError describes the first refused or failed request, if any.
	FirstError string
}

// String renders the result on one line.
func (r *Result) String() string {
	return fmt.Sprintf("%.1f certs/s: %d requests, %d issued, %d rejected, %d failed, "+
		"%d stalls in %s; latency p50 %s p90 %s p99 %s max %s", r.CertsPerSecond,
		r.Requests, r.Issued, r.Rejected, r.Failed, r.Stalls, r.Elapsed.Round(time.Millisecond),
		r.P50, r.P90, r.P99, r.Max)
}

// Issue runs the benchmark; see the package documentation.
func Issue(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			MaxIdleConns:        o.Concurrency,
			MaxIdleConnsPerHost: o.Concurrency,
			IdleConnTimeout:     time.Minute,
		}}
		defer hc.CloseIdleConnections()
	}

	gen := &generator{kt: o.KeyType, lifetime: o.Lifetime, force: o.ReuseKeys}
	pool, err := gen.fill(ctx, o.Pool)
	if err != nil {
		return nil, err
	}
	supply := make(chan []byte, o.Pool)
	for _, b := range pool {
		supply <- b
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var genWG sync.WaitGroup
	if !o.ReuseKeys {
		for range max(1, runtime.GOMAXPROCS(0)/4) {
			genWG.Add(1)
			go func() {
				defer genWG.Done()
				gen.refill(runCtx, supply)
			}()
		}
	}

	var (
		res      Result
		mu       sync.Mutex
		lat      []time.Duration
		firstErr atomic.Pointer[string]
		next     atomic.Int64
		workers  sync.WaitGroup
	)
	url := strings.TrimRight(o.Server, "/") + "/v1/certificates"
	start := time.Now()
	deadline := start.Add(o.Duration)
	for range o.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var w Result
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				var body []byte
				if o.ReuseKeys {
					body = pool[int(next.Add(1)-1)%len(pool)]
				} else {
					select {
					case body = <-supply:
					default:
						w.Stalls++
						select {
						case body = <-supply:
						case <-ctx.Done():
							continue
						case <-time.After(time.Until(deadline)):
							continue
						}
					}
				}
				t0 := time.Now()
				status, msg := send(ctx, hc, url, o.Token, body)
				mine = append(mine, time.Since(t0))
				w.Requests++
				switch {
				case status == http.StatusCreated:
					w.Issued++
					continue
				case status >= 400 && status < 500:
					w.Rejected++
				default:
					w.Failed++
				}
				e := fmt.Sprintf("status %d: %s", status, msg)
				firstErr.CompareAndSwap(nil, &e)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Requests += w.Requests
			res.Issued += w.Issued
			res.Rejected += w.Rejected
			res.Failed += w.Failed
			res.Stalls += w.Stalls
			lat = append(lat, mine...)
		}()
	}
	workers.Wait()
	res.Elapsed = time.Since(start)
	stop()
	genWG.Wait()

	if e := firstErr.Load(); e != nil {
		res.FirstError = *e
	}
	if res.Elapsed > 0 {
		res.CertsPerSecond = float64(res.Issued) / res.Elapsed.Seconds()
	}
	slices.Sort(lat)
	res.P50, res.P90, res.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return &res, ctx.Err()
}

func (o *Options) defaults() error {
	if o.Server == "" {
		return errors.New("bench: Server is required")
	}
	if o.Token == "" {
		return errors.New("bench: Token is required")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.KeyType == "" {
		o.KeyType = signer.ECDSAP256
	}
	if _, err := signer.ParseKeyType(string(o.KeyType)); err != nil {
		return fmt.Errorf("bench: KeyType: %w", err)
	}
	if o.Pool <= 0 {
		o.Pool = 2000
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 1
	}
	return nil
}

// percentile returns the p-th percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// send posts one request and reads the whole answer, so that the connection
// is reused. It returns the status and, for failures, a short message.
func send(ctx context.Context, hc *http.Client, url, token string, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, ""
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

// generator makes request bodies, each with a CSR for a new key.
type generator struct {
	kt       signer.KeyType
	lifetime int
	force    bool
	seq      atomic.Int64
}

// fill makes n bodies using every CPU.
func (g *generator) fill(ctx context.Context, n int) ([][]byte, error) {
	out := make([][]byte, n)
	var idx atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(idx.Add(1) - 1)
				if i >= n || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				b, err := g.body()
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				out[i] = b
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, *e
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// refill keeps supply topped up until ctx is done.
func (g *generator) refill(ctx context.Context, supply chan<- []byte) {
	for ctx.Err() == nil {
		b, err := g.body()
		if err != nil {
			return
		}
		select {
		case supply <- b:
		case <-ctx.Done():
			return
		}
	}
}

// body makes one request JSON with a fresh key's CSR.
func (g *generator) body() ([]byte, error) {
	key, err := g.kt.Generate(rand.Reader)
	if err != nil {
		return nil, err
	}
	n := g.seq.Add(1)
	cn := fmt.Sprintf("bench-%d.bench.example.com", n)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("bench: make CSR: %w", err)
	}
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	return json.Marshal(map[string]any{
		"common_name":     cn,
		"base64_csr_data": base64.StdEncoding.EncodeToString(csr),
		"lifetime":        g.lifetime,
		"purposes":        []string{"client_auth", "server_auth"},
		"force_issue":     g.force,
	})
}
