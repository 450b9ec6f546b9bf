package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"time"

	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/store"
)

// Keys creates and loads CA keys by reference. The reference is what the store
// records for a CA (store.CA.KeyRef): a file name, a KMS key or a PKCS#11 label.
type Keys interface {
	// Ref names the key of the CA with this slug.
	Ref(slug string) string
	// Create makes a new key; an existing one is an error.
	Create(ctx context.Context, ref string, kt signer.KeyType) (crypto.Signer, error)
	// Load opens a key; a missing one is an error wrapping fs.ErrNotExist.
	Load(ctx context.Context, ref string) (crypto.Signer, error)
}

// Authority is one CA of the hierarchy: its certificate and a handle on its key.
type Authority struct {
	Slug   string
	Cert   *x509.Certificate
	Signer crypto.Signer
}

// PEM returns the CA certificate in PEM form.
func (a *Authority) PEM() []byte {
	return PEMCertificate(a.Cert.Raw)
}

// InitResult says what Init found or made.
type InitResult struct {
	Root, Issuing *Authority
	// Created is true when this call made at least one of the two CAs.
	Created bool
}

// Init creates the root and the issuing CA, or loads them if the store already
// has them. It is idempotent: a second call changes nothing and returns the same
// certificates. Keys are created before certificates, and a certificate is
// recorded before Init returns, so an interrupted Init resumes where it stopped.
func Init(ctx context.Context, cfg *config.Config, st store.Store, keys Keys) (*InitResult, error) {
	res := &InitResult{}
	now := time.Now().UTC().Truncate(time.Second)

	root, made, err := ensure(ctx, st, keys, authoritySpec{
		slug: cfg.RootSlug(), role: "root", conf: cfg.Root,
	}, nil, now, cfg.PublicBaseURL())
	if err != nil {
		return nil, fmt.Errorf("root CA: %w", err)
	}
	res.Root, res.Created = root, made

	issuing, made, err := ensure(ctx, st, keys, authoritySpec{
		slug: cfg.IssuingSlug(), role: "issuing", conf: cfg.Issuing,
	}, root, now, cfg.PublicBaseURL())
	if err != nil {
		return nil, fmt.Errorf("issuing CA: %w", err)
	}
	res.Issuing, res.Created = issuing, res.Created || made
	return res, nil
}

// Load returns the hierarchy that Init made; it fails with store.ErrNotFound
// when Init has not run.
func Load(ctx context.Context, cfg *config.Config, st store.Store, keys Keys) (root, issuing *Authority, err error) {
	root, err = loadAuthority(ctx, st, keys, cfg.RootSlug())
	if err != nil {
		return nil, nil, fmt.Errorf("root CA: %w", err)
	}
	issuing, err = loadAuthority(ctx, st, keys, cfg.IssuingSlug())
	if err != nil {
		return nil, nil, fmt.Errorf("issuing CA: %w", err)
	}
	if err := issuing.Cert.CheckSignatureFrom(root.Cert); err != nil {
		return nil, nil, fmt.Errorf("issuing CA %s is not signed by root %s: %w",
			issuing.Slug, root.Slug, err)
	}
	return root, issuing, nil
}

func loadAuthority(ctx context.Context, st store.Store, keys Keys, slug string) (*Authority, error) {
	rec, err := st.CA(ctx, slug)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, fmt.Errorf("stored certificate of %s: %w", slug, err)
	}
	key, err := keys.Load(ctx, rec.KeyRef)
	if err != nil {
		return nil, fmt.Errorf("key of %s: %w", slug, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("key %s does not match the certificate of %s", rec.KeyRef, slug)
	}
	return &Authority{Slug: slug, Cert: cert, Signer: key}, nil
}

type authoritySpec struct {
	slug string
	role string
	conf config.Authority
}

