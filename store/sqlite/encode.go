package sqlite

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/internal/stored"
)

// boolInt stores a bool as 0 or 1, which both SQLite and PostgreSQL compare as
// integers.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// certificateArgs checks c and returns the arguments of insertCertificateSQL.
// A zero CreatedAt is recorded as now.
func certificateArgs(c *store.Certificate, now time.Time) ([]any, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	created := c.CreatedAt
	if created.IsZero() {
		created = now
	}
	var revokedAt, reason any // NULL unless revoked
	if c.RevokedAt != nil {
		revokedAt, reason = stored.Unix(*c.RevokedAt), int64(c.Reason)
	}
	return []any{
		store.SerialKey(c.Serial), c.Serial.String(), c.Issuer, c.Subject, c.CommonName,
		c.KeyHash[:], stored.Unix(c.NotBefore), stored.Unix(c.NotAfter), c.DER, string(c.Source),
		boolInt(c.NotifyIssued), boolInt(c.NotifyExpiry), stored.Unix(created),
		revokedAt, reason,
	}, nil
}

// insertCertificateSQL records one certificate. ON CONFLICT DO NOTHING turns a
// duplicate serial into zero rows affected rather than an error, so that it
// fails only its own caller and leaves the rest of a group commit intact.
const insertCertificateSQL = `INSERT INTO certificates (
	serial_key, serial, issuer, subject, common_name, key_hash,
	not_before, not_after, der, source,
	notify_issued, notify_expiry, created_at, revoked_at, reason, revoked_rev
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ` + nextRevisionIfRevoked + `)
ON CONFLICT DO NOTHING`

// nextRevisionIfRevoked is the revoked_rev of an inserted certificate: NULL
// unless it is recorded already revoked, and otherwise the revision that the
// bump at the end of its transaction sets. The transaction holds SQLite's
// write lock from its start, so nothing else moves the revision in between.
const nextRevisionIfRevoked = `CASE WHEN ?14 IS NULL THEN NULL
	ELSE (SELECT value + 1 FROM revision WHERE id = 1) END`

// certificateColumns are the columns scanCertificate reads, in its order.
const certificateColumns = `serial_key, issuer, subject, common_name, key_hash,
	not_before, not_after, der, source, notify_issued, notify_expiry,
	created_at, revoked_at, reason`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanCertificate reads the certificateColumns of one row.
func scanCertificate(row scanner) (*store.Certificate, error) {
	var (
		key, source                    string
		keyHash                        []byte
		notBefore, notAfter, createdAt int64
		notifyIssued, notifyExpiry     int64
		revokedAt, reason              sql.NullInt64
		c                              store.Certificate
	)
	err := row.Scan(&key, &c.Issuer, &c.Subject, &c.CommonName, &keyHash,
		&notBefore, &notAfter, &c.DER, &source, &notifyIssued, &notifyExpiry,
		&createdAt, &revokedAt, &reason)
	if err != nil {
		return nil, err
	}
	if c.Serial, err = store.ParseSerialKey(key); err != nil {
		return nil, err
	}
	if len(keyHash) != len(c.KeyHash) {
		return nil, fmt.Errorf("certificate %s: stored key_hash has %d bytes, want %d",
			c.Serial, len(keyHash), len(c.KeyHash))
	}
	copy(c.KeyHash[:], keyHash)
	c.NotBefore, c.NotAfter = stored.FromUnix(notBefore), stored.FromUnix(notAfter)
	c.Source = store.Source(source)
	c.NotifyIssued, c.NotifyExpiry = notifyIssued != 0, notifyExpiry != 0
	c.CreatedAt = stored.FromUnix(createdAt)
	if revokedAt.Valid {
		at := stored.FromUnix(revokedAt.Int64)
		c.RevokedAt = &at
		c.Reason = store.Reason(reason.Int64)
	}
	return &c, nil
}
