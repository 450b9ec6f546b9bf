// Package stored is how the SQL stores (store/sqlite and store/postgres) put
// times and numbers into columns, so that both keep one encoding and compare
// a caller's values with stored ones the same way.
//
// Certificate, CA and CRL times are whole Unix seconds; outbox, audit and
// lease times are Unix microseconds. Each precision has an encoder that drops
// what is finer (rounding towards the past), a Ceil variant for filters, and a
// decoder that returns UTC. For a stored value s and a caller's time t,
// s < t exactly when s < Ceil(t), and s >= t exactly when s >= Ceil(t), so a
// filter compares stored values with the Ceil of the caller's time.
package stored

import (
	"math/big"
	"time"

	"github.com/anchorpki/anchor/store"
)

// Unix is t as stored in whole Unix seconds, the sub-second part dropped.
func Unix(t time.Time) int64 { return t.Unix() }

// UnixCeil is the smallest whole Unix second at or after t.
func UnixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// FromUnix turns stored seconds back into a time in UTC.
func FromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

// Micros is t as stored in Unix microseconds, the finer part dropped.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// MicrosCeil is the smallest whole Unix microsecond at or after t.
func MicrosCeil(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// FromMicros turns stored microseconds back into a time in UTC.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// UTCDay is the midnight, UTC, that starts t's UTC date: the day a reminder
// is recorded under.
func UTCDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// NumberKey returns store.SerialKey(n), or the error of store.CheckNumber if
// n is not a number the stores can key. what names the number in the error.
func NumberKey(what string, n *big.Int) (string, error) {
	if err := store.CheckNumber(what, n); err != nil {
		return "", err
	}
	return store.SerialKey(n), nil
}
