package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/client"
)

// leaseTTL is the CRL lease of the replica test: short, so that a takeover is
// quick, and long against the 100 ms poll of anchor serve.
const leaseTTL = 2 * time.Second

// TestTwoReplicasOnPostgres runs two replicas of anchor serve on one
// PostgreSQL schema, publishing to one shared folder, as two machines behind a
// load balancer with a shared volume would.
//
// The homes are separate folders, as on two machines: `anchor init` runs once
// against the first, and the second gets copies of its two key files (mode
// 0600), the way an operator provisions a second replica with file keys. The
// store holds the hierarchy, so the second replica loads it rather than making
// another.
//
// It checks that concurrent issuance through both replicas never hands out a
// serial twice, that a revocation made through one replica reaches the CRL
// served by the other, that CRL numbers strictly increase across everything
// both published, and that when the replica holding the CRL lease is killed
// the other takes over and publishes the next revocation. The takeover time is
// measured and logged; the bound it is checked against is generous, since the
// test must not depend on the machine's speed.
func TestTwoReplicasOnPostgres(t *testing.T) {
	dsn := postgresSchema(t)
	public := t.TempDir()
	homeA, homeB := t.TempDir(), t.TempDir()
	conf := fmt.Sprintf(`store: %q
base_url: http://pki.example.test
lease_ttl: %s
publish: {backend: dir, dir: %q}
`, dsn, leaseTTL, public)
	writeConfig(t, homeA, conf)
	writeConfig(t, homeB, conf)

	mustAnchor(t, homeA, "init")
	copyKeys(t, homeA, homeB)
	if out := mustAnchor(t, homeB, "init"); !strings.Contains(out, "nothing changed") {
		t.Fatalf("init of the second home did not find the shared hierarchy:\n%s", out)
	}

	// A starts first and takes the CRL lease; B waits for it.
	a := startReplica(t, homeA, "A")
	b := startReplica(t, homeB, "B")
	a.waitLog(t, `msg="CRL published"`, 10*time.Second)
	time.Sleep(leaseTTL) // B renews its claim a few times meanwhile
	if len(b.publications(t)) != 0 || strings.Contains(b.logs.String(), "took over") {
		t.Fatalf("B published while A held the lease:\n%s", b.logs.String())
	}

	issuerToken := token(t, homeA, "loadgen", "issuer")
	revokerToken := token(t, homeB, "secops", "revoker")

	// Concurrent issuance through both replicas.
	const total, workers = 300, 16
	serials := issueConcurrently(t, []string{a.base, b.base}, issuerToken, total, workers)
	seen := map[string]int{}
	for _, s := range serials {
		seen[s]++
	}
	for s, n := range seen {
		if n > 1 {
			t.Errorf("serial %s was returned %d times", s, n)
		}
	}
	inList := map[string]int{}
	all := listJSON(t, homeB)
	for _, c := range all {
		inList[c.SerialNumber]++
	}
	if len(all) != total+2 || len(inList) != total+2 {
		t.Errorf("anchor list: %d certificates, %d distinct serials; want %d (two CAs "+
			"and %d leaves)", len(all), len(inList), total+2, total)
	}
	for s := range seen {
		if inList[s] != 1 {
			t.Errorf("serial %s returned by the API is listed %d times", s, inList[s])
		}
	}

	// A revocation through A reaches the CRL served by B.
	crlURL := "/anchor-issuing-ca-dev.crl"
	first, second := serials[0], serials[total-1]
	start := time.Now()
	out := mustAnchor(t, homeA, "revoke", first, "--reason", "keyCompromise",
		"--server", a.base, "--token", revokerToken)
	if !strings.Contains(out, "revoked "+first) {
		t.Fatalf("revoke through A: %q", out)
	}
	waitListed(t, b.base+crlURL, first, 20*time.Second)
	t.Logf("revoked through A, listed by the CRL served by B after %v",
		time.Since(start).Round(time.Millisecond))
	if len(b.publications(t)) != 0 {
		t.Error("B published although A holds the lease")
	}

	// Kill A, the lease holder, as a crash would; revoke through B.
	killed := time.Now()
	a.kill(t)
	out = mustAnchor(t, homeB, "revoke", second, "--reason", "superseded",
		"--server", b.base, "--token", revokerToken)
	if !strings.Contains(out, "revoked "+second) {
		t.Fatalf("revoke through B: %q", out)
	}
	// The lease expires leaseTTL after A's last renewal, and B renews its
	// claim every leaseTTL/4: the takeover is due within 1.25 leaseTTL and
	// one poll of the kill. The limit below adds room for a loaded machine.
	bound := leaseTTL + leaseTTL/4 + 100*time.Millisecond
	tookOver := b.waitLog(t, "took over CRL publication", bound+15*time.Second)
	rl := waitListed(t, b.base+crlURL, second, 15*time.Second)
	published := time.Now()
	t.Logf("A killed; B took over after %v (due within %v) and published a CRL "+
		"listing the next revocation after %v", tookOver.Sub(killed).Round(time.Millisecond),
		bound, published.Sub(killed).Round(time.Millisecond))
	if !listed(rl, first) {
		t.Error("the CRL published by B lost the revocation made through A")
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.String() == second && e.ReasonCode != 4 {
			t.Errorf("serial %s: reason code %d, want 4 (superseded)", second, e.ReasonCode)
		}
	}

	// CRL numbers strictly increase across both replicas, in the logs and
	// in the CRLs served.
	pubsA, pubsB := a.publications(t), b.publications(t)
	if len(pubsA) < 4 || len(pubsB) < 2 {
		t.Fatalf("publications logged: A %d, B %d; want at least 4 and 2",
			len(pubsA), len(pubsB))
	}
	checkNumbersIncrease(t, append(pubsA, pubsB...))
	lastA := new(big.Int)
	for _, p := range pubsA {
		if p.issuer == "anchor-issuing-ca-dev" {
			lastA.SetString(p.number, 10)
		}
	}
	if rl.Number.Cmp(lastA) <= 0 {
		t.Errorf("B's CRL number %s does not exceed A's last, %s", rl.Number, lastA)
	}

	// A comes back while B holds the lease: it must wait. When B stops
	// cleanly it releases the lease, and A takes over without waiting for
	// it to expire.
	a = startReplica(t, homeA, "A")
	time.Sleep(leaseTTL)
	if len(a.publications(t)) != 0 {
		t.Fatalf("restarted A published while B held the lease:\n%s", a.logs.String())
	}
	stopped := time.Now()
	b.stop(t)
	back := a.waitLog(t, "took over CRL publication", leaseTTL+15*time.Second)
	a.waitLog(t, `msg="CRL published"`, 15*time.Second)
	t.Logf("B stopped cleanly; A took over after %v", back.Sub(stopped).Round(time.Millisecond))
	checkNumbersIncrease(t, append(append(pubsA, b.publications(t)...), a.publications(t)...))
	final, _ := fetchCRL(t, a.base+crlURL)
	if !listed(final, first) || !listed(final, second) {
		t.Error("the CRL published after the second takeover lacks a revocation")
	}
}

