package notify

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// DefaultReminderDays are the days before expiry on which a warning goes out
// when none are configured.
var DefaultReminderDays = []int{30, 15, 7, 1}

// CertState is what Reminders needs to know of one certificate.
type CertState struct {
	Serial     *big.Int
	Subject    string // RFC 4514; certificates sharing it replace one another
	CommonName string
	NotBefore  time.Time
	NotAfter   time.Time
	Revoked    bool
	// NotifyExpiry is the certificate's notify_expiry setting.
	NotifyExpiry bool
	// LastReminder is when the last expiry warning or expired notice for this
	// certificate was recorded; zero if none was.
	LastReminder time.Time
}

// Reminder is one expiry message due for a certificate.
type Reminder struct {
	Serial     *big.Int
	Subject    string
	CommonName string
	NotAfter   time.Time
	// DaysRemaining is the calendar days left, 0 for an expired certificate.
	DaysRemaining int
	// Expired says the message is the "Certificate Expired" notice rather than
	// an expiry warning.
	Expired bool
}

// Reminders returns the expiry messages due at now, in the order of certs.
// The caller turns each into an event with Reminder.Event and, in the same
// transaction as the outbox write, sets the certificate's LastReminder to now.
//
// The rules:
//
//   - Days remaining is the number of calendar days, in UTC, from now's date
//     to notAfter's date: a certificate expiring tomorrow at 00:30 has one day
//     left at 23:00 today. A warning goes out when that number is one of days
//     (nil means DefaultReminderDays; values below 1 are ignored).
//   - An expired notice goes out once the certificate has expired (now after
//     notAfter, which is itself still valid time) and no later than 24 hours
//     after notAfter inclusive, once.
//   - At most one message per certificate per UTC calendar day: none if
//     LastReminder falls on now's date.
//   - Only certificates with NotifyExpiry, not revoked, and not superseded get
//     messages. A certificate is superseded by an unrevoked one with the same
//     (non-empty) Subject and a later NotBefore. certs must therefore include
//     the possible successors, whatever their NotifyExpiry.
func Reminders(certs []CertState, now time.Time, days []int) []Reminder {
	if days == nil {
		days = DefaultReminderDays
	}
	now = now.UTC()

	newest := make(map[string]time.Time) // latest NotBefore of an unrevoked cert
	for _, c := range certs {
		if c.Revoked || c.Subject == "" {
			continue
		}
		if nb, ok := newest[c.Subject]; !ok || c.NotBefore.After(nb) {
			newest[c.Subject] = c.NotBefore
		}
	}

	var out []Reminder
	for _, c := range certs {
		if !c.NotifyExpiry || c.Revoked {
			continue
		}
		if nb, ok := newest[c.Subject]; ok && c.Subject != "" && nb.After(c.NotBefore) {
			continue // superseded
		}
		if !c.LastReminder.IsZero() && sameDate(c.LastReminder, now) {
			continue
		}

		r := Reminder{Serial: c.Serial, Subject: c.Subject, CommonName: c.CommonName,
			NotAfter: c.NotAfter}
		if now.After(c.NotAfter) {
			alreadySent := c.LastReminder.After(c.NotAfter)
			if now.Sub(c.NotAfter) <= 24*time.Hour && !alreadySent {
				r.Expired = true
				out = append(out, r)
			}
			continue
		}
		r.DaysRemaining = calendarDays(now, c.NotAfter)
		if r.DaysRemaining >= 1 && slices.Contains(days, r.DaysRemaining) {
			out = append(out, r)
		}
	}
	return out
}

// Event builds the event announcing r for cert, the certificate r is about.
func (r Reminder) Event(cert *x509.Certificate, at time.Time) (Event, error) {
	if cert == nil {
		return Event{}, errNoCertificate
	}
	if r.Serial == nil || cert.SerialNumber == nil || r.Serial.Cmp(cert.SerialNumber) != 0 {
		return Event{}, fmt.Errorf("notify: reminder for serial %v given certificate %v",
			r.Serial, cert.SerialNumber)
	}
	if r.Expired {
		return NewExpired(cert, at)
	}
	return NewExpiryWarning(cert, r.DaysRemaining, at)
}

func sameDate(a, b time.Time) bool {
	ay, am, ad := a.UTC().Date()
	by, bm, bd := b.UTC().Date()
	return ay == by && am == bm && ad == bd
}

// calendarDays counts the UTC midnights passed going from a to b.
func calendarDays(a, b time.Time) int {
	midnight := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	// UTC days are all 24 hours long, so the division is exact.
	return int(midnight(b).Sub(midnight(a)) / (24 * time.Hour))
}
