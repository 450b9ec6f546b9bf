package ca

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/store"
)

// backdate is how far before the moment of issuance a leaf becomes valid, to
// absorb clock skew between the CA and relying parties. The serverless CA uses
// the same five minutes, so a one-day certificate spans one day and five minutes.
const backdate = 5 * time.Minute

// TimeLayout is how the request/response JSON writes times (UTC).
const TimeLayout = "2006-01-02 15:04:05"

// Observer hears about issuance outcomes after they are durable. A nil
// Observer is allowed.
type Observer interface {
	Issued(ctx context.Context, c *store.Certificate, subject string)
	Rejected(ctx context.Context, req *profile.Request, reason string)
	Revoked(ctx context.Context, c *store.Certificate)
}

// CA issues end-entity certificates from the issuing CA and revokes them.
type CA struct {
	Root, Issuing *Authority
	Store         store.Store
	Policy        profile.Policy
	// BaseURL is the public base of the CDP and AIA URLs; empty leaves them out.
	BaseURL  string
	Observer Observer
	// Notifiers names the notifiers that events go to through the outbox.
	Notifiers []string
	// Now and Rand default to time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// CertificateInfo is the response's summary of an issued certificate.
type CertificateInfo struct {
	CommonName   string `json:"CommonName"`
	SerialNumber string `json:"SerialNumber"`
	Issued       string `json:"Issued"`
	Expires      string `json:"Expires"`
}

// Response is the serverless CA's response JSON. With ca_chain_only only the
// last three fields are set.
type Response struct {
	CertificateInfo            *CertificateInfo `json:"CertificateInfo,omitempty"`
	Base64Certificate          string           `json:"Base64Certificate,omitempty"`
	Subject                    string           `json:"Subject,omitempty"`
	Base64IssuingCaCertificate string           `json:"Base64IssuingCaCertificate"`
	Base64RootCaCertificate    string           `json:"Base64RootCaCertificate"`
	Base64CaChain              string           `json:"Base64CaChain"`
}

// Issued is the outcome of a successful Issue.
type Issued struct {
	Response    Response
	Certificate *store.Certificate
	Template    *profile.Template
}

func (c *CA) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *CA) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

// Issue validates req, signs a certificate from the issuing CA, records it and
// only then returns it. A request the profile refuses gives a *profile.Rejection
// (and an Observer.Rejected call unless it is "Certificate already issued");
// other errors are failures of the CA itself.
func (c *CA) Issue(ctx context.Context, req *profile.Request, src store.Source) (*Issued, error) {
	if req.CAChainOnly {
		return &Issued{Response: c.chainResponse()}, nil
	}

	tmpl, err := c.Check(ctx, req, src)
	if err != nil {
		c.Rejected(ctx, req, err)
		return nil, err
	}

	rec, err := c.sign(ctx, tmpl, src)
	if err != nil {
		return nil, err
	}
	subject, err := profile.SubjectString(tmpl.RawSubject)
	if err != nil {
		return nil, err
	}
	if c.Observer != nil {
		c.Observer.Issued(ctx, rec, subject)
	}

	resp := c.chainResponse()
	leaf := PEMCertificate(rec.DER)
	if req.CertBundle {
		leaf = append(leaf, c.Issuing.PEM()...)
		leaf = append(leaf, c.Root.PEM()...)
	}
	resp.CertificateInfo = &CertificateInfo{
		CommonName:   rec.CommonName,
		SerialNumber: rec.Serial.String(),
		Issued:       rec.NotBefore.UTC().Format(TimeLayout),
		Expires:      rec.NotAfter.UTC().Format(TimeLayout),
	}
	resp.Base64Certificate = base64.StdEncoding.EncodeToString(leaf)
	resp.Subject = subject
	return &Issued{Response: resp, Certificate: rec, Template: tmpl}, nil
}

// Check evaluates req as Issue would, without signing or recording anything and
// without telling the Observer: a dry run.
func (c *CA) Check(ctx context.Context, req *profile.Request, src store.Source) (*profile.Template, error) {
	history := func(keyHash [32]byte) ([]string, error) {
		certs, err := c.Store.CertificatesByKey(ctx, keyHash)
		if err != nil {
			return nil, err
		}
		cns := make([]string, len(certs))
		for i, cert := range certs {
			cns[i] = cert.CommonName
		}
		return cns, nil
	}
	return profile.Evaluate(req, c.Policy, history, src == store.SourceGitOps)
}

