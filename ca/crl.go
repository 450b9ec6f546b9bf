package ca

import (
	"context"
	"fmt"
	"time"

	"github.com/anchorpki/anchor/crl"
	"github.com/anchorpki/anchor/store"
)

// CRL is one issued certificate revocation list.
type CRL struct {
	Issuer  *Authority
	Record  *store.CRLRecord
	DER     []byte
	Entries int
}

// IssueCRL builds and signs the next CRL of a CA from the store: the root's CRL
// lists revoked issuing CA certificates, the issuing CA's lists revoked leaves.
//
// The CRL number comes from the store, so numbers strictly increase across
// restarts and processes. A revoked certificate stays listed until one CRL has
// been issued after its notAfter (RFC 5280 section 3.3 allows dropping it then):
// entries whose notAfter precedes the previous CRL's thisUpdate were on that
// CRL, which was issued after they expired, and are left out.
//
// When c.Store is a RevokedCache the entries come from its memory, brought up
// to date with the store first, and the CRL is the same as the one read from
// the store would be; otherwise every entry is read from the store.
func (c *CA) IssueCRL(ctx context.Context, issuer *Authority, lifetime time.Duration) (*CRL, error) {
	thisUpdate := c.now().UTC().Truncate(time.Second)
	nextUpdate := thisUpdate.Add(lifetime)
	if !nextUpdate.Before(issuer.Cert.NotAfter) {
		// A CRL must not outlive the key that vouches for it.
		nextUpdate = issuer.Cert.NotAfter
	}
	next, prev, err := c.Store.NextCRL(ctx, issuer.Slug, thisUpdate, nextUpdate)
	if err != nil {
		return nil, fmt.Errorf("CRL number for %s: %w", issuer.Slug, err)
	}
	var cutoff time.Time
	if prev != nil {
		cutoff = prev.ThisUpdate
	}

	params := crl.Params{
		Issuer:     issuer.Cert,
		Signer:     issuer.Signer,
		Number:     next.Number,
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	var (
		b *crl.Builder
		n int
	)
	if rc, ok := c.Store.(*RevokedCache); ok {
		b, n, err = rc.build(ctx, issuer.Slug, params, cutoff)
	} else {
		b, n, err = c.buildFromStore(ctx, issuer.Slug, params, cutoff)
	}
	if err != nil {
		return nil, err
	}
	der, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("sign CRL of %s: %w", issuer.Slug, err)
	}
	return &CRL{Issuer: issuer, Record: next, DER: der, Entries: n}, nil
}

// buildFromStore streams the entries of the CRL from the store: every revoked
// certificate of issuer whose notAfter is at or after cutoff and that was
// revoked by thisUpdate.
func (c *CA) buildFromStore(ctx context.Context, issuer string, p crl.Params,
	cutoff time.Time) (*crl.Builder, int, error) {
	b, err := crl.NewBuilder(p, 0)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	err = c.Store.RevokedEntries(ctx, issuer, cutoff, func(e store.RevokedEntry) error {
		if e.RevokedAt.After(p.ThisUpdate) {
			// Revoked while this CRL was being built: it belongs on the next
			// one, which the revocation triggers.
			return nil
		}
		n++
		return b.Add(crl.Entry{Serial: e.Serial, RevokedAt: e.RevokedAt, Reason: int(e.Reason)})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("revoked entries of %s: %w", issuer, err)
	}
	return b, n, nil
}
