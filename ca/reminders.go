package ca

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/store"
)

// SendReminders records the expiry warnings and expired notices due at now
// (see notify.Reminders for the rules) in the outbox, each in one transaction
// with the note that it was sent, so a certificate gets at most one message a
// day however often this runs and however many replicas run it. It returns how
// many reminders it recorded. days nil means notify.DefaultReminderDays.
func (c *CA) SendReminders(ctx context.Context, now time.Time, days []int) (int, error) {
	if len(c.Notifiers) == 0 {
		return 0, nil
	}
	if days == nil {
		days = notify.DefaultReminderDays
	}
	now = now.UTC()
	// Candidates expire within the largest reminder day, or expired in the
	// last 24 hours (plus a day of slack for the calendar-day rounding).
	from := now.Add(-48 * time.Hour)
	to := now.AddDate(0, 0, slices.Max(days)+2)
	candidates, err := c.Store.List(ctx, store.Filter{Issuer: c.Issuing.Slug, ExpiringBefore: to})
	if err != nil {
		return 0, err
	}
	last, err := c.Store.LastReminders(ctx, from, to)
	if err != nil {
		return 0, err
	}

	// A newer certificate with the same subject supersedes an expiring one,
	// whenever it expires itself: gather every certificate of those names.
	var states []notify.CertState
	seen := map[string]bool{}
	byCN := map[string]bool{}
	for _, cert := range candidates {
		if cert.NotAfter.Before(from) || !cert.NotifyExpiry || cert.Revoked() {
			continue
		}
		byCN[cert.CommonName] = true
	}
	for cn := range byCN {
		same, err := c.Store.List(ctx, store.Filter{Issuer: c.Issuing.Slug, CommonName: cn})
		if err != nil {
			return 0, err
		}
		for _, cert := range same {
			key := cert.Serial.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			states = append(states, notify.CertState{
				Serial: cert.Serial, Subject: cert.Subject, CommonName: cert.CommonName,
				NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Revoked: cert.Revoked(),
				NotifyExpiry: cert.NotifyExpiry, LastReminder: last[key],
			})
		}
	}

	sent := 0
	for _, r := range notify.Reminders(states, now, days) {
		rec, err := c.Store.Certificate(ctx, r.Serial)
		if err != nil {
			return sent, err
		}
		cert, err := x509.ParseCertificate(rec.DER)
		if err != nil {
			return sent, fmt.Errorf("certificate %s: %w", r.Serial, err)
		}
		ev, err := r.Event(cert, now)
		if err != nil {
			return sent, err
		}
		ok, err := c.Store.RecordReminder(ctx, store.Reminded{Serial: r.Serial.String(), Day: now},
			c.outgoing(ev)...)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}
