package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestCert issues a client certificate with anchor request and returns its
// folder and serial.
func requestCert(t *testing.T, home, cn string) (dir, serial string) {
	t.Helper()
	dir = t.TempDir()
	mustAnchor(t, home, "request", "--cn", cn, "--out", dir)
	data, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	cert := parsePEMCert(t, data)
	return dir, cert.SerialNumber.String()
}

func parsePEMCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pemDecode(data)
	c, err := x509.ParseCertificate(block)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRevokedCertificateFailsOpenSSLCRLCheck(t *testing.T) {
	openssl := needTool(t, "openssl")
	home := t.TempDir()
	mustAnchor(t, home, "init")
	var dirs []string
	var serialList []string
	for _, cn := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		d, s := requestCert(t, home, cn)
		dirs, serialList = append(dirs, d), append(serialList, s)
	}
	out := mustAnchor(t, home, "revoke", serialList[1], "--reason", "keyCompromise")
	if !strings.Contains(out, "revoked") {
		t.Errorf("revoke: %q", out)
	}
	again := mustAnchor(t, home, "revoke", serialList[1], "--reason", "keyCompromise")
	if !strings.Contains(again, "already revoked") {
		t.Errorf("second revoke: %q", again)
	}
	if r := anchor(t, home, "revoke", "123456789"); r.code == 0 ||
		!strings.Contains(r.stderr, "no certificate with serial 123456789") {
		t.Errorf("unknown serial: exit %d, %q", r.code, r.stderr)
	}
	if r := anchor(t, home, "revoke", serialList[0], "--reason", "certificateHold"); r.code == 0 ||
		!strings.Contains(r.stderr, "not supported") {
		t.Errorf("certificateHold: exit %d, %q", r.code, r.stderr)
	}
	mustAnchor(t, home, "crl", "publish")

	pub := filepath.Join(home, "public")
	root := filepath.Join(pub, "anchor-root-ca-dev.pem")
	crlPEM := filepath.Join(pub, "anchor-issuing-ca-dev.crl.pem")
	rootCRL := filepath.Join(pub, "anchor-root-ca-dev.crl.pem")
	for i, d := range dirs {
		got, err := runTool(t, openssl, "verify", "-crl_check_all", "-CAfile", root,
			"-untrusted", filepath.Join(d, "chain.pem"), "-CRLfile", crlPEM,
			"-CRLfile", rootCRL, filepath.Join(d, "cert.pem"))
		if i == 1 {
			if err == nil || !strings.Contains(got, "certificate revoked") {
				t.Errorf("revoked certificate: err=%v\n%s", err, got)
			}
			continue
		}
		if err != nil || !strings.Contains(got, ": OK") {
			t.Errorf("certificate %d: err=%v\n%s", i, err, got)
		}
	}
	text, err := runTool(t, openssl, "crl", "-inform", "DER", "-noout", "-text",
		"-in", filepath.Join(pub, "anchor-issuing-ca-dev.crl"))
	if err != nil || !strings.Contains(text, "Key Compromise") {
		t.Errorf("openssl crl -text lacks the reason: %v\n%s", err, text)
	}
	show := mustAnchor(t, home, "crl", "show")
	if !strings.Contains(show, serialList[1]) || !strings.Contains(show, "keyCompromise") {
		t.Errorf("crl show:\n%s", show)
	}
}

// startServe runs anchor serve on a free loopback port until the test ends.
func startServe(t *testing.T, home string) string {
	t.Helper()
	_, base := startServeCmd(t, home, freeAddr(t))
	return base
}

