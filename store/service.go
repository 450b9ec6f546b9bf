package store

import (
	"context"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// Outgoing is an event to record in the outbox, in the same transaction as the
// change it announces, for delivery to each named notifier. A change that
// commits has its events recorded; a change that does not (a duplicate serial,
// a revocation that was already made) records none.
type Outgoing struct {
	Event     notify.Event
	Notifiers []string
}

// Role is what an API token may do. Each role includes the ones before it:
// reader < issuer < revoker < admin.
type Role string

// The roles of API tokens.
const (
	RoleReader  Role = "reader"
	RoleIssuer  Role = "issuer"
	RoleRevoker Role = "revoker"
	RoleAdmin   Role = "admin"
)

// Token is an API token as stored: only the SHA-256 of its secret is kept.
type Token struct {
	ID   string
	Name string
	Role Role
	Hash [32]byte
	// AllowCN and AllowSAN are patterns an issuer token's names must match
	// (empty: any); MaxLifetimeDays caps its certificates (0: the CA maximum).
	AllowCN         []string
	AllowSAN        []string
	MaxLifetimeDays int
	CreatedAt       time.Time
	RevokedAt       *time.Time
}

// AuditRecord is one line of the audit trail.
type AuditRecord struct {
	At        time.Time
	Actor     string // token name, "cli", "gitops" or a certificate subject for mTLS
	Action    string // issue, reject, revoke, token.create, token.use, ...
	Serial    string // decimal, when the action concerns a certificate
	RequestID string
	Detail    string
}

// Reminded is an expiry reminder made for one certificate on one day.
type Reminded struct {
	Serial string
	Day    time.Time // the UTC calendar day of the reminder
}

// Service is what `anchor serve` needs beyond certificates: the outbox of
// notifications, API tokens, the audit trail, expiry reminder state and leases
// for work that only one replica may do at a time.
type Service interface {
	// Revision is a number that grows whenever a certificate is revoked (by
	// Revoke, or by InsertCertificate of a certificate already revoked). A
	// server polls it to learn of revocations made by other processes; it is
	// one row read, cheap enough to poll every 100 ms. It starts at 0.
	Revision(ctx context.Context) (int64, error)

	notify.Outbox

	// CreateToken records t. A token with the same ID or Hash, or an
	// unrevoked one with the same Name, gives ErrDuplicateToken. A zero
	// CreatedAt is recorded as now.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose secret hashes to h, or ErrNotFound.
	// A revoked token is returned too, with RevokedAt set: the caller must
	// refuse it.
	TokenByHash(ctx context.Context, h [32]byte) (*Token, error)
	// Tokens returns every token, revoked ones included, oldest first.
	Tokens(ctx context.Context) ([]*Token, error)
	// RevokeToken revokes the token with this ID or, if no ID matches, the
	// unrevoked token with this name; ErrNotFound if none. Revoking a revoked
	// token changes nothing and returns nil.
	RevokeToken(ctx context.Context, idOrName string, at time.Time) error

	// AppendAudit records audit lines, all or none; it may batch them with
	// others. A zero At is recorded as now.
	AppendAudit(ctx context.Context, recs ...AuditRecord) error
	// Audit returns up to limit records (0: all) at or after since, oldest
	// first; records of the same time in the order they were appended.
	Audit(ctx context.Context, since time.Time, limit int) ([]AuditRecord, error)

	// LastReminders returns, per serial (decimal), the day of the last expiry
	// reminder recorded for each certificate whose notAfter is at or after
	// notAfterFrom and before notAfterTo. Certificates without reminders are
	// absent from the map.
	LastReminders(ctx context.Context, notAfterFrom, notAfterTo time.Time) (
		map[string]time.Time, error)
	// RecordReminder notes a reminder and its events in one transaction. Day
	// is truncated to its UTC date. A second call for the same serial and day
	// records nothing (none of its events either) and returns false.
	RecordReminder(ctx context.Context, r Reminded, events ...Outgoing) (bool, error)

	// AcquireLease takes or renews the named lease for holder until now+ttl
	// and reports whether holder has it. A lease whose holder stopped renewing
	// passes to another holder once it expires. "now" is the store's clock
	// (the database server's for PostgreSQL), so replicas whose clocks
	// disagree still agree on who holds a lease.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives a lease up early, if holder has it; otherwise it
	// changes nothing and returns nil.
	ReleaseLease(ctx context.Context, name, holder string) error
}
