package crl

import (
	"encoding/binary"
	"math/big"
	"math/bits"
)

// This file holds the DER primitives the builder writes with. Each one writes
// into a slice the caller has already sized, so that encoding an entry never
// allocates; the builder checks the room once per entry (see maxEntryLen).

// DER tags used by a CRL.
const (
	tagInteger         = 0x02
	tagBitString       = 0x03
	tagOctetString     = 0x04
	tagEnumerated      = 0x0a
	tagUTCTime         = 0x17
	tagGeneralizedTime = 0x18
	tagSequence        = 0x30
	tagExplicit0       = 0xa0 // [0] EXPLICIT, constructed
	tagKeyID           = 0x80 // [0] IMPLICIT KeyIdentifier, primitive
)

// maxHeaderLen is the longest tag and length header a TBSCertList, its
// revokedCertificates or the whole CertificateList can need: one tag byte, one
// length-of-length byte and up to eight length bytes.
const maxHeaderLen = 1 + 1 + 8

// lengthLen returns how many bytes the DER length of n takes (X.690 8.1.3).
func lengthLen(n int) int {
	if n < 0x80 {
		return 1
	}
	l := 1
	for v := n; v > 0; v >>= 8 {
		l++
	}
	return l
}

// putHeader writes tag and the DER length n into dst, which must hold at least
// 1+lengthLen(n) bytes, and returns the number of bytes written.
func putHeader(dst []byte, tag byte, n int) int {
	dst[0] = tag
	if n < 0x80 {
		dst[1] = byte(n)
		return 2
	}
	l := lengthLen(n) - 1
	dst[1] = 0x80 | byte(l)
	for i := l; i > 0; i-- {
		dst[1+i] = byte(n)
		n >>= 8
	}
	return 2 + l
}

// appendTLV appends tag, length and content to dst.
func appendTLV(dst []byte, tag byte, content []byte) []byte {
	var hdr [maxHeaderLen]byte
	n := putHeader(hdr[:], tag, len(content))
	dst = append(dst, hdr[:n]...)
	return append(dst, content...)
}

// appendInteger appends a non-negative x as a minimal DER INTEGER (X.690
// 8.3.2): the big-endian magnitude, with a 0x00 in front when its top bit is
// set, and a single 0x00 for zero.
func appendInteger(dst []byte, x *big.Int) []byte {
	n, pad := integerLen(x)
	var hdr [maxHeaderLen]byte
	h := putHeader(hdr[:], tagInteger, n+pad)
	dst = append(dst, hdr[:h]...)
	if pad == 1 {
		dst = append(dst, 0)
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	x.FillBytes(dst[start:])
	return dst
}

// integerLen returns the length of the magnitude of the non-negative x in
// bytes and whether DER needs a leading 0x00 (1) or not (0). Zero is one
// 0x00 byte, written as a pad with an empty magnitude.
func integerLen(x *big.Int) (n, pad int) {
	bits := x.BitLen()
	if bits == 0 {
		return 0, 1
	}
	n = (bits + 7) / 8
	if bits%8 == 0 {
		pad = 1
	}
	return n, pad
}

// The range of times a CRL can carry, in Unix seconds. RFC 5280 5.1.2.4
// encodes dates through 2049 as UTCTime (whose two-digit years cover 1950 to
// 2049) and dates from 2050 as GeneralizedTime, whose four-digit years end
// at 9999.
const (
	minTime     = -631152000   // 1950-01-01T00:00:00Z
	generalized = 2524608000   // 2050-01-01T00:00:00Z
	maxTime     = 253402300799 // 9999-12-31T23:59:59Z
)

// maxTimeBytes is the size of the longer encoding, a GeneralizedTime.
// timeRoom is the room putTime needs: one byte more, which it may scribble.
const (
	maxTimeBytes = 2 + len("20500101000000Z")
	timeRoom     = maxTimeBytes + 1
)

// pairs holds the two ASCII digits of 0 to 99 as a big-endian uint16, so
// that a two-digit field is one table load.
var pairs = func() (t [100]uint16) {
	for i := range t {
		t[i] = uint16('0'+i/10)<<8 | uint16('0'+i%10)
	}
	return t
}()

// daysTo1950 is the number of days from 0000-03-01 to 1950-01-01 in the
// proleptic Gregorian calendar.
const daysTo1950 = 712163

// putTime writes sec (Unix seconds in [minTime, maxTime]) as UTCTime
// YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, header included, into
// dst, and returns the number of bytes written. dst must hold timeRoom bytes;
// the byte after the time may be overwritten.
func putTime(dst []byte, sec int64) int {
	days, rem := splitTime(sec)
	return putTimeParts(dst, sec >= generalized, civilDate(days), rem)
}

// splitTime returns the whole days since 1950-01-01 and the seconds into the
// day of sec, a Unix time in [minTime, maxTime].
func splitTime(sec int64) (days, rem uint32) {
	since1950 := uint64(sec - minTime)
	days = uint32(since1950 / 86400)
	return days, uint32(since1950 - uint64(days)*86400)
}

// civilDate returns the date days after 1950-01-01 as the eight ASCII digits
// YYYYMMDD, packed big-endian into a uint64.
//
// It uses unsigned 32-bit arithmetic, whose divisions by constants compile
// to multiplications: counting from 0000-03-01 puts leap days at the end of
// a year, so that the year, month and day follow from the 400-year
// (146097-day), 100-year, 4-year and 153-day (five-month) cycles of the
// Gregorian calendar.
func civilDate(days uint32) uint64 {
	z := days + daysTo1950
	era := z / 146097
	doe := z - era*146097                                  // day of era, [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of era, [0, 399]
	year := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // day of the March-based year
	mp := (5*doy + 2) / 153                  // month, March = 0
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
		year++
	}
	return uint64(pairs[year/100%100])<<48 | uint64(pairs[year%100])<<32 |
		uint64(pairs[month%100])<<16 | uint64(pairs[day%100])
}

