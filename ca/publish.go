package ca

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/anchorpki/anchor/crl"
	"github.com/anchorpki/anchor/publish"
)

// ErrNotPublisher is returned by a replica asked to publish CRLs while another
// replica holds the publication lease.
var ErrNotPublisher = errors.New("another replica holds the CRL publication lease")

// Publication keeps a publisher's objects current: for each CA its certificate
// ({slug}.crt in DER, {slug}.pem) and CRL ({slug}.crl in DER, {slug}.crl.pem),
// and the CA bundle (root PEM, then issuing PEM).
type Publication struct {
	CA         *CA
	Publisher  publish.Publisher
	BundleName string
	// RootCRL and IssuingCRL are the CRL lifetimes (nextUpdate - thisUpdate).
	RootCRL, IssuingCRL time.Duration
	// Lock, if set, is held while a CRL is numbered, signed and published, so
	// that processes sharing a publisher publish CRLs in number order.
	Lock interface {
		Lock(ctx context.Context) (unlock func(), err error)
	}
}

// Certificates publishes the CA certificates and the bundle.
func (p *Publication) Certificates(ctx context.Context) error {
	root, issuing := p.CA.Root, p.CA.Issuing
	var objs []publish.Object
	for _, a := range []*Authority{root, issuing} {
		objs = append(objs,
			object(a.Slug+".crt", a.Cert.Raw, time.Time{}),
			object(a.Slug+".pem", a.PEM(), time.Time{}))
	}
	bundle := append(root.PEM(), issuing.PEM()...)
	objs = append(objs, object(p.BundleName, bundle, time.Time{}))
	return p.Publisher.Publish(ctx, objs...)
}

// CRLs issues and publishes a new CRL for the root and the issuing CA.
func (p *Publication) CRLs(ctx context.Context) ([]*CRL, error) {
	if p.Lock != nil {
		unlock, err := p.Lock.Lock(ctx)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	var out []*CRL
	for _, x := range []struct {
		a        *Authority
		lifetime time.Duration
	}{{p.CA.Root, p.RootCRL}, {p.CA.Issuing, p.IssuingCRL}} {
		c, err := p.CA.IssueCRL(ctx, x.a, x.lifetime)
		if err != nil {
			return out, err
		}
		expires := c.Record.NextUpdate
		if err := p.Publisher.Publish(ctx,
			object(x.a.Slug+".crl", c.DER, expires),
			object(x.a.Slug+".crl.pem", crl.PEM(c.DER), expires),
		); err != nil {
			return out, fmt.Errorf("publish CRL of %s: %w", x.a.Slug, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func object(name string, data []byte, expires time.Time) publish.Object {
	return publish.Object{
		Name:        name,
		ContentType: publish.ContentTypeFor(name),
		Data:        data,
		Expires:     expires,
	}
}

// PEMCertificate encodes a DER certificate as PEM.
func PEMCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
