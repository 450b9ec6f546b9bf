// Package store defines where Anchor keeps its truth: every certificate it has
// signed, every revocation, the CA records and the CRL numbers.
//
// The store is the source of truth. Files such as tls.json and revoked.json are
// inputs reconciled into it; published CRLs are derived from it. Implementations
// (store/sqlite for the embedded default, store/postgres for several replicas)
// pass the same conformance suite in store/storetest and promise:
//
//   - A certificate is durable when InsertCertificate returns nil, so a caller
//     may hand the certificate out only after that.
//
//   - Serial numbers are unique per store; a duplicate insert fails with
//     ErrDuplicateSerial and the caller draws a new serial.
//
//   - Revocation is durable and idempotent and is never undone.
//
//   - CRL numbers handed out by NextCRL strictly increase per issuer, across
//     restarts and across processes sharing the store.
//
//   - A change and the events that announce it (Outgoing) commit together:
//     InsertCertificate records its events in the transaction that records the
//     certificate, Revoke in the one that revokes it. A change that does not
//     happen (a duplicate serial, a revocation already made, an error) records
//     none of its events.
//
//   - Revision grows in every transaction that revokes a certificate, so a
//     process polling it learns of revocations made by any other. Each
//     revoked certificate keeps the revision of the transaction that revoked
//     it, and revisions are handed out in commit order, so RevokedSince can
//     report exactly the revocations made after a revision a caller has seen.
//
// The details every implementation shares, checked by store/storetest:
//
//   - Times of certificates, CAs, CRLs, tokens and reminders are kept to the
//     whole second (the sub-second part is dropped) and come back in UTC. A
//     zero CreatedAt is recorded as the time of the call. Outbox event times,
//     audit times and lease expiries keep microseconds.
//   - A certificate is valid through its notAfter second (RFC 5280 section
//     4.1.2.5): Filter.Status, Filter.ExpiringBefore and RevokedEntries compare
//     notAfter with the caller's time exactly, nanoseconds included.
//   - Serial and CRL numbers are positive and at most MaxNumberBits long. A
//     lookup of a number outside that range is ErrNotFound, never a panic.
//   - Invalid input (a missing field, a reason code Anchor refuses, an event
//     that does not validate) is an error other than ErrDuplicateSerial and
//     records nothing. The checks are the Check methods of this package, so
//     every implementation refuses the same input with the same words.
//   - Close is idempotent: a second Close returns nil, and every other method
//     returns ErrClosed after the first.
//
// Serial numbers are positive integers of at most 159 bits. The store keys them by
// SerialKey, a fixed-width lower-case hex string, so that ordering by the key is
// ordering by number.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Errors that callers branch on.
var (
	ErrNotFound        = errors.New("store: not found")
	ErrDuplicateSerial = errors.New("store: duplicate serial number")
	ErrClosed          = errors.New("store: closed")
	// ErrDuplicateToken is returned by CreateToken when a token with the same
	// ID or secret exists, or an unrevoked one with the same name.
	ErrDuplicateToken = errors.New("store: duplicate token")
)

// Source says through which entry point a certificate was requested.
type Source string

// The entry points that share the issuance path.
const (
	SourceAPI    Source = "api"
	SourceCLI    Source = "cli"
	SourceGitOps Source = "gitops"
	SourceInit   Source = "init" // CA certificates made by anchor init
)

// Reason is an RFC 5280 section 5.3.1 CRLReason code.
type Reason int

// The reason codes Anchor accepts. certificateHold (6) and removeFromCRL (8) are
// deliberately absent: Anchor does not support holds, so a revocation is final.
const (
	ReasonUnspecified          Reason = 0
	ReasonKeyCompromise        Reason = 1
	ReasonCACompromise         Reason = 2
	ReasonAffiliationChanged   Reason = 3
	ReasonSuperseded           Reason = 4
	ReasonCessationOfOperation Reason = 5
	ReasonPrivilegeWithdrawn   Reason = 9
	ReasonAACompromise         Reason = 10
)

var reasonNames = map[Reason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// String returns the RFC 5280 name of the reason.
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ParseReason maps an RFC 5280 reason name (case-insensitive) to its code. The
// empty string means unspecified. certificateHold and removeFromCRL are refused.
func ParseReason(name string) (Reason, error) {
	if name == "" {
		return ReasonUnspecified, nil
	}
	for r, n := range reasonNames {
		if strings.EqualFold(n, name) {
			return r, nil
		}
	}
	switch {
	case strings.EqualFold(name, "certificateHold"), strings.EqualFold(name, "removeFromCRL"):
		return 0, fmt.Errorf("reason %q is not supported: Anchor has no certificate holds", name)
	}
	return 0, fmt.Errorf("unknown revocation reason %q (want one of unspecified, "+
		"keyCompromise, cACompromise, affiliationChanged, superseded, "+
		"cessationOfOperation, privilegeWithdrawn, aACompromise)", name)
}

// SerialKey is the store's key for a serial number: 40 lower-case hex digits,
// zero-padded, so that byte order equals numeric order for serials below 2^160.
func SerialKey(serial *big.Int) string {
	return fmt.Sprintf("%040x", serial)
}

// Certificate is one signed certificate as recorded by the store.
type Certificate struct {
	Serial     *big.Int
	Issuer     string // slug of the issuing CA, e.g. "anchor-issuing-ca-dev"
	Subject    string // RFC 4514 subject string
	CommonName string
	KeyHash    [32]byte // SHA-256 of the DER SubjectPublicKeyInfo
	NotBefore  time.Time
	NotAfter   time.Time
	DER        []byte
	Source     Source

	NotifyIssued bool
	NotifyExpiry bool

	CreatedAt time.Time
	// RevokedAt is nil until the certificate is revoked.
	RevokedAt *time.Time
	Reason    Reason
}

// Revoked reports whether the certificate has been revoked.
func (c *Certificate) Revoked() bool { return c.RevokedAt != nil }

// Status is the state of the certificate at now: revoked, whatever its
// validity; expired once now is past notAfter (RFC 5280 section 4.1.2.5: the
// notAfter second itself is still valid); valid otherwise.
func (c *Certificate) Status(now time.Time) Status {
	switch {
	case c.Revoked():
		return StatusRevoked
	case now.After(c.NotAfter):
		return StatusExpired
	}
	return StatusValid
}

// RevokedEntry is what a CRL needs to know of one revoked certificate.
type RevokedEntry struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    Reason
	NotAfter  time.Time
}