// token creates an API token in home's store and returns its secret.
func token(t *testing.T, home, name, role string) string {
	t.Helper()
	out := mustAnchor(t, home, "token", "create", "--name", name, "--role", role, "--json")
	var nt struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &nt); err != nil || nt.Token == "" {
		t.Fatalf("token create --json: %v\n%s", err, out)
	}
	return nt.Token
}

// issueConcurrently sends n requests, each with a fresh key, over workers
// goroutines that take turns between the servers, and returns the serials of
// the certificates, in request order.
func issueConcurrently(t *testing.T, servers []string, tok string, n, workers int) []string {
	t.Helper()
	bodies := make([][]byte, n)
	for i := range bodies {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cn := fmt.Sprintf("replica-%03d.example.com", i)
		der, err := x509.CreateCertificateRequest(rand.Reader,
			&x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
		bodies[i], _ = json.Marshal(map[string]any{"common_name": cn, "lifetime": 30,
			"base64_csr_data": base64.StdEncoding.EncodeToString(csr)})
	}

	serials := make([]string, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := client.New(servers[(w+i)%len(servers)], tok)
				resp, err := c.Issue(ctx, bodies[i])
				if err == nil && resp.CertificateInfo == nil {
					err = fmt.Errorf("no CertificateInfo in the response")
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Sprintf("request %d: %v", i, err))
				} else {
					serials[i] = resp.CertificateInfo.SerialNumber
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d requests failed; first: %s", len(errs), n, errs[0])
	}
	d := time.Since(start)
	t.Logf("issued %d certificates through %d replicas in %v (%.0f/s)", n, len(servers),
		d.Round(time.Millisecond), float64(n)/d.Seconds())
	return serials
}

// waitListed polls the CRL at url until it lists serial and returns it.
func waitListed(t *testing.T, url, serial string, limit time.Duration) *x509.RevocationList {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		rl, _ := fetchCRL(t, url)
		if listed(rl, serial) {
			return rl
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not list %s after %v (CRL number %s)", url, serial, limit,
				rl.Number)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
