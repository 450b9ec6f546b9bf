package ca

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"time"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// Events are announced through the store's outbox, in the same transaction as
// the change they announce, to every notifier named in CA.Notifiers; the
// notify.Dispatcher of `anchor serve` delivers them. With no notifiers named,
// nothing is recorded and the Observer's log lines are the only trace.

// outgoing wraps an event for the configured notifiers.
func (c *CA) outgoing(ev notify.Event) []store.Outgoing {
	return []store.Outgoing{{Event: ev, Notifiers: c.Notifiers}}
}

// issuedEvents returns the "Certificate Issued" event of a new certificate
// when its request asked for one (notify_issued).
func (c *CA) issuedEvents(der []byte, notifyIssued bool, at time.Time) ([]store.Outgoing, error) {
	if len(c.Notifiers) == 0 || !notifyIssued {
		return nil, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ev, err := notify.NewIssued(cert, at)
	if err != nil {
		return nil, err
	}
	return c.outgoing(ev), nil
}

// revokedEvents returns the "Certificate Revoked" event for serial, recorded
// only if the revocation changes something.
func (c *CA) revokedEvents(ctx context.Context, serial *big.Int, at time.Time) ([]store.Outgoing, error) {
	if len(c.Notifiers) == 0 {
		return nil, nil
	}
	rec, err := c.Store.Certificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, err
	}
	ev, err := notify.NewRevoked(cert, at, at)
	if err != nil {
		return nil, err
	}
	return c.outgoing(ev), nil
}

// announceRejection records a "Certificate Request Rejected" event. A failure
// to record it is reported to the Observer's log, never to the requester.
func (c *CA) announceRejection(ctx context.Context, req *profile.Request, reason string) error {
	if len(c.Notifiers) == 0 {
		return nil
	}
	info := notify.CSRInfo{CommonName: req.CommonName, Lifetime: req.Lifetime,
		Purposes: req.Purposes}
	for _, s := range req.SANs {
		info.SANs = append(info.SANs, notify.SAN{Type: s.Type, Value: s.Value})
	}
	csr, _ := base64.StdEncoding.DecodeString(req.Base64CSRData)
	ev, err := notify.NewRejected(info, csr, reason, c.now())
	if err != nil {
		return err
	}
	return c.Store.Add(ctx, ev, c.Notifiers...)
}