// putTimeParts writes a time given as its date (from civilDate) and seconds
// into the day; see putTime.
func putTimeParts(dst []byte, generalized bool, ymd uint64, rem uint32) int {
	_ = dst[timeRoom-1]
	i := 2
	if generalized {
		dst[0], dst[1] = tagGeneralizedTime, 15
		binary.BigEndian.PutUint64(dst[2:], ymd)
		i += 8
	} else {
		// The two digits of the century are dropped; the two bytes this
		// writes past the date are overwritten by the hour below.
		dst[0], dst[1] = tagUTCTime, 13
		binary.BigEndian.PutUint64(dst[2:], ymd<<16)
		i += 6
	}
	// Hour, minute, second and 'Z' are seven bytes, stored as one eight-byte
	// word whose last byte is the scratch byte past the time.
	hms := uint64(pairs[rem/3600%100])<<48 | uint64(pairs[rem/60%60])<<32 |
		uint64(pairs[rem%60])<<16 | 'Z'<<8
	binary.BigEndian.PutUint64(dst[i:], hms)
	return i + 7
}

// dateCache remembers civilDate for the days just before thisUpdate, where
// nearly all revocation dates fall, so that Add pays for the calendar
// arithmetic once per day rather than once per entry. Slot k holds the date
// k days before thisUpdate, or zero before it is first needed (an encoded
// date is never zero).
type dateCache struct {
	thisDay uint32
	ymd     [4096]uint64 // 11 years, 32 KiB
}

// putTime is putTime through the cache, for a sec not after thisUpdate.
func (c *dateCache) putTime(dst []byte, sec int64) int {
	days, rem := splitTime(sec)
	var ymd uint64
	if k := c.thisDay - days; k < uint32(len(c.ymd)) {
		if ymd = c.ymd[k]; ymd == 0 {
			ymd = civilDate(days)
			c.ymd[k] = ymd
		}
	} else {
		ymd = civilDate(days)
	}
	return putTimeParts(dst, sec >= generalized, ymd, rem)
}

// putMagnitude writes the n-byte big-endian magnitude of the normalized
// words w (least significant first, as big.Int.Bits returns them) into
// dst[:n]. Unlike big.Int.FillBytes it stores a word at a time.
func putMagnitude(dst []byte, w []big.Word, n int) {
	_ = dst[n-1]
	i := n
	for _, x := range w {
		if i >= bits.UintSize/8 {
			if bits.UintSize == 64 {
				binary.BigEndian.PutUint64(dst[i-8:i], uint64(x))
			} else {
				binary.BigEndian.PutUint32(dst[i-4:i], uint32(x))
			}
			i -= bits.UintSize / 8
			continue
		}
		for ; i > 0; i-- {
			dst[i-1] = byte(x)
			x >>= 8
		}
	}
}
