package crl

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestPutHeader(t *testing.T) {
	cases := []struct {
		n    int
		want string
	}{
		{0, "3000"},
		{127, "307f"},
		{128, "308180"},
		{255, "3081ff"},
		{256, "30820100"},
		{65535, "3082ffff"},
		{65536, "3083010000"},
		{54_000_000, "30840337f980"},
		{1 << 40, "3086010000000000"},
	}
	for _, c := range cases {
		var buf [maxHeaderLen]byte
		n := putHeader(buf[:], tagSequence, c.n)
		if got := hex.EncodeToString(buf[:n]); got != c.want {
			t.Errorf("putHeader(%d) = %s, want %s", c.n, got, c.want)
		}
		if n != 1+lengthLen(c.n) {
			t.Errorf("putHeader(%d) wrote %d bytes, lengthLen says %d", c.n, n, 1+lengthLen(c.n))
		}
	}
}

func TestAppendInteger(t *testing.T) {
	cases := []struct {
		x    *big.Int
		want string
	}{
		{big.NewInt(0), "020100"},
		{big.NewInt(1), "020101"},
		{big.NewInt(127), "02017f"},
		{big.NewInt(128), "02020080"},
		{big.NewInt(256), "02020100"},
		{big.NewInt(531), "02020213"},
		{new(big.Int).Lsh(big.NewInt(1), 159), "02150080" + strings.Repeat("00", 19)},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(appendInteger(nil, c.x)); got != c.want {
			t.Errorf("appendInteger(%v) = %s, want %s", c.x, got, c.want)
		}
		std, err := asn1.Marshal(c.x)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendInteger(nil, c.x); !bytes.Equal(got, std) {
			t.Errorf("appendInteger(%v) = %x, encoding/asn1 says %x", c.x, got, std)
		}
	}
}

func TestPutTime(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), "\x17\x0d500101000000Z"},
		{time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), "\x17\x0d691231235959Z"},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), "\x17\x0d700101000000Z"},
		{time.Date(2000, 2, 29, 12, 34, 56, 0, time.UTC), "\x17\x0d000229123456Z"},
		{time.Date(2025, 6, 1, 10, 24, 36, 0, time.UTC), "\x17\x0d250601102436Z"},
		{time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC), "\x17\x0d491231235959Z"},
		{time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), "\x18\x0f20500101000000Z"},
		{time.Date(2100, 2, 28, 23, 0, 0, 0, time.UTC), "\x18\x0f21000228230000Z"},
		{time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC), "\x18\x0f21000301000000Z"},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "\x18\x0f99991231235959Z"},
	}
	for _, c := range cases {
		var buf [timeRoom]byte
		n := putTime(buf[:], c.t.Unix())
		if got := string(buf[:n]); got != c.want {
			t.Errorf("putTime(%v) = %q, want %q", c.t, got, c.want)
		}
	}

	// Against encoding/asn1, which picks UTCTime or GeneralizedTime by the
	// same rule, over random seconds of the whole range.
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range 100_000 {
		sec := minTime + rng.Int64N(maxTime-minTime+1)
		want, err := asn1.Marshal(time.Unix(sec, 0).UTC())
		if err != nil {
			t.Fatal(err)
		}
		var buf [timeRoom]byte
		if got := buf[:putTime(buf[:], sec)]; !bytes.Equal(got, want) {
			t.Fatalf("putTime(%d) = %q, encoding/asn1 says %q", sec, got, want)
		}
	}
}

func TestPutMagnitude(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for n := 1; n <= 40; n++ {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] |= 1 << rng.IntN(8)
			x := new(big.Int).SetBytes(b)
			got := make([]byte, n+2)
			putMagnitude(got[1:], x.Bits(), n)
			if !bytes.Equal(got[1:n+1], b) || got[0] != 0 || got[n+1] != 0 {
				t.Fatalf("putMagnitude(%x) = %x", b, got)
			}
		}
	}
}

func TestTimeRange(t *testing.T) {
	for _, c := range []struct {
		got  int64
		want time.Time
	}{
		{minTime, time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)},
		{generalized, time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)},
		{maxTime, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
	} {
		if c.got != c.want.Unix() {
			t.Errorf("constant %d, want %d (%v)", c.got, c.want.Unix(), c.want)
		}
	}
}