// Rejected tells the Observer of a rejection. "Certificate already issued" is
// not one: it is the normal outcome of applying an unchanged GitOps folder.
func (c *CA) Rejected(ctx context.Context, req *profile.Request, err error) {
	var rej *profile.Rejection
	if !errors.As(err, &rej) || rej.AlreadyIssued {
		return
	}
	msg := rej.Message
	if err := c.announceRejection(ctx, req, rej.Message); err != nil {
		msg += " (event not recorded: " + err.Error() + ")"
	}
	if c.Observer != nil {
		c.Observer.Rejected(ctx, req, msg)
	}
}

// maxSerialAttempts bounds the retries on a serial collision, which with 159
// random bits only a broken random source produces.
const maxSerialAttempts = 3

// sign makes the certificate and records it; the returned record is durable.
func (c *CA) sign(ctx context.Context, t *profile.Template, src store.Source) (*store.Certificate, error) {
	now := c.now().UTC().Truncate(time.Second)
	ski, err := SubjectKeyID(t.CSR.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("subject key identifier: %w", err)
	}
	alg, err := signer.SignatureAlgorithm(c.Issuing.Signer.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &leafTemplate{
		sigAlg:    alg,
		issuer:    c.Issuing.Cert.RawSubject,
		notBefore: now.Add(-backdate),
		notAfter:  now.Add(t.Lifetime),
		subject:   t.RawSubject,
		spki:      t.CSR.RawSubjectPublicKeyInfo,
		keyUsage:  t.KeyUsage,
		ski:       ski,
		aki:       c.Issuing.Cert.SubjectKeyId,
		extra:     t.Extensions,
	}
	if c.BaseURL != "" {
		tmpl.crlURL = c.BaseURL + "/" + c.Issuing.Slug + ".crl"
		tmpl.aiaURL = c.BaseURL + "/" + c.Issuing.Slug + ".crt"
	}

	for attempt := 1; ; attempt++ {
		serial, err := NewSerial(c.rand())
		if err != nil {
			return nil, err
		}
		tmpl.serial = serial
		der, err := tmpl.sign(c.rand(), c.Issuing.Signer)
		if err != nil {
			return nil, err
		}
		rec := &store.Certificate{
			Serial:       serial,
			Issuer:       c.Issuing.Slug,
			Subject:      subjectOrEmpty(t.RawSubject),
			CommonName:   t.CommonName,
			KeyHash:      t.KeyHash,
			NotBefore:    tmpl.notBefore,
			NotAfter:     tmpl.notAfter,
			DER:          der,
			Source:       src,
			NotifyIssued: t.NotifyIssued,
			NotifyExpiry: t.NotifyExpiry,
			CreatedAt:    now,
		}
		events, err := c.issuedEvents(der, t.NotifyIssued, now)
		if err != nil {
			return nil, fmt.Errorf("event for certificate %s: %w", serial, err)
		}
		err = c.Store.InsertCertificate(ctx, rec, events...)
		if errors.Is(err, store.ErrDuplicateSerial) && attempt < maxSerialAttempts {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("record certificate %s: %w", serial, err)
		}
		return rec, nil
	}
}

// Revoke revokes the certificate with this serial. Revoking again changes
// nothing and reports changed=false; the Observer hears of a revocation once.
func (c *CA) Revoke(ctx context.Context, serial *big.Int, reason store.Reason) (*store.Certificate, bool, error) {
	at := c.now().UTC().Truncate(time.Second)
	events, err := c.revokedEvents(ctx, serial, at)
	if err != nil {
		return nil, false, err
	}
	rec, changed, err := c.Store.Revoke(ctx, serial, at, reason, events...)
	if err != nil {
		return nil, false, err
	}
	if changed && c.Observer != nil {
		c.Observer.Revoked(ctx, rec)
	}
	return rec, changed, nil
}

func (c *CA) chainResponse() Response {
	issuing, root := c.Issuing.PEM(), c.Root.PEM()
	chain := append(append([]byte{}, issuing...), root...)
	return Response{
		Base64IssuingCaCertificate: base64.StdEncoding.EncodeToString(issuing),
		Base64RootCaCertificate:    base64.StdEncoding.EncodeToString(root),
		Base64CaChain:              base64.StdEncoding.EncodeToString(chain),
	}
}

// KeyHash is the store's key identity: SHA-256 of the DER SubjectPublicKeyInfo.
func KeyHash(spki []byte) [32]byte { return sha256.Sum256(spki) }

func subjectOrEmpty(raw []byte) string {
	s, err := profile.SubjectString(raw)
	if err != nil {
		return ""
	}
	return s
}
