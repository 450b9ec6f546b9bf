package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitTwiceChangesNothing(t *testing.T) {
	home := t.TempDir()
	first := mustAnchor(t, home, "init")
	if !strings.Contains(first, "created") {
		t.Errorf("first init: %q", first)
	}
	root1 := mustAnchor(t, home, "ca", "--root")
	issuing1 := mustAnchor(t, home, "ca", "--issuing")

	second := mustAnchor(t, home, "init")
	if !strings.Contains(second, "nothing changed") {
		t.Errorf("second init: %q", second)
	}
	if mustAnchor(t, home, "ca", "--root") != root1 ||
		mustAnchor(t, home, "ca", "--issuing") != issuing1 {
		t.Error("second init changed the CA certificates")
	}
	// The serials printed by both runs are the same.
	if serials(first) != serials(second) {
		t.Errorf("CA serials changed:\n%s\n%s", first, second)
	}
	info, err := os.Stat(filepath.Join(home, "keys", "anchor-root-ca-dev.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("root key file: %v, mode %v", err, info.Mode())
	}
}

func serials(initOut string) string {
	var s []string
	for _, line := range strings.Split(initOut, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "anchor-") {
			s = append(s, f[len(f)-1])
		}
	}
	return strings.Join(s, " ")
}

func TestRequestVerifiesWithOpenSSL(t *testing.T) {
	openssl := needTool(t, "openssl")
	home, out := t.TempDir(), t.TempDir()
	mustAnchor(t, home, "init")
	mustAnchor(t, home, "request", "--cn", "device-001.example.com", "--out", out)

	rootPath := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPath, []byte(mustAnchor(t, home, "ca", "--root")), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runTool(t, openssl, "verify", "-CAfile", rootPath,
		"-untrusted", filepath.Join(out, "chain.pem"), filepath.Join(out, "cert.pem"))
	if err != nil || !strings.Contains(got, ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, got)
	}
	if got, err := runTool(t, openssl, "pkey", "-in", filepath.Join(out, "key.pem"),
		"-noout"); err != nil {
		t.Fatalf("openssl pkey: %v\n%s", err, got)
	}
	info, _ := os.Stat(filepath.Join(out, "key.pem"))
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key.pem mode %v, want 0600", info.Mode().Perm())
	}
	bundle, _ := os.ReadFile(filepath.Join(out, "bundle.pem"))
	if n := strings.Count(string(bundle), "BEGIN CERTIFICATE"); n != 3 {
		t.Errorf("bundle.pem has %d certificates, want leaf, issuing, root", n)
	}
	var last certJSON
	for _, c := range listJSON(t, home) {
		if c.CommonName == "device-001.example.com" {
			last = c
		}
	}
	if last.Status != "valid" || last.Source != "cli" {
		t.Errorf("list: %+v", last)
	}
	show := mustAnchor(t, home, "show", last.SerialNumber)
	for _, want := range []string{"device-001.example.com", "digitalSignature",
		"clientAuth", "DNS:device-001.example.com", "ECDSA P-256", "valid"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
}

// writeCSR makes a key and CSR and returns the CSR file's path.
func writeCSR(t *testing.T, key any, subject pkix.Name) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "req.csr")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestIssueRejectionsRecordNothing(t *testing.T) {
	home := t.TempDir()
	mustAnchor(t, home, "init")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := writeCSR(t, ec, pkix.Name{CommonName: "x.example.com"})

	tampered := func() string {
		data, _ := os.ReadFile(good)
		block, _ := pem.Decode(data)
		block.Bytes[len(block.Bytes)-3] ^= 0x01 // inside the signature
		return writeFile(t, "tampered.csr", string(pem.EncodeToMemory(block)))
	}()
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak := writeCSR(t, rsa1024, pkix.Name{CommonName: "weak.example.com"})
	huge := filepath.Join(t.TempDir(), "huge.json")
	if err := os.WriteFile(huge, []byte(`{"common_name": "`+
		strings.Repeat("a", 10<<20)+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	req := writeFile(t, "req.json", `{"common_name": "x.example.com"}`)
	for _, tc := range []struct {
		name, request, csr, want string
	}{
		{"tampered signature", req, tampered, "signature"},
		{"RSA-1024", req, weak, "2048"},
		{"3-letter country", writeFile(t, "c.json",
			`{"common_name": "x.example.com", "country": "GBR"}`), good, "country"},
		{"10 MB request", huge, good, "larger than"},
		{"zero lifetime", writeFile(t, "l.json",
			`{"common_name": "x.example.com", "lifetime": 0}`), good, "0 is too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := anchor(t, home, "issue", "--request", tc.request, "--csr", tc.csr)
			if r.code == 0 {
				t.Fatalf("issue succeeded: %s", r.stdout)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(r.stdout), &body); err != nil {
				t.Fatalf("stdout is not {\"error\"}: %q (%v)", r.stdout, err)
			}
			if !strings.Contains(body["error"], tc.want) {
				t.Errorf("error %q does not mention %q", body["error"], tc.want)
			}
		})
	}
	if certs := listJSON(t, home); len(certs) != 2 { // the two CA certificates
		t.Errorf("rejected requests recorded certificates: %+v", certs)
	}

	// The untampered request goes through and prints the response JSON.
	out := mustAnchor(t, home, "issue", "--request", req, "--csr", good)
	var resp struct {
		CertificateInfo                           struct{ CommonName, SerialNumber, Issued, Expires string }
		Base64Certificate, Subject, Base64CaChain string
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.CertificateInfo.CommonName != "x.example.com" || resp.Subject != "CN=x.example.com" ||
		resp.Base64Certificate == "" || resp.Base64CaChain == "" {
		t.Errorf("response: %s", out)
	}
}
