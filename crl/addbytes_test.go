package crl

import (
	"bytes"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestAddBytesSameAsAdd builds one CRL with Add and one with AddBytes from
// the same entries, with Ed25519 (deterministic signatures), and wants the
// same bytes: serials of 1 to 20 octets with and without the pad, given
// with and without leading zero bytes, every reason and both time forms.
func TestAddBytesSameAsAdd(t *testing.T) {
	iss, key := testIssuer(t, edKey)
	p := testParams(iss, key)
	entries := testEntries(500, p.ThisUpdate)
	max159 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
	max160 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 160), big.NewInt(1))
	entries = append(entries,
		Entry{Serial: big.NewInt(1), RevokedAt: p.ThisUpdate, Reason: 1},
		Entry{Serial: big.NewInt(0x80), RevokedAt: p.ThisUpdate.Add(-time.Second)},
		Entry{Serial: max159, RevokedAt: time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)},
		Entry{Serial: max160, RevokedAt: p.ThisUpdate, Reason: 10},
	)

	want, err := Build(p, entries)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		serial := e.Serial.Bytes()
		if i%2 == 0 {
			// Fixed width, as a cache keeps them.
			serial = e.Serial.FillBytes(make([]byte, 20))
		}
		if err := b.AddBytes(serial, e.RevokedAt, e.Reason); err != nil {
			t.Fatalf("AddBytes(%X): %v", serial, err)
		}
	}
	got, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("CRL from AddBytes (%d bytes) differs from the one from Add (%d bytes)",
			len(got), len(want))
	}
}

// TestAddBytesErrors checks that AddBytes refuses what Add refuses, with the
// same words, and leaves the Builder as it was.
func TestAddBytesErrors(t *testing.T) {
	iss, key := testIssuer(t, edKey)
	p := testParams(iss, key)
	ok := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		serial []byte
		at     time.Time
		reason int
		want   string
	}{
		{"empty serial", nil, ok, 0, "serial 0 is not positive"},
		{"zero serial", []byte{0, 0, 0}, ok, 0, "serial 0 is not positive"},
		{"21 octets", append([]byte{1}, make([]byte, 20)...), ok, 0,
			"longer than 20 octets"},
		{"zero time", []byte{10}, time.Time{}, 0, "serial A: RevokedAt is zero"},
		{"after thisUpdate", []byte{10}, p.ThisUpdate.Add(time.Second), 0,
			"is after ThisUpdate 2025-06-01T10:24:36Z"},
		{"reason 7", []byte{10}, ok, 7, "reason 7 is not a CRLReason"},
		{"reason -1", []byte{10}, ok, -1, "reason -1 is not"},
		{"removeFromCRL", []byte{10}, ok, 8, "delta CRLs"},
	}
	b, err := NewBuilder(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		err := b.AddBytes(tc.serial, tc.at, tc.reason)
		if !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: AddBytes = %v; want ErrInvalidEntry saying %q", tc.name, err, tc.want)
		}
	}
	if b.Len() != 0 {
		t.Errorf("Len after refused entries = %d, want 0", b.Len())
	}
	if _, err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := b.AddBytes([]byte{1}, ok, 0); !errors.Is(err, ErrFinished) {
		t.Errorf("AddBytes after Finish = %v, want ErrFinished", err)
	}
}
