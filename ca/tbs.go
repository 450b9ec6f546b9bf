package ca

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// leafTemplate is what an end-entity certificate is made of. Its encoding
// (encodeTBS) gives the same bytes as x509.CreateCertificate for the same
// fields, which a test holds it to; Anchor encodes it itself because
// CreateCertificate verifies every signature it makes, and for ECDSA that
// check costs twice the signature and a third of the time of an issuance.
// The signer here is the CA's own key, so the check guards against nothing
// that the CA's tests and start-up check do not already cover.
type leafTemplate struct {
	serial    *big.Int
	sigAlg    x509.SignatureAlgorithm
	issuer    []byte // the issuing CA certificate's RawSubject
	notBefore time.Time
	notAfter  time.Time
	subject   []byte // RawSubject
	spki      []byte // RawSubjectPublicKeyInfo of the subject's key
	keyUsage  x509.KeyUsage
	ski, aki  []byte
	crlURL    string // empty: no CDP
	aiaURL    string // empty: no AIA
	extra     []pkix.Extension
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSKI              = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAKI              = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidAIA              = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidCAIssuers        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 2}
	oidCDP              = asn1.ObjectIdentifier{2, 5, 29, 31}
)

// signatureAlgorithms maps the algorithms Anchor's CAs sign with to their
// AlgorithmIdentifier (RFC 5758 section 3.2: no parameters for ECDSA; RFC 4055:
// NULL parameters for RSA) and hash.
var signatureAlgorithms = map[x509.SignatureAlgorithm]struct {
	oid  asn1.ObjectIdentifier
	null bool
	hash crypto.Hash
}{
	x509.ECDSAWithSHA256: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, false, crypto.SHA256},
	x509.ECDSAWithSHA384: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, false, crypto.SHA384},
	x509.ECDSAWithSHA512: {asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, false, crypto.SHA512},
	x509.SHA256WithRSA:   {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, true, crypto.SHA256},
	x509.PureEd25519:     {asn1.ObjectIdentifier{1, 3, 101, 112}, false, 0},
}

func addAlgorithm(b *cryptobyte.Builder, alg x509.SignatureAlgorithm) {
	a := signatureAlgorithms[alg]
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(a.oid)
		if a.null {
			b.AddASN1NULL()
		}
	})
}

// addTime writes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280
// section 4.1.2.5).
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if t.Year() < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
}

func addExtension(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, critical bool,
	value func(*cryptobyte.Builder)) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1(cbasn1.OCTET_STRING, value)
	})
}

// keyUsageBits encodes KeyUsage as the minimal DER BIT STRING contents.
func keyUsageBits(ku x509.KeyUsage) []byte {
	var bits [2]byte
	last := -1
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			bits[i/8] |= 0x80 >> (i % 8)
			last = i
		}
	}
	if last < 0 {
		return []byte{0}
	}
	n := last/8 + 1
	return append([]byte{byte(7 - last%8)}, bits[:n]...)
}

// encodeTBS returns the DER TBSCertificate (RFC 5280 section 4.1), with the
// extensions in the order crypto/x509 writes them.
func (t *leafTemplate) encodeTBS() ([]byte, error) {
	if _, ok := signatureAlgorithms[t.sigAlg]; !ok {
		return nil, fmt.Errorf("unsupported signature algorithm %v", t.sigAlg)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2) // v3
		})
		b.AddASN1BigInt(t.serial)
		addAlgorithm(b, t.sigAlg)
		b.AddBytes(t.issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, t.notBefore)
			addTime(b, t.notAfter)
		})
		if len(t.subject) > 0 {
			b.AddBytes(t.subject)
		} else {
			b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {})
		}
		b.AddBytes(t.spki)
		b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, t.addExtensions)
		})
	})
	return b.Bytes()
}

func (t *leafTemplate) addExtensions(b *cryptobyte.Builder) {
	if t.keyUsage != 0 {
		addExtension(b, oidKeyUsage, true, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
				b.AddBytes(keyUsageBits(t.keyUsage))
			})
		})
	}
	// cA FALSE is the DEFAULT and so absent (X.690 section 11.5).
	addExtension(b, oidBasicConstraints, true, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {})
	})
	addExtension(b, oidSKI, false, func(b *cryptobyte.Builder) {
		b.AddASN1OctetString(t.ski)
	})
	addExtension(b, oidAKI, false, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(t.aki)
			})
		})
	})
	if t.aiaURL != "" {
		addExtension(b, oidAIA, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidCAIssuers)
					b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddBytes([]byte(t.aiaURL))
					})
				})
			})
		})
	}
	if t.crlURL != "" {
		addExtension(b, oidCDP, false, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					// distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } }
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes([]byte(t.crlURL))
							})
						})
					})
				})
			})
		})
	}
	for _, e := range t.extra {
		oid, critical, value := e.Id, e.Critical, e.Value
		addExtension(b, oid, critical, func(b *cryptobyte.Builder) { b.AddBytes(value) })
	}
}

// sign encodes the TBSCertificate and signs it with key, returning the DER
// certificate.
func (t *leafTemplate) sign(rnd io.Reader, key crypto.Signer) ([]byte, error) {
	tbs, err := t.encodeTBS()
	if err != nil {
		return nil, err
	}
	alg := signatureAlgorithms[t.sigAlg]
	var sig []byte
	if alg.hash == 0 {
		if _, ok := key.Public().(ed25519.PublicKey); !ok {
			return nil, errors.New("Ed25519 algorithm with a non-Ed25519 key")
		}
		sig, err = key.Sign(rnd, tbs, crypto.Hash(0))
	} else {
		h := alg.hash.New()
		h.Write(tbs)
		sig, err = key.Sign(rnd, h.Sum(nil), alg.hash)
	}
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		addAlgorithm(b, t.sigAlg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}
