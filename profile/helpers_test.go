package profile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testKeys caches generated keys: RSA generation is slow and the tests need
// only one key of each kind (plus fresh ones where reuse matters).
var (
	testKeysMu sync.Mutex
	testKeys   = map[string]crypto.Signer{}
)

func testKey(tb testing.TB, kind string) crypto.Signer {
	tb.Helper()
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	if k, ok := testKeys[kind]; ok {
		return k
	}
	k := newKey(tb, kind)
	testKeys[kind] = k
	return k
}

func newKey(tb testing.TB, kind string) crypto.Signer {
	tb.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		tb.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		tb.Fatalf("generate %s key: %v", kind, err)
	}
	return k
}

// csrDER makes a CSR with crypto/x509.
func csrDER(tb testing.TB, key crypto.Signer, subject pkix.Name) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		tb.Fatalf("create CSR: %v", err)
	}
	return der
}

func csrPEM(tb testing.TB, key crypto.Signer, subject pkix.Name) []byte {
	tb.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST",
		Bytes: csrDER(tb, key, subject)})
}

// b64CSR is what the serverless CA's clients send: base64 of the PEM CSR.
func b64CSR(tb testing.TB, key crypto.Signer, subject pkix.Name) string {
	tb.Helper()
	return base64.StdEncoding.EncodeToString(csrPEM(tb, key, subject))
}

func cnSubject(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

// requestJSON merges fields into {"base64_csr_data": csr} and returns the JSON.
func requestJSON(tb testing.TB, csr string, fields map[string]any) []byte {
	tb.Helper()
	m := map[string]any{}
	if csr != "" {
		m["base64_csr_data"] = csr
	}
	for k, v := range fields {
		m[k] = v
	}
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatalf("marshal request: %v", err)
	}
	return data
}

// evaluate parses the JSON and evaluates it without key history.
func evaluate(tb testing.TB, data []byte, pol Policy) (*Template, error) {
	tb.Helper()
	req, err := Parse(data)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", data, err)
	}
	return Evaluate(req, pol, nil, false)
}

func mustEvaluate(tb testing.TB, data []byte, pol Policy) *Template {
	tb.Helper()
	tmpl, err := evaluate(tb, data, pol)
	if err != nil {
		tb.Fatalf("Evaluate(%s): %v", data, err)
	}
	return tmpl
}

// wantRejection checks that err is a *Rejection with exactly this message.
func wantRejection(tb testing.TB, err error, want string) *Rejection {
	tb.Helper()
	var rej *Rejection
	if !errors.As(err, &rej) {
		tb.Fatalf("error = %v (%T), want *Rejection %q", err, err, want)
	}
	if rej.Message != want || err.Error() != want {
		tb.Fatalf("rejection = %q, want %q", rej.Message, want)
	}
	return rej
}

// testCA is a throwaway issuer used to sign templates the way package ca does,
// so that tests can read the result back with crypto/x509.
var (
	testCAOnce sync.Once
	testCACert *x509.Certificate
	testCAKey  crypto.Signer
	testCAErr  error
)

func issuer(tb testing.TB) (*x509.Certificate, crypto.Signer) {
	tb.Helper()
	testCAOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			testCAErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "profile test CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			testCAErr = err
			return
		}
		testCACert, testCAErr = x509.ParseCertificate(der)
		testCAKey = key
	})
	if testCAErr != nil {
		tb.Fatalf("test CA: %v", testCAErr)
	}
	return testCACert, testCAKey
}

// sign issues a certificate from the template as package ca does and parses
// it back with crypto/x509.
func sign(tb testing.TB, t *Template) *x509.Certificate {
	tb.Helper()
	caCert, caKey := issuer(tb)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		RawSubject:            t.RawSubject,
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(t.Lifetime),
		KeyUsage:              t.KeyUsage,
		BasicConstraintsValid: true,
		ExtraExtensions:       t.Extensions,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, t.CSR.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("sign template: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse signed certificate: %v", err)
	}
	return cert
}

func findExt(exts []pkix.Extension, oid asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range exts {
		if e.Id.Equal(oid) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

// decodeEKU reads the OIDs of the template's EKU extension.
func decodeEKU(tb testing.TB, t *Template) []asn1.ObjectIdentifier {
	tb.Helper()
	ext, ok := findExt(t.Extensions, oidExtExtKeyUsage)
	if !ok {
		tb.Fatal("template has no EKU extension")
	}
	if ext.Critical {
		tb.Error("EKU extension is critical, want non-critical")
	}
	var oids []asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(ext.Value, &oids); err != nil || len(rest) > 0 {
		tb.Fatalf("decode EKU extension: %v (rest %d bytes)", err, len(rest))
	}
	return oids
}

func oidStrings(oids []asn1.ObjectIdentifier) []string {
	out := make([]string, len(oids))
	for i, o := range oids {
		out[i] = o.String()
	}
	return out
}