// Status filters listings by the state of a certificate at a given time.
type Status string

// Certificate states for Filter.Status.
const (
	StatusAny     Status = ""
	StatusValid   Status = "valid"   // not revoked, notAfter in the future
	StatusRevoked Status = "revoked" // revoked, whatever its validity
	StatusExpired Status = "expired" // not revoked, notAfter in the past
)

// Filter selects certificates for List. Zero fields select everything.
type Filter struct {
	Issuer         string
	CommonName     string
	Status         Status
	Now            time.Time // the time Status refers to; zero means time.Now()
	ExpiringBefore time.Time // notAfter strictly before this time
	// After is the SerialKey of the last certificate of the previous page.
	After string
	Limit int // 0 means no limit
}

// CA is the record of one certificate authority of the hierarchy.
type CA struct {
	Slug   string // e.g. "anchor-root-ca-dev"
	Role   string // "root" or "issuing"
	Parent string // slug of the issuer; equal to Slug for a self-signed root
	Serial *big.Int
	// KeyRef names the key for the signer that holds it: a file name relative to
	// the home folder, a KMS key id or a PKCS#11 label.
	KeyRef    string
	DER       []byte
	CreatedAt time.Time
}

// CRLRecord is the last CRL issued for an issuer.
type CRLRecord struct {
	Issuer     string
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time
}

// Store is the persistence seam. All methods are safe for concurrent use.
type Store interface {
	// InsertCertificate records a newly signed certificate, and events in the
	// outbox in the same transaction. It returns only when the record is
	// durable. Concurrent calls may be committed together; a call that fails
	// (ErrDuplicateSerial) records none of its events and fails no other.
	InsertCertificate(ctx context.Context, c *Certificate, events ...Outgoing) error
	// Certificate returns the certificate with this serial, or ErrNotFound.
	Certificate(ctx context.Context, serial *big.Int) (*Certificate, error)
	// CertificatesByKey returns every certificate whose SubjectPublicKeyInfo
	// hashes to keyHash, oldest first.
	CertificatesByKey(ctx context.Context, keyHash [32]byte) ([]*Certificate, error)
	// List returns certificates matching f in serial order.
	List(ctx context.Context, f Filter) ([]*Certificate, error)

	// Revoke marks a certificate revoked. It returns the record as stored and
	// whether this call revoked it; revoking again changes nothing, records
	// none of events and returns false. An unknown serial gives ErrNotFound.
	// When it revokes, events are recorded and Revision grows in the same
	// transaction.
	Revoke(ctx context.Context, serial *big.Int, at time.Time, reason Reason,
		events ...Outgoing) (c *Certificate, changed bool, err error)
	// RevokedEntries calls fn for each certificate of issuer that is revoked
	// and whose notAfter is at or after notAfterFrom, in serial order.
	RevokedEntries(ctx context.Context, issuer string, notAfterFrom time.Time,
		fn func(RevokedEntry) error) error

	// RevokedSince calls fn for each certificate of issuer revoked in a
	// transaction whose revision is above afterRevision, with that revision,
	// in revision order and serial order within one revision. It returns upTo,
	// the revision its read is consistent with: every revocation at or below
	// upTo is either reported now or was at or below afterRevision, and every
	// later one has a revision above upTo. So a caller that passes the upTo of
	// one call as afterRevision of the next misses nothing and sees nothing
	// twice, across processes. Revocations recorded before revisions were
	// kept per certificate have revision 0; afterRevision -1 reads them all.
	RevokedSince(ctx context.Context, issuer string, afterRevision int64,
		fn func(e RevokedEntry, revision int64) error) (upTo int64, err error)

	// NextCRL reserves the next CRL number for issuer and records that a CRL
	// with this thisUpdate and nextUpdate is being issued. It returns the new
	// record and the previous one (nil for the first CRL). Numbers strictly
	// increase per issuer even under concurrent callers in several processes.
	NextCRL(ctx context.Context, issuer string, thisUpdate, nextUpdate time.Time) (
		next, prev *CRLRecord, err error)
	// LastCRL returns the last CRL record for issuer, or ErrNotFound.
	LastCRL(ctx context.Context, issuer string) (*CRLRecord, error)

	// PutCA records a CA. A CA with the same slug is left as it is and
	// PutCA returns the stored record, so that init is idempotent.
	PutCA(ctx context.Context, ca *CA) (*CA, error)
	// CA returns the CA with this slug, or ErrNotFound.
	CA(ctx context.Context, slug string) (*CA, error)

	// Service holds the outbox, tokens, audit trail, reminders and leases.
	Service

	// Close releases the store. A second Close returns nil.
	Close() error
}
