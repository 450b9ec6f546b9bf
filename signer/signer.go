// Package signer names the key types Anchor uses and the policy it holds keys to.
//
// A CA key is any crypto.Signer: a key file in the home folder (signer/file), an
// AWS KMS key (signer/kms) or a PKCS#11 object (signer/pkcs11). Callers never see
// private key material; they sign through the interface, so the key may live in
// hardware. The signature algorithm follows the key: P-256 signs with SHA-256,
// P-384 with SHA-384, P-521 with SHA-512 and RSA with SHA-256 (PKCS#1 v1.5).
//
// The key policy for subscriber keys is RSA of at least 2048 bits or ECDSA on
// P-256, P-384 or P-521. Ed25519 is accepted as well, since every current TLS
// stack verifies it.
package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyType names a key algorithm and size as written in configuration and on the
// command line.
type KeyType string

// The supported key types.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	ECDSAP521 KeyType = "ecdsa-p521"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	RSA4096   KeyType = "rsa-4096"
)

// KeyTypes lists the supported key types in the order the documentation gives.
var KeyTypes = []KeyType{ECDSAP256, ECDSAP384, ECDSAP521, RSA2048, RSA3072, RSA4096}

// ParseKeyType checks that s names a supported key type.
func ParseKeyType(s string) (KeyType, error) {
	for _, k := range KeyTypes {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	names := make([]string, len(KeyTypes))
	for i, k := range KeyTypes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown key type %q (want one of %s)", s,
		strings.Join(names, ", "))
}

// Generate makes a new private key of this type. rnd may be nil for crypto/rand.
func (k KeyType) Generate(rnd io.Reader) (crypto.Signer, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	switch k {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rnd)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rnd)
	case ECDSAP521:
		return ecdsa.GenerateKey(elliptic.P521(), rnd)
	case RSA2048:
		return rsa.GenerateKey(rnd, 2048)
	case RSA3072:
		return rsa.GenerateKey(rnd, 3072)
	case RSA4096:
		return rsa.GenerateKey(rnd, 4096)
	}
	return nil, fmt.Errorf("unknown key type %q", string(k))
}

// SignatureAlgorithm returns the algorithm a CA with this public key signs with.
func SignatureAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return x509.ECDSAWithSHA384, nil
		case elliptic.P521():
			return x509.ECDSAWithSHA512, nil
		}
		return 0, fmt.Errorf("unsupported ECDSA curve %s", pub.Curve.Params().Name)
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case ed25519.PublicKey:
		return x509.PureEd25519, nil
	}
	return 0, fmt.Errorf("unsupported public key type %T", pub)
}

// ErrKeyPolicy is wrapped by every CheckPublicKey failure.
var ErrKeyPolicy = errors.New("key does not meet the key policy")

// CheckPublicKey holds a subscriber or CA public key to the key policy.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s is not allowed (want P-256, P-384 or P-521)",
			ErrKeyPolicy, pub.Curve.Params().Name)
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n < 2048 {
			return fmt.Errorf("%w: RSA key of %d bits is too small (minimum 2048)",
				ErrKeyPolicy, n)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("%w: unsupported public key type %T", ErrKeyPolicy, pub)
}

// Describe names a public key for people, e.g. "ECDSA P-256" or "RSA 3072".
func Describe(pub crypto.PublicKey) string {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + pub.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", pub.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
