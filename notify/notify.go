// Package notify announces what happens to certificates: issued, rejected,
// revoked, about to expire and expired. It builds the events, delivers them to
// webhooks, Slack or the log, and decides when expiry reminders are due.
//
// # Model
//
// An Event is a subject such as "Certificate Issued" plus a JSON message whose
// keys are those of the serverless CA's notifications, so that receivers written
// for it keep working (CertificateInfo, Base64Certificate, Subject, ...). The
// constructors (NewIssued, NewRejected, NewRevoked, NewExpiryWarning, NewExpired)
// take plain values, an x509 certificate or strings, and are the only place
// where those key sets are spelled out.
//
// A Notifier delivers one event to one destination: Webhook (signed JSON),
// Slack (Block Kit through an incoming webhook) or Log (a structured log line,
// the default). Notifiers make a single attempt and report failure; they do not
// retry.
//
// Delivery goes through an Outbox. The producer records one Delivery per event
// and notifier name, in the same transaction as the change it announces, and
// calls Dispatcher.Wake. The Dispatcher claims due deliveries, hands them to
// their notifiers, and marks them done or schedules a retry with exponential
// backoff and jitter. Because the outbox is durable, an event survives a crash
// or restart between the change and its delivery. MemoryOutbox is an in-memory
// Outbox for tests; the store provides the durable ones, and all of them pass
// the behaviour suite in notify/notifytest.
//
// Reminders is a pure function that, given the certificates and the time,
// says which expiry warnings and expired notices are due today.
//
// # Promises
//
//   - Delivery is at least once. A worker that dies after a receiver accepted an
//     event but before the outbox recorded it re-sends the event once its lease
//     runs out, so every event carries an id (the Anchor-Event-Id header and the
//     "Id" key) that receivers use to drop duplicates.
//   - Producers never wait for receivers: writing to the outbox and Wake return
//     at once, whatever state the receivers are in.
//   - A delivery that still fails after Dispatcher.MaxAttempts attempts is given
//     up and kept by the outbox for an operator to inspect.
//   - Webhook bodies are signed with HMAC-SHA256 when a secret is configured (see
//     Sign for the scheme); error messages never contain a webhook URL, because
//     Slack and many other receivers put their credential in the URL.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event subjects. They are the notification subjects of the serverless CA and
// receivers branch on them, so their text is fixed.
const (
	SubjectIssued        = "Certificate Issued"
	SubjectRejected      = "Certificate Request Rejected"
	SubjectRevoked       = "Certificate Revoked"
	SubjectExpiryWarning = "Certificate Expiry Warning"
	SubjectExpired       = "Certificate Expired"
)

// Event is one notification. Marshalled to JSON it is the body a Webhook posts:
//
//	{"Id": "...", "Subject": "Certificate Issued",
//	 "Time": "2025-01-02T03:04:05Z", "Message": {"CertificateInfo": ...}}
//
// The top-level "Subject" is the event subject; the message has its own
// "Subject" key holding the certificate's RFC 4514 subject, as in the
// serverless CA.
type Event struct {
	// ID is unique per event and stable across delivery attempts.
	ID string `json:"Id"`
	// Subject is one of the Subject constants.
	Subject string `json:"Subject"`
	// At is when the event happened, in UTC.
	At time.Time `json:"Time"`
	// Body is the message, a JSON object with the keys the subject calls for.
	Body json.RawMessage `json:"Message"`
}

// Notifier delivers an event to one destination. Notify makes one attempt and
// returns an error if the destination did not accept the event; the caller
// decides whether and when to try again. Implementations are safe for
// concurrent use.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// Validate reports the first field that keeps e from being recorded in an
// outbox: an empty ID or Subject, a zero At, or a Body that is not JSON.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("notify: event ID is empty")
	case e.Subject == "":
		return fmt.Errorf("notify: event %s: Subject is empty", e.ID)
	case e.At.IsZero():
		return fmt.Errorf("notify: event %s: At is not set", e.ID)
	case !json.Valid(e.Body):
		return fmt.Errorf("notify: event %s: Body is not valid JSON", e.ID)
	}
	return nil
}
