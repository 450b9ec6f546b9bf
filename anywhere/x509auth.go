package anywhere

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Limits on what a client may send in the certificate headers.
const (
	maxCertHeader  = 16 << 10 // one base64 certificate
	maxChainHeader = 64 << 10 // the whole X-Amz-X509-Chain header
	maxChainCerts  = 8
)

// parseLeaf decodes X-Amz-X509. It is split from verification so that a
// failed attempt can still be recorded on the certificate's subject.
func parseLeaf(r *http.Request) (*x509.Certificate, error) {
	h := r.Header.Get("X-Amz-X509")
	if h == "" {
		return nil, errors.New("X-Amz-X509: header is required")
	}
	if len(h) > maxCertHeader {
		return nil, errors.New("X-Amz-X509: certificate too large")
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return nil, errors.New("X-Amz-X509: not standard base64")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("X-Amz-X509: %v", err)
	}
	return cert, nil
}

// parseChain decodes X-Amz-X509-Chain as an unordered pool: certificates
// equal to the leaf are dropped, duplicates are dropped, and the number and
// total size are capped.
func parseChain(r *http.Request, leaf *x509.Certificate) ([]*x509.Certificate, error) {
	h := r.Header.Get("X-Amz-X509-Chain")
	if h == "" {
		return nil, nil
	}
	if len(h) > maxChainHeader {
		return nil, errors.New("X-Amz-X509-Chain: header too large")
	}
	parts := strings.Split(h, ",")
	if len(parts) > maxChainCerts {
		return nil, fmt.Errorf("X-Amz-X509-Chain: more than %d certificates", maxChainCerts)
	}
	var out []*x509.Certificate
	seen := map[[32]byte]bool{sha256.Sum256(leaf.Raw): true}
	for i, p := range parts {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("X-Amz-X509-Chain: certificate %d is not base64", i)
		}
		sum := sha256.Sum256(der)
		if seen[sum] {
			continue
		}
		seen[sum] = true
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("X-Amz-X509-Chain: certificate %d: %v", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// verifyX509Signature checks the SigV4-X509 signature of r, whose body was
// read into body, with the public key of leaf. now is the server clock.
func verifyX509Signature(r *http.Request, leaf *x509.Certificate, body []byte,
	now time.Time) (authHeader, error) {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return a, err
	}
	if a.Algorithm != algECDSA && a.Algorithm != algRSA {
		return a, fmt.Errorf("bad Authorization header: unsupported algorithm %q", a.Algorithm)
	}
	if a.Service != "rolesanywhere" {
		return a, fmt.Errorf("bad credential scope: service %q, want rolesanywhere", a.Service)
	}
	serial, ok := new(big.Int).SetString(a.Credential, 10)
	if !ok || serial.Cmp(leaf.SerialNumber) != 0 {
		return a, errors.New("bad credential scope: serial does not match the certificate's serial")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if _, err := checkDate(amzDate, a, now); err != nil {
		return a, err
	}
	must := []string{"host", "x-amz-date", "x-amz-x509"}
	if r.Header.Get("X-Amz-X509-Chain") != "" {
		must = append(must, "x-amz-x509-chain")
	}
	if err := requireSigned(a.SignedHeaders, must...); err != nil {
		return a, err
	}

	headers, err := canonicalHeaders(r, a.SignedHeaders)
	if err != nil {
		return a, err
	}
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return a, err
	}
	sum := sha256.Sum256(body)
	creq := canonicalRequest("POST", "/sessions", query, headers, a.SignedHeaders,
		hex.EncodeToString(sum[:]))
	sts := stringToSign(a.Algorithm, amzDate, a.Scope(), creq)
	digest := sha256.Sum256([]byte(sts))

	switch pub := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if a.Algorithm != algECDSA {
			return a, errors.New("bad Authorization header: algorithm does not match the ECDSA key")
		}
		if !ecdsa.VerifyASN1(pub, digest[:], a.Signature) {
			return a, errSignatureMismatch
		}
	case *rsa.PublicKey:
		if a.Algorithm != algRSA {
			return a, errors.New("bad Authorization header: algorithm does not match the RSA key")
		}
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], a.Signature) != nil {
			return a, errSignatureMismatch
		}
	default:
		return a, errors.New("X-Amz-X509: certificate key must be ECDSA or RSA")
	}
	return a, nil
}

// strongSignature lists the certificate signature algorithms accepted for an
// end-entity certificate: SHA-256 or stronger.
var strongSignature = map[x509.SignatureAlgorithm]bool{
	x509.SHA256WithRSA: true, x509.SHA384WithRSA: true, x509.SHA512WithRSA: true,
	x509.SHA256WithRSAPSS: true, x509.SHA384WithRSAPSS: true, x509.SHA512WithRSAPSS: true,
	x509.ECDSAWithSHA256: true, x509.ECDSAWithSHA384: true, x509.ECDSAWithSHA512: true,
	x509.PureEd25519: true,
}

// checkEndEntity applies the end-entity rules that path validation leaves
// to the relying party.
func checkEndEntity(leaf *x509.Certificate, now time.Time) error {
	switch {
	case leaf.Version != 3:
		return fmt.Errorf("certificate must be X.509 v3, got v%d", leaf.Version)
	case leaf.BasicConstraintsValid && leaf.IsCA:
		return errors.New("certificate is a CA certificate, not an end entity")
	case leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return errors.New("certificate key usage lacks digitalSignature")
	case !strongSignature[leaf.SignatureAlgorithm]:
		return fmt.Errorf("certificate signature algorithm %v is not allowed; "+
			"SHA-256 or stronger is required", leaf.SignatureAlgorithm)
	case now.Before(leaf.NotBefore):
		return errors.New("certificate is not yet valid")
	case now.After(leaf.NotAfter):
		return errors.New("certificate has expired")
	}
	return nil
}

// verifyPath validates the certification path from leaf to one of the trust
// anchor's certificates (RFC 5280, crypto/x509) and returns the first path.
func verifyPath(leaf *x509.Certificate, inter []*x509.Certificate, ta *anchorState,
	now time.Time) ([]*x509.Certificate, error) {
	var pool *x509.CertPool
	if len(inter) > 0 {
		pool = x509.NewCertPool()
		for _, c := range inter {
			pool.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         ta.roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("certificate does not chain to trust anchor %s: %v",
			ta.anchor.ID, err)
	}
	return chains[0], nil
}

// revocationKeys names each certificate of a path (but the trust anchor's
// own root) for a CRL lookup: hash(issuer name, issuer key) || serial.
func revocationKeys(path []*x509.Certificate) []string {
	var keys []string
	for i := 0; i+1 < len(path); i++ {
		keys = append(keys, revocationKey(path[i+1], path[i].SerialNumber))
	}
	return keys
}

// revocationKey binds a serial to the issuer that would sign its CRL: the
// issuer's subject name and public key, so a CRL counts only when both its
// issuer name and its signature match the certificate's issuer.
func revocationKey(issuer *x509.Certificate, serial *big.Int) string {
	return issuerKey(issuer.RawSubject, issuer.RawSubjectPublicKeyInfo) +
		string(serial.Bytes())
}

func issuerKey(rawName, spki []byte) string {
	h := sha256.New()
	h.Write(rawName)
	h.Write([]byte{0})
	h.Write(spki)
	return string(h.Sum(nil))
}
