package anywhere

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Store when the record does not exist.
var ErrNotFound = errors.New("anywhere: not found")

// TrustAnchor is a bundle of CA certificates that client certificates must
// chain to.
type TrustAnchor struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Enabled         bool      `json:"enabled"`
	CertificatesPEM string    `json:"certificatesPem"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// Profile says which roles a session may assume and for how long.
type Profile struct {
	ID                    string    `json:"id"`
	Name                  string    `json:"name"`
	RoleArns              []string  `json:"roleArns"`
	DurationSeconds       int       `json:"durationSeconds"`
	Enabled               bool      `json:"enabled"`
	AcceptRoleSessionName bool      `json:"acceptRoleSessionName"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
}

// CRL is a certificate revocation list attached to a trust anchor. Data is
// the file as it was imported (PEM or DER).
type CRL struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	TrustAnchorID string    `json:"trustAnchorId"`
	Enabled       bool      `json:"enabled"`
	Data          []byte    `json:"data"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Subject collects the CreateSession attempts made with certificates that
// share one subject DN.
type Subject struct {
	ID          string              `json:"id"`
	X509Subject string              `json:"x509Subject"`
	Enabled     bool                `json:"enabled"`
	LastSeenAt  time.Time           `json:"lastSeenAt"`
	CreatedAt   time.Time           `json:"createdAt"`
	UpdatedAt   time.Time           `json:"updatedAt"`
	Credentials []SubjectCredential `json:"credentials"`
}

// SubjectCredential is one certificate seen for a subject; SeenAt and
// Failed describe its latest attempt.
type SubjectCredential struct {
	SeenAt         time.Time `json:"seenAt"`
	SerialNumber   string    `json:"serialNumber"`
	Issuer         string    `json:"issuer"`
	Enabled        bool      `json:"enabled"`
	Failed         bool      `json:"failed"`
	CertificatePEM string    `json:"x509CertificateData"`
}

// Session is an issued set of temporary credentials. The secret is sealed and
// the token is kept only as a SHA-256 hash.
type Session struct {
	AccessKeyID    string    `json:"accessKeyId"`
	SealedSecret   []byte    `json:"sealedSecret"`
	TokenHash      []byte    `json:"tokenHash"`
	Expiration     time.Time `json:"expiration"`
	RoleArn        string    `json:"roleArn"`
	AssumedRoleArn string    `json:"assumedRoleArn"`
	AssumedRoleID  string    `json:"assumedRoleId"`
	Account        string    `json:"account"`
	SourceIdentity string    `json:"sourceIdentity"`
	TrustAnchorID  string    `json:"trustAnchorId"`
	// RevocationKeys identify every certificate of the validated path (issuer
	// and serial) so that a CRL installed later also ends the session.
	RevocationKeys [][]byte          `json:"revocationKeys"`
	PrincipalTags  map[string]string `json:"principalTags,omitempty"`
	CreatedAt      time.Time         `json:"createdAt"`
}

// AdminKey is an access key for the control plane, its secret sealed.
type AdminKey struct {
	AccessKeyID  string    `json:"accessKeyId"`
	SealedSecret []byte    `json:"sealedSecret"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Store persists the relying party's state. Implementations must be safe for
// concurrent use. The server reads the small tables (trust anchors, profiles,
// CRLs, subjects) once at start and keeps them in memory; it writes through
// on every change, and writes subjects and sessions in batches.
type Store interface {
	TrustAnchors(ctx context.Context) ([]TrustAnchor, error)
	PutTrustAnchor(ctx context.Context, ta TrustAnchor) error
	DeleteTrustAnchor(ctx context.Context, id string) error

	Profiles(ctx context.Context) ([]Profile, error)
	PutProfile(ctx context.Context, p Profile) error
	DeleteProfile(ctx context.Context, id string) error

	CRLs(ctx context.Context) ([]CRL, error)
	PutCRL(ctx context.Context, c CRL) error
	DeleteCRL(ctx context.Context, id string) error

	Subjects(ctx context.Context) ([]Subject, error)
	PutSubjects(ctx context.Context, s []Subject) error

	// Session returns ErrNotFound for an unknown access key id.
	Session(ctx context.Context, accessKeyID string) (Session, error)
	PutSessions(ctx context.Context, s []Session) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// AdminKey returns ErrNotFound for an unknown access key id.
	AdminKey(ctx context.Context, accessKeyID string) (AdminKey, error)
	PutAdminKey(ctx context.Context, k AdminKey) error

	Close() error
}
