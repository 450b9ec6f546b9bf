package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// MaxNumberBits is the size limit of serial and CRL numbers: RFC 5280 sections
// 4.1.2.2 and 5.2.3 allow at most 20 octets, and a positive DER INTEGER of 20
// octets has at most 159 value bits.
const MaxNumberBits = 159

// CheckNumber reports why n cannot be a serial or CRL number: nil, zero,
// negative or longer than MaxNumberBits. what names the number in the error,
// e.g. "serial" or "CRL number".
func CheckNumber(what string, n *big.Int) error {
	switch {
	case n == nil:
		return fmt.Errorf("store: %s is missing", what)
	case n.Sign() <= 0:
		return fmt.Errorf("store: %s %s is not positive", what, n)
	case n.BitLen() > MaxNumberBits:
		return fmt.Errorf("store: %s has %d bits, more than the %d that fit in 20 octets",
			what, n.BitLen(), MaxNumberBits)
	}
	return nil
}

// ParseSerialKey reverses SerialKey for a key of exactly 40 hex digits.
func ParseSerialKey(key string) (*big.Int, error) {
	var b [20]byte
	if len(key) != 2*len(b) {
		return nil, fmt.Errorf("store: key %q is not %d hex digits", key, 2*len(b))
	}
	if _, err := hex.Decode(b[:], []byte(key)); err != nil {
		return nil, fmt.Errorf("store: key %q: %w", key, err)
	}
	return new(big.Int).SetBytes(b[:]), nil
}

// Accepted reports whether Anchor records r. Holds (certificateHold, 6, and
// removeFromCRL, 8) are refused, as is the unused value 7.
func (r Reason) Accepted() bool {
	_, ok := reasonNames[r]
	return ok
}

// Check returns an error naming the first field of c that cannot be recorded.
// CreatedAt may be zero: the store records the time of the call.
func (c *Certificate) Check() error {
	if c == nil {
		return errors.New("store: certificate is nil")
	}
	if err := CheckNumber("certificate serial", c.Serial); err != nil {
		return err
	}
	field := func(name, problem string) error {
		return fmt.Errorf("store: certificate %s: %s %s", c.Serial, name, problem)
	}
	switch {
	case c.Issuer == "":
		return field("issuer", "is empty")
	case len(c.DER) == 0:
		return field("DER", "is empty")
	case c.Source == "":
		return field("source", "is empty")
	case c.NotBefore.IsZero():
		return field("notBefore", "is zero")
	case c.NotAfter.IsZero():
		return field("notAfter", "is zero")
	case c.NotAfter.Before(c.NotBefore):
		return field("notAfter", "is before notBefore")
	case c.RevokedAt != nil && c.RevokedAt.IsZero():
		return field("revokedAt", "is zero")
	case c.RevokedAt != nil && !c.Reason.Accepted():
		return field("reason", fmt.Sprintf("%s is not accepted", c.Reason))
	}
	return nil
}

// Check returns an error naming the first field of ca that cannot be recorded.
func (ca *CA) Check() error {
	if ca == nil {
		return errors.New("store: CA is nil")
	}
	field := func(name, problem string) error {
		return fmt.Errorf("store: CA %q: %s %s", ca.Slug, name, problem)
	}
	switch {
	case ca.Slug == "":
		return field("slug", "is empty")
	case ca.Role != "root" && ca.Role != "issuing":
		return field("role", fmt.Sprintf("%q is not root or issuing", ca.Role))
	case ca.Parent == "":
		return field("parent", "is empty")
	case ca.Serial == nil:
		return field("serial", "is missing")
	case ca.Serial.Sign() <= 0:
		return field("serial", "is not positive")
	case len(ca.DER) == 0:
		return field("DER", "is empty")
	}
	return nil
}

// Check returns an error if o cannot be recorded: its event does not pass
// notify.Event.Validate, or a notifier name is empty. An Outgoing with no
// notifiers is valid and records nothing.
func (o Outgoing) Check() error {
	if err := o.Event.Validate(); err != nil {
		return fmt.Errorf("store: outgoing event: %w", err)
	}
	if slices.Contains(o.Notifiers, "") {
		return fmt.Errorf("store: outgoing event %s: empty notifier name", o.Event.ID)
	}
	return nil
}

// CheckEvents returns the error of the first event that cannot be recorded.
func CheckEvents(events []Outgoing) error {
	for _, o := range events {
		if err := o.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RoleReader, RoleIssuer, RoleRevoker, RoleAdmin:
		return true
	}
	return false
}

// Check returns an error naming the first field of t that cannot be recorded.
// CreatedAt may be zero: the store records the time of the call.
func (t *Token) Check() error {
	if t == nil {
		return errors.New("store: token is nil")
	}
	field := func(name, problem string) error {
		return fmt.Errorf("store: token %q: %s %s", t.Name, name, problem)
	}
	switch {
	case t.ID == "":
		return field("ID", "is empty")
	case t.Name == "":
		return field("name", "is empty")
	case !t.Role.Valid():
		return field("role", fmt.Sprintf("%q is not reader, issuer, revoker or admin", t.Role))
	case t.Hash == [32]byte{}:
		return field("hash", "is all zeros")
	case t.MaxLifetimeDays < 0:
		return field("maxLifetimeDays", "is negative")
	case t.RevokedAt != nil && t.RevokedAt.IsZero():
		return field("revokedAt", "is zero")
	case slices.Contains(t.AllowCN, ""):
		return field("allowCN", "has an empty pattern")
	case slices.Contains(t.AllowSAN, ""):
		return field("allowSAN", "has an empty pattern")
	}
	return nil
}

// Check returns an error if r cannot be recorded: it needs an Action. A zero
// At is recorded as the time of the call.
func (r *AuditRecord) Check() error {
	if r.Action == "" {
		return fmt.Errorf("store: audit record by %q: action is empty", r.Actor)
	}
	return nil
}

// Check returns an error if r cannot be recorded: Serial must be a decimal
// serial number and Day set.
func (r Reminded) Check() error {
	n, ok := new(big.Int).SetString(r.Serial, 10)
	if !ok {
		return fmt.Errorf("store: reminder: serial %q is not a decimal number", r.Serial)
	}
	if err := CheckNumber("reminder serial", n); err != nil {
		return err
	}
	if r.Day.IsZero() {
		return fmt.Errorf("store: reminder for %s: day is zero", r.Serial)
	}
	return nil
}

// CheckLease returns an error naming the first argument of AcquireLease that
// is wrong: an empty name or holder, or a ttl that is not positive.
func CheckLease(name, holder string, ttl time.Duration) error {
	switch {
	case name == "":
		return errors.New("store: lease name is empty")
	case holder == "":
		return fmt.Errorf("store: lease %q: holder is empty", name)
	case ttl <= 0:
		return fmt.Errorf("store: lease %q: ttl %s is not positive", name, ttl)
	}
	return nil
}