func ensure(ctx context.Context, st store.Store, keys Keys, spec authoritySpec,
	parent *Authority, now time.Time, baseURL string) (*Authority, bool, error) {
	a, err := loadAuthority(ctx, st, keys, spec.slug)
	if err == nil {
		return a, false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}

	kt, err := signer.ParseKeyType(spec.conf.KeyType)
	if err != nil {
		return nil, false, err
	}
	ref := keys.Ref(spec.slug)
	// A key left by an interrupted init is reused; otherwise make one.
	key, err := keys.Load(ctx, ref)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = keys.Create(ctx, ref, kt)
	}
	if err != nil {
		return nil, false, fmt.Errorf("key %s: %w", ref, err)
	}

	der, serial, err := signCA(spec, parent, key, now, baseURL)
	if err != nil {
		return nil, false, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, false, err
	}
	issuerSlug := spec.slug
	if parent != nil {
		issuerSlug = parent.Slug
	}
	if err := st.InsertCertificate(ctx, &store.Certificate{
		Serial:     serial,
		Issuer:     issuerSlug,
		Subject:    cert.Subject.String(),
		CommonName: cert.Subject.CommonName,
		KeyHash:    KeyHash(cert.RawSubjectPublicKeyInfo),
		NotBefore:  cert.NotBefore,
		NotAfter:   cert.NotAfter,
		DER:        der,
		Source:     store.SourceInit,
		CreatedAt:  now,
	}); err != nil {
		return nil, false, fmt.Errorf("record certificate: %w", err)
	}
	rec, err := st.PutCA(ctx, &store.CA{
		Slug: spec.slug, Role: spec.role, Parent: issuerSlug, Serial: serial,
		KeyRef: ref, DER: der, CreatedAt: now,
	})
	if err != nil {
		return nil, false, fmt.Errorf("record CA: %w", err)
	}
	if rec.Serial.Cmp(serial) != 0 {
		// Another process won the race; use what it recorded.
		a, err := loadAuthority(ctx, st, keys, spec.slug)
		return a, false, err
	}
	return &Authority{Slug: spec.slug, Cert: cert, Signer: key}, true, nil
}

// signCA makes a CA certificate per the serverless CA profile: KeyUsage critical
// (digitalSignature, keyCertSign, cRLSign), BasicConstraints critical with the
// configured pathLen, SKI and AKI; an issuing CA also gets CDP and AIA pointing
// at the root's published CRL and certificate.
func signCA(spec authoritySpec, parent *Authority, key crypto.Signer, now time.Time,
	baseURL string) ([]byte, *big.Int, error) {
	serial, err := NewSerial(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	ski, err := SubjectKeyID(key.Public())
	if err != nil {
		return nil, nil, err
	}
	alg, err := signer.SignatureAlgorithm(key.Public())
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               spec.conf.Subject.Name(),
		NotBefore:             now,
		NotAfter:              now.AddDate(0, 0, spec.conf.LifetimeDays),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            *spec.conf.PathLen,
		MaxPathLenZero:        *spec.conf.PathLen == 0,
		SubjectKeyId:          ski,
		SignatureAlgorithm:    alg,
	}
	issuerCert, issuerKey := tmpl, key
	if parent != nil {
		issuerCert, issuerKey = parent.Cert, parent.Signer
		alg, err := signer.SignatureAlgorithm(parent.Signer.Public())
		if err != nil {
			return nil, nil, err
		}
		tmpl.SignatureAlgorithm = alg
		// RFC 5280 section 4.2.1.4: without certificatePolicies in the issuing
		// CA a validator that asks for a policy accepts no leaf. anyPolicy
		// leaves the choice to the leaves (and satisfies the CA/B Forum's
		// requirement that subordinate CAs carry the extension).
		tmpl.Policies = []x509.OID{anyPolicy}
		tmpl.CRLDistributionPoints = []string{baseURL + "/" + parent.Slug + ".crl"}
		tmpl.IssuingCertificateURL = []string{baseURL + "/" + parent.Slug + ".crt"}
	} else {
		tmpl.AuthorityKeyId = ski
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), issuerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	return der, serial, nil
}

// anyPolicy is the special policy OID 2.5.29.32.0 (RFC 5280 section 4.2.1.4).
var anyPolicy = func() x509.OID {
	oid, err := x509.OIDFromInts([]uint64{2, 5, 29, 32, 0})
	if err != nil {
		panic(err)
	}
	return oid
}()

// NewSerial draws a random serial number: positive, at most 159 bits, so that
// its DER encoding never exceeds 20 octets (RFC 5280 section 4.1.2.2). With 159
// random bits a collision is negligible; the store still refuses duplicates.
func NewSerial(rnd interface{ Read([]byte) (int, error) }) (*big.Int, error) {
	var b [20]byte
	for {
		if _, err := rnd.Read(b[:]); err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		b[0] &= 0x7f
		n := new(big.Int).SetBytes(b[:])
		// Serials below 2^64 are rejected so that every serial carries at
		// least 64 bits of entropy as the CA/Browser Forum asks.
		if n.BitLen() > 64 {
			return n, nil
		}
	}
}

// SubjectKeyID computes the key identifier of RFC 5280 section 4.2.1.2
// method (1): the SHA-1 of the subjectPublicKey BIT STRING.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, err
	}
	sum := sha1.Sum(info.PublicKey.Bytes)
	return sum[:], nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
