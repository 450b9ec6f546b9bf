package profile

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needOpenSSL returns the openssl binary, or skips (fails under CI=true) when
// it is missing.
func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		msg := "openssl not found; install it with: apt-get install -y openssl"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

func runOpenSSL(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpenSSL evaluates a CSR made by openssl and has openssl read back the
// certificate signed from the template: the subject string must be the one
// SubjectString gives, and the SANs and EKUs the requested ones.
func TestOpenSSL(t *testing.T) {
	bin := needOpenSSL(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.pem")
	csrPath := filepath.Join(dir, "csr.pem")
	runOpenSSL(t, bin, "req", "-new", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath, "-out", csrPath,
		"-subj", "/C=DE/O=Org/OU=Team/CN=openssl.example.com/title=Dropped",
		"-addext", "subjectAltName=DNS:ignored.example.com")
	csrPEM, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}

	data := requestJSON(t, base64.StdEncoding.EncodeToString(csrPEM), map[string]any{
		"common_name": "", "country": "US", "locality": "New York", "state": "New York",
		"organization": "Serverless Inc", "organizational_unit": "DevOps",
		"purposes": []string{"server_auth", "client_auth"},
		"sans": map[string]any{"DNS_NAME": "a.example.com", "IP_ADDRESS": "10.0.0.1",
			"URL": "spiffe://example.org/backup"},
	})
	tmpl := mustEvaluate(t, data, Policy{})
	cert := sign(t, tmpl)
	certPath := filepath.Join(dir, "cert.pem")
	err = os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: cert.Raw}), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	want, err := SubjectString(cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	if want != "ST=New York,OU=DevOps,O=Serverless Inc,L=New York,C=US,CN=openssl.example.com" {
		t.Errorf("SubjectString = %q", want)
	}
	got := runOpenSSL(t, bin, "x509", "-in", certPath, "-noout", "-subject",
		"-nameopt", "RFC2253")
	if got = strings.TrimSpace(got); got != "subject="+want {
		t.Errorf("openssl subject = %q, want %q", got, "subject="+want)
	}

	ext := runOpenSSL(t, bin, "x509", "-in", certPath, "-noout", "-ext",
		"subjectAltName,extendedKeyUsage,keyUsage")
	for _, line := range []string{
		"DNS:a.example.com, IP Address:10.0.0.1, URI:spiffe://example.org/backup",
		"TLS Web Server Authentication, TLS Web Client Authentication",
		"Digital Signature\n",
	} {
		if !strings.Contains(ext, line) {
			t.Errorf("openssl -ext output lacks %q:\n%s", line, ext)
		}
	}
	if strings.Contains(ext, "ignored.example.com") {
		t.Errorf("the CSR's own SAN reached the certificate:\n%s", ext)
	}
}

// TestOpenSSLWeakKey has openssl make a CSR with a 1024-bit RSA key.
func TestOpenSSLWeakKey(t *testing.T) {
	bin := needOpenSSL(t)
	dir := t.TempDir()
	csrPath := filepath.Join(dir, "csr.pem")
	runOpenSSL(t, bin, "req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout",
		filepath.Join(dir, "key.pem"), "-out", csrPath, "-subj", "/CN=weak.example.com")
	csrPEM, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	// Plain PEM text in base64_csr_data is accepted too.
	_, err = evaluate(t, requestJSON(t, string(csrPEM), nil), Policy{})
	wantRejection(t, err, "base64_csr_data: key does not meet the key policy: RSA key of "+
		"1024 bits is too small (minimum 2048)")
}
