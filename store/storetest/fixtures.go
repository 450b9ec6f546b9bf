package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/anchorpki/anchor/store"
)

// base is the suite's "now": fixtures are placed around it. It is a whole
// second, as stored times are.
var base = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// noExpiry is the notAfter RFC 5280 section 4.1.2.5 gives a certificate with
// no well-defined expiration; it is beyond what Unix nanoseconds in 64 bits
// can hold.
var noExpiry = time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)

const (
	issuerA = "anchor-issuing-ca-a"
	issuerB = "anchor-issuing-ca-b"
)

// pow2 returns 2^n.
func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

// num returns n as a *big.Int.
func num(n int64) *big.Int { return big.NewInt(n) }

// newCert returns a certificate with every field set, derived from serial so
// that two certificates differ in every field but the ones a test sets.
func newCert(serial *big.Int) *store.Certificate {
	name := fmt.Sprintf("host-%s.example.com", serial)
	return &store.Certificate{
		Serial:       new(big.Int).Set(serial),
		Issuer:       issuerA,
		Subject:      "CN=" + name + ",O=Anchor Test,C=GB",
		CommonName:   name,
		KeyHash:      sha256.Sum256([]byte(name)),
		NotBefore:    base.Add(-time.Hour),
		NotAfter:     base.Add(90 * 24 * time.Hour),
		DER:          fakeDER(serial),
		Source:       store.SourceAPI,
		NotifyIssued: true,
		NotifyExpiry: true,
		CreatedAt:    base.Add(-time.Hour),
	}
}

// fakeDER returns bytes standing in for a certificate: the store treats DER
// as opaque. They start like a DER SEQUENCE and include the serial and a zero
// byte, so a store that mangles binary data is caught.
func fakeDER(serial *big.Int) []byte {
	der := []byte{0x30, 0x82, 0x02, 0x00, 0x00, 0xff}
	der = append(der, serial.Bytes()...)
	for i := range 64 {
		der = append(der, byte(i*7))
	}
	return der
}

// timePtr returns a pointer to t.
func timePtr(t time.Time) *time.Time { return &t }

// insert records certs and fails the test on any error.
func insert(t *testing.T, s store.Store, certs ...*store.Certificate) {
	t.Helper()
	for _, c := range certs {
		if err := s.InsertCertificate(context.Background(), c); err != nil {
			t.Fatalf("InsertCertificate(%s): %v", c.Serial, err)
		}
	}
}

// get reads the certificate with serial and fails the test on any error.
func get(t *testing.T, s store.Store, serial *big.Int) *store.Certificate {
	t.Helper()
	c, err := s.Certificate(context.Background(), serial)
	if err != nil {
		t.Fatalf("Certificate(%s): %v", serial, err)
	}
	return c
}

// list runs List and fails the test on any error.
func list(t *testing.T, s store.Store, f store.Filter) []*store.Certificate {
	t.Helper()
	certs, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return certs
}

// serials returns the serial numbers of certs in decimal, for comparisons and
// readable failures.
func serials(certs []*store.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = c.Serial.String()
	}
	return out
}

// decimals returns the numbers in decimal.
func decimals(nums ...*big.Int) []string {
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = n.String()
	}
	return out
}