// startServeCmd starts anchor serve on addr and waits until it answers; the
// process is interrupted when the test ends, if it still runs.
func startServeCmd(t *testing.T, home, addr string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(anchorBin, append([]string{"serve", "--addr", addr}, extra...)...)
	cmd.Env = append(os.Environ(), "ANCHOR_HOME="+home)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("anchor serve log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
		select {
		case <-exited:
			t.Fatalf("anchor serve exited:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("anchor serve did not come up:\n%s", logs.String())
	return nil, ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func fetchCRL(t *testing.T, url string) (*x509.RevocationList, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	rl, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatal(err)
	}
	return rl, resp.Header
}

func listed(rl *x509.RevocationList, serial string) bool {
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.String() == serial {
			return true
		}
	}
	return false
}

// TestServeRevocationReachesCRL is the seed flow: with anchor serve running,
// anchor revoke in another process is followed by a CRL at the CDP that lists
// the serial. The bound is generous; the measured delay is logged.
func TestServeRevocationReachesCRL(t *testing.T) {
	home := t.TempDir()
	base := startServe(t, home) // first run initialises the home
	_, serial := requestCert(t, home, "stolen.example.com")

	url := base + "/anchor-issuing-ca-dev.crl"
	rl, h := fetchCRL(t, url)
	if h.Get("Content-Type") != "application/pkix-crl" || h.Get("ETag") == "" {
		t.Errorf("headers: %v", h)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("Cache-Control %q", cc)
	}
	if listed(rl, serial) {
		t.Fatal("serial listed before revocation")
	}

	start := time.Now()
	mustAnchor(t, home, "revoke", serial, "--reason", "keyCompromise")
	for {
		rl, _ = fetchCRL(t, url)
		if listed(rl, serial) {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("revoked serial not on the CRL after 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revocation to published CRL: %v (includes the revoke process)", time.Since(start))

	for name, ct := range map[string]string{
		"anchor-issuing-ca-dev.crt": "application/pkix-cert",
		"anchor-issuing-ca-dev.pem": "application/x-pem-file",
		"anchor-ca-bundle-dev.pem":  "application/x-pem-file",
		"anchor-root-ca-dev.crl":    "application/pkix-crl",
	} {
		resp, err := http.Get(base + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Errorf("%s: %s %s", name, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
}

// TestLongPollAnnouncesNewCRL holds a request with If-None-Match and
// Prefer: wait, revokes, and expects the held request to return the new CRL.
func TestLongPollAnnouncesNewCRL(t *testing.T) {
	home := t.TempDir()
	base := startServe(t, home)
	_, serial := requestCert(t, home, "held.example.com")
	url := base + "/anchor-issuing-ca-dev.crl"
	_, h := fetchCRL(t, url)

	got := make(chan *x509.RevocationList, 1)
	go func() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("If-None-Match", h.Get("ETag"))
		req.Header.Set("Prefer", "wait=30")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- nil
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		rl, _ := x509.ParseRevocationList(body)
		got <- rl
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	mustAnchor(t, home, "revoke", serial)
	select {
	case rl := <-got:
		if rl == nil || !listed(rl, serial) {
			t.Fatal("held request did not return a CRL listing the serial")
		}
		t.Logf("held request answered %v after revoke started", time.Since(start))
	case <-time.After(25 * time.Second):
		t.Fatal("held request not answered")
	}
}

// TestCRLNumbersAcrossProcesses publishes from several processes at once and
// checks that every CRL number is unique and that the published CRL carries
// the largest.
func TestCRLNumbersAcrossProcesses(t *testing.T) {
	home := t.TempDir()
	mustAnchor(t, home, "init")
	const procs, rounds = 4, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				out := anchor(t, home, "crl", "publish")
				if out.code != 0 {
					t.Errorf("crl publish: %s", out.stderr)
					return
				}
				for _, line := range strings.Split(out.stdout, "\n") {
					f := strings.Fields(line)
					if len(f) > 1 && f[0] == "anchor-issuing-ca-dev" {
						mu.Lock()
						if seen[f[1]] {
							t.Errorf("CRL number %s handed out twice", f[1])
						}
						seen[f[1]] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != procs*rounds {
		t.Fatalf("%d distinct numbers, want %d", len(seen), procs*rounds)
	}
	max := new(big.Int)
	for s := range seen {
		n, _ := new(big.Int).SetString(s, 10)
		if n.Cmp(max) > 0 {
			max = n
		}
	}
	data, _ := os.ReadFile(filepath.Join(home, "public", "anchor-issuing-ca-dev.crl"))
	rl, err := x509.ParseRevocationList(data)
	if err != nil {
		t.Fatal(err)
	}
	if rl.Number.Cmp(max) != 0 {
		t.Errorf("published CRL number %s, want the largest %s", rl.Number, max)
	}
}

func newCSRFile(t *testing.T, dir, name, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	path := writeCSR(t, key, pkix.Name{CommonName: cn})
	data, _ := os.ReadFile(path)
	if err := os.MkdirAll(filepath.Join(dir, "csrs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "csrs", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestApplyGitOpsFolder(t *testing.T) {
	home := t.TempDir()
	mustAnchor(t, home, "init")
	_, victim := requestCert(t, home, "old-device.example.com")

	dir := t.TempDir()
	newCSRFile(t, dir, "web.csr", "web.example.com")
	newCSRFile(t, dir, "backup.csr", "backup.example.com")
	writeAt := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeAt("tls.json", `[
	  {"common_name": "web.example.com", "csr_file": "web.csr", "purposes": ["server_auth"]},
	  {"common_name": "backup.example.com", "csr_file": "backup.csr", "lifetime": 90}
	]`)
	writeAt("revoked.json", `[
	  {"common_name": "old-device.example.com", "serial_number": "`+victim+`"},
	  {"common_name": "ghost.example.com", "serial_number": "424242424242"}
	]`)

	plan := mustAnchor(t, home, "apply", dir, "--dry-run")
	if !strings.Contains(plan, "2 issue, 1 revoke") {
		t.Errorf("dry run:\n%s", plan)
	}
	if len(listJSON(t, home)) != 3 {
		t.Fatal("dry run changed the store")
	}

	out := t.TempDir()
	r := anchor(t, home, "apply", dir, "--out", out)
	if r.code != 0 {
		t.Fatalf("apply: %s\n%s", r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "2 issue, 1 revoke") ||
		!strings.Contains(r.stdout, "serial 424242424242 is unknown") {
		t.Errorf("apply:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "skipped") {
		t.Errorf("no warning for the unknown serial:\n%s", r.stderr)
	}
	for _, cn := range []string{"web.example.com", "backup.example.com"} {
		data, err := os.ReadFile(filepath.Join(out, cn+".pem"))
		if err != nil || parsePEMCert(t, data).Subject.CommonName != cn {
			t.Errorf("%s.pem: %v", cn, err)
		}
	}

	second := mustAnchor(t, home, "apply", dir)
	if !strings.Contains(second, "nothing to change (2 already issued, 1 already revoked, 1 skipped)") {
		t.Errorf("second apply:\n%s", second)
	}

	writeAt("revoked.json", `[]`)
	mustAnchor(t, home, "apply", dir)
	for _, c := range listJSON(t, home) {
		if c.SerialNumber == victim && c.Status != "revoked" {
			t.Errorf("removing the entry un-revoked %s", victim)
		}
	}

	// A malformed file changes nothing and names file, entry and field.
	newCSRFile(t, dir, "new.csr", "new.example.com")
	writeAt("tls.json", `[{"common_name": "new.example.com", "csr_file": "new.csr"},
	  {"common_name": "bad.example.com", "csr_file": "new.csr", "lifetime": "long"}]`)
	bad := anchor(t, home, "apply", dir)
	if bad.code == 0 || !strings.Contains(bad.stderr, "tls.json[1]") ||
		!strings.Contains(bad.stderr, "lifetime") {
		t.Errorf("malformed tls.json: exit %d\n%s", bad.code, bad.stderr)
	}
	if len(listJSON(t, home)) != 5 {
		t.Error("a malformed folder was half applied")
	}
}
