package stored

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestSeconds(t *testing.T) {
	tests := []struct {
		in         time.Time
		unix, ceil int64
	}{
		{time.Unix(100, 0), 100, 100},
		{time.Unix(100, 1), 100, 101},
		{time.Unix(100, 999_999_999), 100, 101},
		{time.Unix(-1, 500_000_000), -1, 0}, // half a second before the epoch
	}
	for _, tt := range tests {
		if got := Unix(tt.in); got != tt.unix {
			t.Errorf("Unix(%v) = %d, want %d", tt.in, got, tt.unix)
		}
		if got := UnixCeil(tt.in); got != tt.ceil {
			t.Errorf("UnixCeil(%v) = %d, want %d", tt.in, got, tt.ceil)
		}
	}
	if got, want := FromUnix(100), time.Date(1970, 1, 1, 0, 1, 40, 0, time.UTC); got != want {
		t.Errorf("FromUnix(100) = %v, want %v", got, want)
	}
}

func TestMicros(t *testing.T) {
	tests := []struct {
		in         time.Time
		us, ceilUS int64
	}{
		{time.Unix(1, 2000), 1_000_002, 1_000_002},
		{time.Unix(1, 2001), 1_000_002, 1_000_003},
		{time.Unix(1, 999), 1_000_000, 1_000_001},
	}
	for _, tt := range tests {
		if got := Micros(tt.in); got != tt.us {
			t.Errorf("Micros(%v) = %d, want %d", tt.in, got, tt.us)
		}
		if got := MicrosCeil(tt.in); got != tt.ceilUS {
			t.Errorf("MicrosCeil(%v) = %d, want %d", tt.in, got, tt.ceilUS)
		}
	}
	want := time.Date(1970, 1, 1, 0, 0, 1, 2000, time.UTC)
	if got := FromMicros(1_000_002); got != want {
		t.Errorf("FromMicros(1000002) = %v, want %v", got, want)
	}
}

func TestUTCDay(t *testing.T) {
	east := time.FixedZone("UTC+10", 10*3600)
	in := time.Date(2026, 3, 1, 5, 30, 0, 0, east) // 19:30 UTC on 28 February
	if got, want := UTCDay(in), time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC); got != want {
		t.Errorf("UTCDay(%v) = %v, want %v", in, got, want)
	}
}

func TestNumberKey(t *testing.T) {
	key, err := NumberKey("serial", big.NewInt(255))
	if err != nil || key != "00000000000000000000000000000000000000ff" {
		t.Errorf("NumberKey(255) = %q, %v; want 38 zeros then ff", key, err)
	}
	if _, err := NumberKey("serial", big.NewInt(-1)); err == nil ||
		!strings.Contains(err.Error(), "serial") {
		t.Errorf("NumberKey(-1): %v, want an error naming the serial", err)
	}
}
