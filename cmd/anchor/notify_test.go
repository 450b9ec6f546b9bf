package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// receiver is a webhook endpoint that checks every signature and keeps each
// event once, by its id, counting duplicates.
type receiver struct {
	secret  string
	failing atomic.Bool

	mu         sync.Mutex
	events     map[string]map[string]any // id -> envelope
	duplicates int
	badSig     int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.failing.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := notify.VerifySignature(r.secret, req.Header.Get(notify.HeaderSignature), body,
		time.Now(), time.Minute); err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, _ := env["Id"].(string)
	if id != req.Header.Get(notify.HeaderEventID) {
		http.Error(w, "id header mismatch", http.StatusBadRequest)
		return
	}
	if _, seen := r.events[id]; seen {
		r.duplicates++
	}
	r.events[id] = env
	w.WriteHeader(http.StatusNoContent)
}

// bySubject returns the messages received for an event subject.
func (r *receiver) bySubject(subject string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, env := range r.events {
		if env["Subject"] == subject {
			msg, _ := env["Message"].(map[string]any)
			out = append(out, msg)
		}
	}
	return out
}

func (r *receiver) waitFor(t *testing.T, subject string, n int, within time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.bySubject(subject)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %q events after %v, want %d", len(got), subject, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// apiPost sends a JSON body with a bearer token and returns status and body.
func apiPost(t *testing.T, url, token string, body any) (int, []byte) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func newCSRBase64(t *testing.T, cn string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// TestWebhookEventsSurviveRestart drives anchor serve over HTTP and checks
// that a webhook receives Issued, Rejected and Revoked events with the
// serverless CA's keys and a valid HMAC, and that events recorded while the
// receiver was down and the server was killed are delivered after a restart,
// each once.
func TestWebhookEventsSurviveRestart(t *testing.T) {
	rcv := &receiver{secret: "whsec-test", events: map[string]map[string]any{}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()

	home := t.TempDir()
	secretFile := filepath.Join(home, "hook.secret")
	os.WriteFile(secretFile, []byte(rcv.secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(home, "anchor.yaml"), []byte(fmt.Sprintf(`notify:
  webhooks:
    - name: ops
      url: %s
      secret_file: %s
  retry_base_delay: 500ms
`, hook.URL, secretFile)), 0o600)
	mustAnchor(t, home, "init")
	token := strings.TrimSpace(mustAnchor(t, home, "token", "create", "--name", "ci",
		"--role", "admin"))

	addr := freeAddr(t)
	serve, base := startServeCmd(t, home, addr)
	status, body := apiPost(t, base+"/v1/certificates", token, map[string]any{
		"common_name": "web-1.example.com", "notify_issued": true,
		"base64_csr_data": newCSRBase64(t, "web-1.example.com")})
	if status != http.StatusCreated {
		t.Fatalf("issue: %d %s", status, body)
	}
	var resp struct{ CertificateInfo struct{ SerialNumber string } }
	json.Unmarshal(body, &resp)
	serial := resp.CertificateInfo.SerialNumber

	status, body = apiPost(t, base+"/v1/certificates", token, map[string]any{
		"common_name": "bad.example.com", "lifetime": 0,
		"base64_csr_data": newCSRBase64(t, "bad.example.com")})
	if status/100 != 4 || !strings.Contains(string(body), "0 is too short") {
		t.Fatalf("rejection: %d %s", status, body)
	}
	status, body = apiPost(t, base+"/v1/certificates/"+serial+"/revoke", token,
		map[string]string{"reason": "keyCompromise"})
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}

	issued := rcv.waitFor(t, "Certificate Issued", 1, 20*time.Second)
	if k := keys(issued[0]); k != "Base64Certificate,CertificateInfo,Subject" {
		t.Errorf("Issued keys %s", k)
	}
	info, _ := issued[0]["CertificateInfo"].(map[string]any)
	if info["SerialNumber"] != serial || info["CommonName"] != "web-1.example.com" {
		t.Errorf("Issued CertificateInfo %v", info)
	}
	rejected := rcv.waitFor(t, "Certificate Request Rejected", 1, 20*time.Second)
	if k := keys(rejected[0]); k != "Base64CSR,CSRInfo,Reason,Subject" {
		t.Errorf("Rejected keys %s", k)
	}
	if rejected[0]["Reason"] != "0 is too short" {
		t.Errorf("Rejected reason %v", rejected[0]["Reason"])
	}
	revoked := rcv.waitFor(t, "Certificate Revoked", 1, 20*time.Second)
	if k := keys(revoked[0]); k != "CommonName,Revoked,SerialNumber,Subject" {
		t.Errorf("Revoked keys %s", k)
	}
	if revoked[0]["SerialNumber"] != serial {
		t.Errorf("Revoked serial %v, want %s", revoked[0]["SerialNumber"], serial)
	}

	// The receiver goes down; changes are made; the server dies before it
	// could deliver them; the receiver comes back; a new server delivers.
	rcv.failing.Store(true)
	status, body = apiPost(t, base+"/v1/certificates", token, map[string]any{
		"common_name": "web-2.example.com", "notify_issued": true,
		"base64_csr_data": newCSRBase64(t, "web-2.example.com")})
	if status != http.StatusCreated {
		t.Fatalf("issue during outage: %d %s", status, body)
	}
	json.Unmarshal(body, &resp)
	apiPost(t, base+"/v1/certificates/"+resp.CertificateInfo.SerialNumber+"/revoke", token,
		map[string]string{"reason": "superseded"})
	time.Sleep(300 * time.Millisecond) // let a delivery attempt fail
	if err := serve.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	serve.Process.Wait()

	rcv.failing.Store(false)
	startServeCmd(t, home, addr)
	rcv.waitFor(t, "Certificate Issued", 2, 30*time.Second)
	rcv.waitFor(t, "Certificate Revoked", 2, 30*time.Second)
	time.Sleep(time.Second) // room for a duplicate to show up
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.duplicates != 0 || rcv.badSig != 0 {
		t.Errorf("%d duplicate deliveries, %d bad signatures", rcv.duplicates, rcv.badSig)
	}
}