// equalStrings reports whether a and b hold the same strings in the same
// order.
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkCert reports every field in which got differs from want. Times must be
// equal instants and in UTC.
func checkCert(t *testing.T, got, want *store.Certificate) {
	t.Helper()
	if got == nil {
		t.Errorf("certificate %s: got nil", want.Serial)
		return
	}
	var d []string
	diff := func(field string, g, w any) {
		d = append(d, fmt.Sprintf("  %s: got %v, want %v", field, g, w))
	}
	if got.Serial == nil || got.Serial.Cmp(want.Serial) != 0 {
		diff("Serial", got.Serial, want.Serial)
	}
	if got.Issuer != want.Issuer {
		diff("Issuer", got.Issuer, want.Issuer)
	}
	if got.Subject != want.Subject {
		diff("Subject", got.Subject, want.Subject)
	}
	if got.CommonName != want.CommonName {
		diff("CommonName", got.CommonName, want.CommonName)
	}
	if got.KeyHash != want.KeyHash {
		diff("KeyHash", fmt.Sprintf("%x", got.KeyHash), fmt.Sprintf("%x", want.KeyHash))
	}
	checkTime(&d, "NotBefore", got.NotBefore, want.NotBefore)
	checkTime(&d, "NotAfter", got.NotAfter, want.NotAfter)
	if string(got.DER) != string(want.DER) {
		diff("DER", fmt.Sprintf("%x", got.DER), fmt.Sprintf("%x", want.DER))
	}
	if got.Source != want.Source {
		diff("Source", got.Source, want.Source)
	}
	if got.NotifyIssued != want.NotifyIssued {
		diff("NotifyIssued", got.NotifyIssued, want.NotifyIssued)
	}
	if got.NotifyExpiry != want.NotifyExpiry {
		diff("NotifyExpiry", got.NotifyExpiry, want.NotifyExpiry)
	}
	checkTime(&d, "CreatedAt", got.CreatedAt, want.CreatedAt)
	switch {
	case (got.RevokedAt == nil) != (want.RevokedAt == nil):
		diff("RevokedAt", got.RevokedAt, want.RevokedAt)
	case got.RevokedAt != nil:
		checkTime(&d, "RevokedAt", *got.RevokedAt, *want.RevokedAt)
	}
	if got.Reason != want.Reason {
		diff("Reason", got.Reason, want.Reason)
	}
	if len(d) > 0 {
		t.Errorf("certificate %s differs:\n%s", want.Serial, strings.Join(d, "\n"))
	}
}

// checkTime appends to d a line if got is not the instant want or not in UTC.
func checkTime(d *[]string, field string, got, want time.Time) {
	switch {
	case !got.Equal(want):
		*d = append(*d, fmt.Sprintf("  %s: got %s, want %s", field,
			got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano)))
	case got.Location() != time.UTC:
		*d = append(*d, fmt.Sprintf("  %s: got location %s, want UTC", field, got.Location()))
	}
}

// checkCRL reports how got differs from want.
func checkCRL(t *testing.T, what string, got, want *store.CRLRecord) {
	t.Helper()
	switch {
	case got == nil && want == nil:
		return
	case got == nil || want == nil:
		t.Errorf("%s: got %+v, want %+v", what, got, want)
		return
	}
	var d []string
	if got.Issuer != want.Issuer {
		d = append(d, fmt.Sprintf("  Issuer: got %q, want %q", got.Issuer, want.Issuer))
	}
	if got.Number == nil || got.Number.Cmp(want.Number) != 0 {
		d = append(d, fmt.Sprintf("  Number: got %v, want %v", got.Number, want.Number))
	}
	checkTime(&d, "ThisUpdate", got.ThisUpdate, want.ThisUpdate)
	checkTime(&d, "NextUpdate", got.NextUpdate, want.NextUpdate)
	if len(d) > 0 {
		t.Errorf("%s differs:\n%s", what, strings.Join(d, "\n"))
	}
}

// checkCA reports how got differs from want.
func checkCA(t *testing.T, got, want *store.CA) {
	t.Helper()
	if got == nil {
		t.Errorf("CA %s: got nil", want.Slug)
		return
	}
	var d []string
	for _, f := range []struct{ name, got, want string }{
		{"Slug", got.Slug, want.Slug},
		{"Role", got.Role, want.Role},
		{"Parent", got.Parent, want.Parent},
		{"KeyRef", got.KeyRef, want.KeyRef},
		{"DER", fmt.Sprintf("%x", got.DER), fmt.Sprintf("%x", want.DER)},
	} {
		if f.got != f.want {
			d = append(d, fmt.Sprintf("  %s: got %q, want %q", f.name, f.got, f.want))
		}
	}
	if got.Serial == nil || got.Serial.Cmp(want.Serial) != 0 {
		d = append(d, fmt.Sprintf("  Serial: got %v, want %v", got.Serial, want.Serial))
	}
	checkTime(&d, "CreatedAt", got.CreatedAt, want.CreatedAt)
	if len(d) > 0 {
		t.Errorf("CA %s differs:\n%s", want.Slug, strings.Join(d, "\n"))
	}
}

// wantErr fails the test unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}
