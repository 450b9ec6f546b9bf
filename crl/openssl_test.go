package crl

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const opensslInstall = "apt-get install -y openssl"

// openssl runs the openssl command line with args and returns its combined
// output and whether it exited with status 0.
func openssl(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	bin := needTool(t, "/usr/bin/openssl", opensslInstall)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("running openssl %s: %v", strings.Join(args, " "), err)
	}
	return string(out), err == nil
}

// TestOpenSSL has openssl print and verify Anchor's CRLs for every key type.
func TestOpenSSL(t *testing.T) {
	for _, kind := range []keyKind{p256, p384, p521, rsa2048, edKey} {
		t.Run(string(kind), func(t *testing.T) {
			iss, key := testIssuer(t, kind)
			p := testParams(iss, key)
			p.Number = new(big.Int).SetUint64(1<<64 - 1)
			entries := append(specialEntries(p.ThisUpdate),
				Entry{Serial: big.NewInt(0x1234), RevokedAt: p.ThisUpdate,
					Reason: ReasonCessationOfOperation})
			der, err := Build(p, entries)
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			crlFile := filepath.Join(dir, "issuing.crl")
			pemFile := filepath.Join(dir, "issuing.crl.pem")
			issFile := filepath.Join(dir, "issuer.pem")
			write(t, crlFile, der)
			write(t, pemFile, PEM(der))
			write(t, issFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
				Bytes: iss.Raw}))

			text, ok := openssl(t, "crl", "-inform", "DER", "-in", crlFile, "-text", "-noout")
			if !ok {
				t.Fatalf("openssl crl -text failed:\n%s", text)
			}
			for _, want := range []string{
				"Version 2 (0x1)",
				"Issuer: CN = Cloud Issuing CA, C = GB, L = London, O = Cloud CA, " +
					"OU = Security Operations",
				"Last Update: Jun  1 10:24:36 2025 GMT",
				"Next Update: Jun  2 10:34:36 2025 GMT",
				"X509v3 CRL Number: \n                18446744073709551615\n",
				"Serial Number: 01\n        Revocation Date: Jun  1 09:24:36 2025 GMT\n" +
					"        CRL entry extensions:\n            X509v3 CRL Reason Code: \n" +
					"                Key Compromise\n",
				"Serial Number: " + strings.Repeat("FF", 20) + "\n" +
					"        Revocation Date: Jun  1 10:24:36 2025 GMT\n    Serial Number: 80\n",
				"Superseded",
				"Serial Number: 1234",
				"Cessation Of Operation",
				"X509v3 Authority Key Identifier: \n                " +
					colonHex(iss.SubjectKeyId) + "\n",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, text)
				}
			}

			// The PEM file is the same CRL.
			fromPEM, ok := openssl(t, "crl", "-in", pemFile, "-text", "-noout")
			if !ok || fromPEM != text {
				t.Errorf("openssl reads the PEM differently:\n%s", fromPEM)
			}

			out, ok := openssl(t, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", issFile,
				"-noout")
			if !ok || !strings.Contains(out, "verify OK") {
				t.Errorf("openssl crl -CAfile: exit ok=%v, output %q; want verify OK", ok, out)
			}

			// A CRL whose thisUpdate was changed after signing must not
			// verify.
			tampered := bytes.Replace(der, []byte("250601102436Z"), []byte("250601102437Z"), 1)
			if bytes.Equal(tampered, der) {
				t.Fatal("thisUpdate not found in the CRL")
			}
			write(t, crlFile, tampered)
			out, _ = openssl(t, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", issFile,
				"-noout")
			// OpenSSL 3.0 exits with status 0 even when the signature does
			// not verify, so only the output tells.
			if !strings.Contains(out, "verify failure") || strings.Contains(out, "verify OK") {
				t.Errorf("openssl on a CRL signed by another key: %q, want verify failure", out)
			}
		})
	}
}

// TestOpenSSLEmpty checks that openssl reads a CRL without entries, which
// leaves revokedCertificates out rather than writing an empty SEQUENCE.
func TestOpenSSLEmpty(t *testing.T) {
	iss, key := testIssuer(t, p256)
	p := testParams(iss, key)
	p.ThisUpdate = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	p.NextUpdate = p.ThisUpdate.Add(time.Hour)
	der, err := Build(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crlFile, issFile := filepath.Join(dir, "empty.crl"), filepath.Join(dir, "issuer.pem")
	write(t, crlFile, der)
	write(t, issFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Raw}))
	text, ok := openssl(t, "crl", "-inform", "DER", "-in", crlFile, "-text", "-noout",
		"-CAfile", issFile)
	if !ok {
		t.Fatalf("openssl failed:\n%s", text)
	}
	for _, want := range []string{"verify OK", "No Revoked Certificates.",
		"Last Update: Jan  1 00:00:00 2050 GMT", "X509v3 CRL Number: \n                531\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl output lacks %q:\n%s", want, text)
		}
	}
}

// colonHex formats b the way openssl prints key identifiers: 50:2D:...
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
