package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestServeTLS runs anchor serve --tls: the API answers over HTTPS with a
// certificate Anchor issued to itself, a client certificate mapped to a role
// authenticates without a token, and plain HTTP keeps serving CRLs but not
// the API.
func TestServeTLS(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "anchor.yaml"),
		[]byte("mtls_roles:\n  monitor.example.com: reader\n"), 0o600)
	mustAnchor(t, home, "init")
	client := t.TempDir()
	mustAnchor(t, home, "request", "--cn", "monitor.example.com", "--out", client)
	stranger := t.TempDir()
	mustAnchor(t, home, "request", "--cn", "stranger.example.com", "--out", stranger)

	tlsAddr := freeAddr(t)
	_, base := startServeCmd(t, home, freeAddr(t), "--tls", "--tls-addr", tlsAddr)

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(mustAnchor(t, home, "ca", "--bundle"))) {
		t.Fatal("no CA certificates")
	}
	get := func(url, certDir string) int {
		t.Helper()
		cfg := &tls.Config{RootCAs: roots}
		if certDir != "" {
			pair, err := tls.LoadX509KeyPair(filepath.Join(certDir, "bundle.pem"),
				filepath.Join(certDir, "key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	https := "https://" + tlsAddr
	if code := get(https+"/v1/certificates", client); code != http.StatusOK {
		t.Errorf("mTLS reader: %d, want 200", code)
	}
	if code := get(https+"/v1/certificates", stranger); code != http.StatusUnauthorized {
		t.Errorf("unmapped client certificate: %d, want 401", code)
	}
	if code := get(https+"/v1/certificates", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", code)
	}
	if code := get(https+"/anchor-issuing-ca-dev.crl", ""); code != http.StatusOK {
		t.Errorf("CRL over HTTPS: %d", code)
	}

	resp, err := http.Get(base + "/anchor-issuing-ca-dev.crl")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CRL over plain HTTP: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/v1/certificates")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("API over plain HTTP with --tls: %d, want 404", resp.StatusCode)
	}
}
