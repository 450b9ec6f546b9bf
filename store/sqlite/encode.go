package sqlite

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/anchorpki/anchor/store"
)

// maxNumberBits is the size limit of serial and CRL numbers: RFC 5280 sections
// 4.1.2.2 and 5.2.3 allow at most 20 octets, and a positive DER INTEGER of 20
// octets has at most 159 value bits.
const maxNumberBits = 159

// numberKey returns store.SerialKey(n), or an error if n is not a number the
// store can key: nil, zero, negative or longer than 159 bits.
func numberKey(n *big.Int) (string, error) {
	switch {
	case n == nil:
		return "", errors.New("is missing")
	case n.Sign() <= 0:
		return "", fmt.Errorf("must be positive, got %s", n)
	case n.BitLen() > maxNumberBits:
		return "", fmt.Errorf("has %d bits, more than the %d that fit in 20 octets",
			n.BitLen(), maxNumberBits)
	}
	return store.SerialKey(n), nil
}

// parseNumberKey reverses numberKey.
func parseNumberKey(key string) (*big.Int, error) {
	var b [20]byte
	if len(key) != 2*len(b) {
		return nil, fmt.Errorf("stored key %q is not %d hex digits", key, 2*len(b))
	}
	if _, err := hex.Decode(b[:], []byte(key)); err != nil {
		return nil, fmt.Errorf("stored key %q: %w", key, err)
	}
	return new(big.Int).SetBytes(b[:]), nil
}

// unix is how a time is stored: whole Unix seconds, the sub-second part
// dropped (rounded towards the past).
func unix(t time.Time) int64 { return t.Unix() }

// unixCeil is the smallest whole second at or after t. For a stored time s,
// s < t exactly when s < unixCeil(t), and s >= t exactly when
// s >= unixCeil(t), which is how filters compare stored seconds with a
// caller's time that may carry nanoseconds.
func unixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// fromUnix turns stored seconds back into a time in UTC.
func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// validReason reports whether r is a reason code Anchor records. Holds
// (certificateHold, 6, and removeFromCRL, 8) are refused, as is the unused
// value 7.
func validReason(r store.Reason) bool {
	switch r {
	case store.ReasonUnspecified, store.ReasonKeyCompromise, store.ReasonCACompromise,
		store.ReasonAffiliationChanged, store.ReasonSuperseded,
		store.ReasonCessationOfOperation, store.ReasonPrivilegeWithdrawn,
		store.ReasonAACompromise:
		return true
	}
	return false
}

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
	if c == nil {
		return nil, errors.New("store/sqlite: certificate is nil")
	}
	key, err := numberKey(c.Serial)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: certificate serial %w", err)
	}
	field := func(name, problem string) error {
		return fmt.Errorf("store/sqlite: certificate %s: %s %s", c.Serial, name, problem)
	}
	switch {
	case c.Issuer == "":
		return nil, field("issuer", "is empty")
	case len(c.DER) == 0:
		return nil, field("DER", "is empty")
	case c.Source == "":
		return nil, field("source", "is empty")
	case c.NotBefore.IsZero():
		return nil, field("notBefore", "is zero")
	case c.NotAfter.IsZero():
		return nil, field("notAfter", "is zero")
	case c.NotAfter.Before(c.NotBefore):
		return nil, field("notAfter", "is before notBefore")
	}
	created := c.CreatedAt
	if created.IsZero() {
		created = now
	}
	var revokedAt, reason any // NULL unless revoked
	if c.RevokedAt != nil {
		if c.RevokedAt.IsZero() {
			return nil, field("revokedAt", "is zero")
		}
		if !validReason(c.Reason) {
			return nil, field("reason", fmt.Sprintf("%s is not accepted", c.Reason))
		}
		revokedAt, reason = unix(*c.RevokedAt), int64(c.Reason)
	}
	return []any{
		key, c.Serial.String(), c.Issuer, c.Subject, c.CommonName, c.KeyHash[:],
		unix(c.NotBefore), unix(c.NotAfter), c.DER, string(c.Source),
		boolInt(c.NotifyIssued), boolInt(c.NotifyExpiry), unix(created),
		revokedAt, reason,
	}, nil
}

// insertCertificateSQL records one certificate. ON CONFLICT DO NOTHING turns a
// duplicate serial into zero rows affected rather than an error, so that it
// fails only its own caller and leaves the rest of a group commit intact.
const insertCertificateSQL = `INSERT INTO certificates (
	serial_key, serial, issuer, subject, common_name, key_hash,
	not_before, not_after, der, source,
	notify_issued, notify_expiry, created_at, revoked_at, reason
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING`

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
	if c.Serial, err = parseNumberKey(key); err != nil {
		return nil, err
	}
	if len(keyHash) != len(c.KeyHash) {
		return nil, fmt.Errorf("certificate %s: stored key_hash has %d bytes, want %d",
			c.Serial, len(keyHash), len(c.KeyHash))
	}
	copy(c.KeyHash[:], keyHash)
	c.NotBefore, c.NotAfter = fromUnix(notBefore), fromUnix(notAfter)
	c.Source = store.Source(source)
	c.NotifyIssued, c.NotifyExpiry = notifyIssued != 0, notifyExpiry != 0
	c.CreatedAt = fromUnix(createdAt)
	if revokedAt.Valid {
		at := fromUnix(revokedAt.Int64)
		c.RevokedAt = &at
		c.Reason = store.Reason(reason.Int64)
	}
	return &c, nil
}
