package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func apiGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("GET %s: no X-Request-Id", url)
	}
	return resp.StatusCode, body
}

// TestServeAPIRoles starts anchor serve and drives its API with the Go HTTP
// client: each token role, revocation, filtered listing, the CRL and metrics.
func TestServeAPIRoles(t *testing.T) {
	home := t.TempDir()
	mustAnchor(t, home, "init")
	token := func(name, role string, extra ...string) string {
		args := append([]string{"token", "create", "--name", name, "--role", role}, extra...)
		return strings.TrimSpace(mustAnchor(t, home, args...))
	}
	reader := token("dashboard", "reader")
	issuer := token("fleet", "issuer", "--allow-cn", "*.devices.example.com",
		"--max-lifetime", "30")
	revoker := token("soc", "revoker")
	base := startServe(t, home)
	certs := base + "/v1/certificates"
	csr := func(cn string) map[string]any {
		return map[string]any{"common_name": cn, "base64_csr_data": newCSRBase64(t, cn)}
	}

	if code, _ := apiGet(t, certs, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := apiGet(t, certs, "anc_not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("unknown token: %d, want 401", code)
	}
	if code, body := apiPost(t, certs, reader, csr("a.devices.example.com")); code != http.StatusForbidden {
		t.Errorf("reader issuing: %d %s, want 403", code, body)
	}
	code, body := apiPost(t, certs, issuer, csr("evil.example.com"))
	if code != http.StatusForbidden || !strings.Contains(string(body), "evil.example.com") {
		t.Errorf("issuer outside its pattern: %d %s, want 403 naming the name", code, body)
	}
	req := csr("a.devices.example.com")
	req["lifetime"] = 90
	if code, body := apiPost(t, certs, issuer, req); code != http.StatusForbidden ||
		!strings.Contains(string(body), "30") {
		t.Errorf("issuer over its lifetime: %d %s, want 403 naming the limit", code, body)
	}

	var issued []string
	for _, cn := range []string{"a.devices.example.com", "b.devices.example.com"} {
		code, body := apiPost(t, certs, issuer, csr(cn))
		if code != http.StatusCreated {
			t.Fatalf("issue %s: %d %s", cn, code, body)
		}
		var resp struct{ CertificateInfo struct{ SerialNumber string } }
		json.Unmarshal(body, &resp)
		issued = append(issued, resp.CertificateInfo.SerialNumber)
	}
	if code, body := apiPost(t, certs+"/"+issued[0]+"/revoke", issuer,
		map[string]string{"reason": "keyCompromise"}); code != http.StatusForbidden {
		t.Errorf("issuer revoking: %d %s, want 403", code, body)
	}
	if code, body := apiPost(t, certs+"/"+issued[0]+"/revoke", revoker,
		map[string]string{"reason": "keyCompromise"}); code != http.StatusOK {
		t.Fatalf("revoker revoking: %d %s", code, body)
	}

	var list struct {
		Certificates []struct{ Serial, CommonName, Status string }
	}
	code, body = apiGet(t, certs+"?status=revoked", reader)
	if code != http.StatusOK {
		t.Fatalf("list: %d %s", code, body)
	}
	json.Unmarshal(body, &list)
	if len(list.Certificates) != 1 || list.Certificates[0].Serial != issued[0] {
		t.Errorf("revoked list: %s", body)
	}
	code, body = apiGet(t, certs+"?cn=b.devices.example.com&status=valid", reader)
	json.Unmarshal(body, &list)
	if code != http.StatusOK || len(list.Certificates) != 1 ||
		list.Certificates[0].Serial != issued[1] {
		t.Errorf("filtered list: %d %s", code, body)
	}

	deadline := time.Now().Add(20 * time.Second)
	for rl, _ := fetchCRL(t, base+"/anchor-issuing-ca-dev.crl"); !listed(rl, issued[0]); {
		if time.Now().After(deadline) {
			t.Fatal("revoked serial not on the CRL after 20 s")
		}
		time.Sleep(20 * time.Millisecond)
		rl, _ = fetchCRL(t, base+"/anchor-issuing-ca-dev.crl")
	}
	code, body = apiGet(t, base+"/metrics", "")
	for _, family := range []string{"anchor_crl_age_seconds{issuer=\"anchor-issuing-ca-dev\"}",
		"anchor_crl_next_update_seconds{issuer=\"anchor-issuing-ca-dev\"}",
		"anchor_certificates_issued_total", "anchor_certificates_revoked_total"} {
		if code != http.StatusOK || !strings.Contains(string(body), family) {
			t.Errorf("metrics lack %s", family)
		}
	}
}
