package crl

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/signer"
)

// testdataCRL is the serverless CA's CRL described in its README.
const testdataCRL = "../../shared/testdata/serverless-issuing-ca-dev.crl.pem"

// serverlessIssuer is the DER issuer Name of testdataCRL: CN, C, L, O and OU,
// with UTF8String values where encoding/asn1 would choose PrintableString, so
// that a CA made from it shows whether the issuer is copied byte for byte.
var serverlessIssuer = mustHex("306a3119301706035504030c10436c6f75642049737375696e67204341" +
	"310b3009060355040613024742310f300d06035504070c064c6f6e646f6e" +
	"3111300f060355040a0c08436c6f7564204341311c301a060355040b0c13" +
	"5365637572697479204f7065726174696f6e73")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// keyKind names the issuer keys the tests sign with.
type keyKind string

const (
	p256    keyKind = "P-256"
	p384    keyKind = "P-384"
	p521    keyKind = "P-521"
	rsa2048 keyKind = "RSA-2048"
	edKey   keyKind = "Ed25519"
)

var (
	keysMu sync.Mutex
	keys   = map[keyKind]crypto.Signer{}
)

// testKey returns a key of kind, made once per test binary (RSA is slow).
func testKey(t testing.TB, kind keyKind) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[kind]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case p256, p256 + "-other":
		k, err = signer.ECDSAP256.Generate(nil)
	case p384:
		k, err = signer.ECDSAP384.Generate(nil)
	case p521:
		k, err = signer.ECDSAP521.Generate(nil)
	case rsa2048:
		k, err = signer.RSA2048.Generate(nil)
	case edKey:
		_, k, err = ed25519.GenerateKey(nil)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatalf("generating %s key: %v", kind, err)
	}
	keys[kind] = k
	return k
}

// newCA makes a self-signed CA certificate for key with the given DER subject
// and subject key identifier, allowed to sign CRLs.
func newCA(t testing.TB, key crypto.Signer, rawSubject, skid []byte) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		RawSubject:            rawSubject,
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("creating CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing CA certificate: %v", err)
	}
	return cert
}

// testIssuer returns a CA of kind named like the serverless CA's issuer.
func testIssuer(t testing.TB, kind keyKind) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testKey(t, kind)
	skid := []byte(string(kind) + " key id padded to 20")[:20]
	return newCA(t, key, serverlessIssuer, skid), key
}

// testParams returns Params for issuer and key with fixed dates: thisUpdate
// carries nanoseconds and a non-UTC zone to show both are normalized.
func testParams(iss *x509.Certificate, key crypto.Signer) Params {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	this := time.Date(2025, 6, 1, 15, 54, 36, 987654321, zone)
	return Params{
		Issuer:     iss,
		Signer:     key,
		Number:     big.NewInt(531),
		ThisUpdate: this,
		NextUpdate: this.Add(24*time.Hour + 600*time.Second),
	}
}

// testEntries returns n entries revoked in the five years before this, with
// unique serials of 1 to 20 bytes (a third with the top bit set, so that
// DER needs a 0x00 pad) and every reason a complete CRL allows, in turn.
func testEntries(n int, this time.Time) []Entry {
	reasons := []int{0, 1, 2, 3, 4, 5, 6, 9, 10}
	rng := mrand.New(mrand.NewPCG(uint64(n), 5280))
	seen := map[string]bool{}
	entries := make([]Entry, 0, n)
	for i := 0; len(entries) < n; i++ {
		b := make([]byte, 1+i%20)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%3 == 0 {
			b[0] |= 0x80
		} else {
			b[0] = b[0]&0x7f | 0x01
		}
		if seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		back := time.Duration(rng.Int64N(int64(5 * 365 * 24 * time.Hour)))
		entries = append(entries, Entry{
			Serial:    new(big.Int).SetBytes(b),
			RevokedAt: this.Add(-back),
			Reason:    reasons[i%len(reasons)],
		})
	}
	return entries
}

// needTool returns the path of an outside tool, skipping the test when it is
// missing, or failing it when CI is "true".
func needTool(t *testing.T, path, install string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; install it with: %s", path, install)
		}
		t.Skipf("%s is missing (install with: %s)", path, install)
	}
	return path
}
