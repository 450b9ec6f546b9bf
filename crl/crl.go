// Package crl encodes and signs X.509 v2 certificate revocation lists (RFC
// 5280 section 5) fast enough to publish a CRL of a million entries within a
// second of a revocation.
//
// # What it writes
//
// A CRL from this package has the shape of the serverless CA's CRLs, plus
// reason codes:
//
//   - version v2;
//   - issuer: the issuing certificate's RawSubject, byte for byte, so that
//     relying parties that compare names as bytes find the issuer;
//   - thisUpdate and nextUpdate, truncated to whole seconds in UTC, as UTCTime
//     through 2049 and GeneralizedTime from 2050 (RFC 5280 5.1.2.4);
//   - revokedCertificates in the order Add received them, left out entirely
//     when there are none (an empty SEQUENCE is not allowed); each entry is a
//     serial, a revocation date and, unless the reason is unspecified, a
//     non-critical reasonCode extension (RFC 5280 5.3.1);
//   - crlExtensions: the authority key identifier (the issuer's SubjectKeyId)
//     and the CRL number, both non-critical, in that order;
//   - a signature by the issuer's key: ECDSA P-256, P-384 and P-521 with
//     SHA-256, SHA-384 and SHA-512, RSA with SHA-256 (PKCS #1 v1.5) and
//     Ed25519, as signer.SignatureAlgorithm chooses.
//
// For the same inputs the to-be-signed part is byte for byte what
// x509.CreateRevocationList produces; the tests hold it to that.
//
// The builder checks each input against RFC 5280 and the lints relying
// parties run (zlint): serials positive and at most 20 octets, reasons that
// RFC 5280 defines for complete CRLs, revocation dates not after thisUpdate,
// a CRL number of at most 20 octets. It does not look for duplicate serials,
// which would cost a set as large as the CRL: the store hands out each
// serial once.
//
// # Memory model
//
// A Builder owns one byte buffer that becomes the CRL. NewBuilder sizes it
// from the expected number of entries: a fixed gap at the front for the
// headers, room for that many entries of the largest possible size
// (maxEntryLen, 56 bytes), and spare capacity at the end for the CRL
// extensions, signatureAlgorithm and the signature. Add encodes each entry
// straight into the buffer and keeps nothing else per entry, so a caller that
// streams entries from the store holds one entry at a time. If more entries
// come than the hint announced, the buffer grows by half, a copy each time;
// the spare capacity at the end is kept through every growth.
//
// The header of the TBSCertList depends on the length of everything after it,
// so Finish writes it last: it appends the CRL extensions after the entries,
// writes the header, the fixed fields and the revokedCertificates header
// right-aligned in the gap in front of the entries, hashes the TBSCertList
// where it lies, signs the digest, appends the algorithm and signature into
// the spare capacity and writes the outer header in the gap. The returned CRL
// is a slice of the buffer: the entries are never copied. The peak memory of
// a build is the buffer (an entry takes 20 to 56 bytes, 46 on average for
// 20-octet serials with a reason on half of them), a 32 KiB cache of encoded
// dates and the signature.
//
// A Builder is not safe for concurrent use.
package crl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/anchorpki/anchor/signer"
)

// Entry is one revoked certificate.
type Entry struct {
	// Serial is the certificate's serial number: positive, at most 20 octets.
	Serial *big.Int
	// RevokedAt is the revocation date. It is truncated to whole seconds and
	// must not be after Params.ThisUpdate.
	RevokedAt time.Time
	// Reason is a CRLReason (ReasonKeyCompromise, ...). ReasonUnspecified (0)
	// leaves the reasonCode extension out, as RFC 5280 5.3.1 asks.
	Reason int
}

// Params are the fields of a CRL other than its entries.
type Params struct {
	// Issuer is the CA certificate whose revocations the CRL lists. The CRL's
	// issuer is Issuer.RawSubject byte for byte and its authority key
	// identifier is Issuer.SubjectKeyId; Issuer must allow cRLSign.
	Issuer *x509.Certificate
	// Signer holds the issuer's private key; its public key must be
	// Issuer.PublicKey. The signature algorithm follows from the key (see
	// signer.SignatureAlgorithm).
	Signer crypto.Signer
	// Number is the CRL number (RFC 5280 5.2.3): non-negative, at most 20
	// octets.
	Number *big.Int
	// ThisUpdate is the issue date and NextUpdate the date by which the next
	// CRL will be issued. Both are truncated to whole seconds; NextUpdate must
	// be later than ThisUpdate.
	ThisUpdate, NextUpdate time.Time
}

// Errors callers can branch on; the returned errors wrap them with the field
// and value at fault.
var (
	// ErrInvalidParams is wrapped by NewBuilder when Params cannot make a
	// valid CRL.
	ErrInvalidParams = errors.New("crl: invalid parameters")
	// ErrInvalidEntry is wrapped by Add when an Entry cannot be listed. The
	// Builder is unchanged, so the caller may skip the entry and go on.
	ErrInvalidEntry = errors.New("crl: invalid entry")
	// ErrFinished is returned when a Builder is used after Finish succeeded.
	ErrFinished = errors.New("crl: builder already finished")
)

// maxEntryLen is the largest encoded revokedCertificates entry, 56 bytes: a
// SEQUENCE header (2), an INTEGER of up to 20 octets plus a 0x00 pad (2+21),
// a GeneralizedTime (2+15) and the reasonCode extension (14). Its content is
// below 128 bytes, so an entry's header is always two bytes, and the time
// ends early enough to leave putTime the byte of scratch it needs.
const maxEntryLen = 2 + 2 + 21 + maxTimeBytes + len(reasonExtension)

// reasonExtension is crlEntryExtensions holding one non-critical reasonCode
// (id-ce-cRLReasons, 2.5.29.21) with its ENUMERATED value in the last byte.
var reasonExtension = [...]byte{
	tagSequence, 12,
	tagSequence, 10,
	0x06, 3, 0x55, 0x1d, 0x15,
	tagOctetString, 3, tagEnumerated, 1, 0,
}

// maxHint caps the preallocation NewBuilder makes from a size hint (about
// 900 MB); a larger CRL still builds, growing as entries arrive.
const maxHint = 1 << 24

// Builder encodes a CRL as entries are added. Make one with NewBuilder, call
// Add once per revoked certificate and Finish once.
type Builder struct {
	signer crypto.Signer
	pub    crypto.PublicKey
	hash   crypto.Hash // zero for Ed25519, which signs the message itself
	algID  []byte      // AlgorithmIdentifier, in TBSCertList and after it
	fixed  []byte      // version, signature, issuer, thisUpdate, nextUpdate
	exts   []byte      // crlExtensions, [0] EXPLICIT included
	this   int64       // thisUpdate in Unix seconds
	dates  *dateCache

	buf     []byte // gap, then the entries; becomes the CRL
	gap     int    // bytes reserved in front of the entries
	tail    int    // spare capacity Finish needs after the entries
	entries int
	done    bool
}

// NewBuilder checks p and returns a Builder for it. sizeHint is the expected
// number of entries; the Builder preallocates room for that many (see the
// package comment). A low hint costs a copy each time the buffer grows, a
// high one capacity that is never written.
func NewBuilder(p Params, sizeHint int) (*Builder, error) {
	b := &Builder{signer: p.Signer}
	if err := b.setIssuer(p); err != nil {
		return nil, err
	}
	if err := b.setFields(p); err != nil {
		return nil, err
	}

	sizeHint = min(max(sizeHint, 0), maxHint)
	b.gap = len(b.fixed) + 3*maxHeaderLen
	b.tail = len(b.exts) + len(b.algID) + maxHeaderLen + 1 + maxSignatureLen(b.pub)
	b.buf = make([]byte, b.gap, b.gap+sizeHint*maxEntryLen+b.tail)
	return b, nil
}

// setIssuer checks the issuer and its key and chooses the signature algorithm.
func (b *Builder) setIssuer(p Params) error {
	iss := p.Issuer
	switch {
	case iss == nil:
		return fmt.Errorf("%w: Issuer is nil", ErrInvalidParams)
	case len(iss.RawSubject) == 0:
		return fmt.Errorf("%w: Issuer.RawSubject is empty (use a parsed certificate)",
			ErrInvalidParams)
	case len(iss.SubjectKeyId) == 0:
		return fmt.Errorf("%w: Issuer has no SubjectKeyId for the authority key identifier",
			ErrInvalidParams)
	case iss.KeyUsage&x509.KeyUsageCRLSign == 0:
		return fmt.Errorf("%w: Issuer's key usage does not include cRLSign",
			ErrInvalidParams)
	case p.Signer == nil:
		return fmt.Errorf("%w: Signer is nil", ErrInvalidParams)
	}

	b.pub = p.Signer.Public()
	eq, ok := b.pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(iss.PublicKey) {
		return fmt.Errorf("%w: Signer's public key is not Issuer's public key",
			ErrInvalidParams)
	}
	alg, err := signer.SignatureAlgorithm(b.pub)
	if err != nil {
		return fmt.Errorf("%w: Signer: %w", ErrInvalidParams, err)
	}
	switch alg {
	case x509.ECDSAWithSHA256:
		b.hash, b.algID = crypto.SHA256, algECDSAWithSHA256
	case x509.ECDSAWithSHA384:
		b.hash, b.algID = crypto.SHA384, algECDSAWithSHA384
	case x509.ECDSAWithSHA512:
		b.hash, b.algID = crypto.SHA512, algECDSAWithSHA512
	case x509.SHA256WithRSA:
		b.hash, b.algID = crypto.SHA256, algSHA256WithRSA
	case x509.PureEd25519:
		b.hash, b.algID = 0, algEd25519
	default:
		return fmt.Errorf("%w: Signer: signature algorithm %v is not supported",
			ErrInvalidParams, alg)
	}
	return nil
}

// AlgorithmIdentifiers (RFC 5758 3.2, RFC 4055 5, RFC 8410 3). ECDSA and
// Ed25519 have no parameters; RSA carries an explicit NULL.
var (
	algECDSAWithSHA256 = []byte{tagSequence, 10,
		0x06, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	algECDSAWithSHA384 = []byte{tagSequence, 10,
		0x06, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}
	algECDSAWithSHA512 = []byte{tagSequence, 10,
		0x06, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}
	algSHA256WithRSA = []byte{tagSequence, 13,
		0x06, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00}
	algEd25519 = []byte{tagSequence, 5, 0x06, 3, 0x2b, 0x65, 0x70}
)

// maxSignatureLen bounds the DER signature a key of this type produces, so
// that NewBuilder can leave room for it.
func maxSignatureLen(pub crypto.PublicKey) int {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		// SEQUENCE { INTEGER r, INTEGER s }, each with a possible 0x00 pad.
		n := (pub.Curve.Params().BitSize + 7) / 8
		return maxHeaderLen + 2*(maxHeaderLen+n+1)
	case *rsa.PublicKey:
		return pub.Size()
	case ed25519.PublicKey:
		return ed25519.SignatureSize
	}
	return 0
}

// setFields checks the dates and the CRL number and encodes every field of
// the TBSCertList that does not depend on the entries.
func (b *Builder) setFields(p Params) error {
	if p.ThisUpdate.IsZero() {
		return fmt.Errorf("%w: ThisUpdate is zero", ErrInvalidParams)
	}
	if p.NextUpdate.IsZero() {
		return fmt.Errorf("%w: NextUpdate is zero (RFC 5280 5.1.2.5 requires it)",
			ErrInvalidParams)
	}
	this, next := p.ThisUpdate.Unix(), p.NextUpdate.Unix()
	if err := checkTime(this); err != nil {
		return fmt.Errorf("%w: ThisUpdate %s", ErrInvalidParams, err)
	}
	if err := checkTime(next); err != nil {
		return fmt.Errorf("%w: NextUpdate %s", ErrInvalidParams, err)
	}
	if next <= this {
		return fmt.Errorf("%w: NextUpdate %s is not after ThisUpdate %s", ErrInvalidParams,
			formatTime(next), formatTime(this))
	}
	b.this = this
	thisDay, _ := splitTime(this)
	b.dates = &dateCache{thisDay: thisDay}

	switch {
	case p.Number == nil:
		return fmt.Errorf("%w: Number is nil", ErrInvalidParams)
	case p.Number.Sign() < 0:
		return fmt.Errorf("%w: Number %s is negative", ErrInvalidParams, p.Number)
	}
	if n, pad := integerLen(p.Number); n+pad > 20 {
		return fmt.Errorf("%w: Number %s is longer than 20 octets (RFC 5280 5.2.3)",
			ErrInvalidParams, p.Number)
	}

	// version INTEGER v2(1), signature, issuer, thisUpdate, nextUpdate.
	fixed := []byte{tagInteger, 1, 1}
	fixed = append(fixed, b.algID...)
	fixed = append(fixed, p.Issuer.RawSubject...)
	var t [timeRoom]byte
	fixed = append(fixed, t[:putTime(t[:], this)]...)
	fixed = append(fixed, t[:putTime(t[:], next)]...)
	b.fixed = fixed

	b.exts = encodeExtensions(p.Issuer.SubjectKeyId, p.Number)
	return nil
}

// encodeExtensions returns crlExtensions: [0] EXPLICIT Extensions holding the
// authority key identifier (id-ce 35, keyIdentifier only) and the CRL number
// (id-ce 20), neither critical (RFC 5280 5.2.1, 5.2.3).
func encodeExtensions(keyID []byte, number *big.Int) []byte {
	oidAKI := []byte{0x06, 3, 0x55, 0x1d, 0x23}
	oidCRLNumber := []byte{0x06, 3, 0x55, 0x1d, 0x14}

	aki := appendTLV(nil, tagKeyID, keyID)
	aki = appendTLV(nil, tagSequence, aki)
	akiExt := appendTLV(oidAKI, tagOctetString, aki)

	num := appendInteger(nil, number)
	numExt := appendTLV(oidCRLNumber, tagOctetString, num)

	list := appendTLV(nil, tagSequence, akiExt)
	list = appendTLV(list, tagSequence, numExt)
	return appendTLV(nil, tagExplicit0, appendTLV(nil, tagSequence, list))
}

// checkTime reports whether sec (Unix seconds) is a date a CRL can encode.
func checkTime(sec int64) error {
	if sec < minTime || sec > maxTime {
		return fmt.Errorf("%s is outside the years 1950 to 9999 that RFC 5280 encodes",
			formatTime(sec))
	}
	return nil
}

func formatTime(sec int64) string {
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

// Add encodes e as the next entry of revokedCertificates. An invalid entry is
// rejected with an error wrapping ErrInvalidEntry and leaves the Builder as
// it was.
func (b *Builder) Add(e Entry) error {
	if b == nil || b.buf == nil {
		return b.unusable("Add")
	}

	// One test for all the rules on the path every entry takes; entryError
	// finds the rule an entry broke and explains it.
	var bitLen int
	if e.Serial != nil {
		bitLen = e.Serial.BitLen()
	}
	sec := e.RevokedAt.Unix()
	if bitLen == 0 || bitLen > 20*8 || e.Serial.Sign() < 0 ||
		sec < minTime || sec > b.this ||
		uint(e.Reason) > ReasonAACompromise || completeReasons>>e.Reason&1 == 0 {
		return b.entryError(e)
	}
	n, pad := (bitLen+7)/8, 0
	if bitLen%8 == 0 {
		pad = 1
	}

	if cap(b.buf)-len(b.buf) < maxEntryLen+b.tail {
		b.grow(maxEntryLen)
	}
	start := len(b.buf)
	dst := b.buf[start : start+maxEntryLen]
	dst[0] = tagSequence
	dst[2], dst[3] = tagInteger, byte(n+pad)
	dst[4] = 0 // the pad, overwritten by the serial when there is none
	i := 4 + pad
	putMagnitude(dst[i:i+n], e.Serial.Bits(), n)
	i += n
	i += b.dates.putTime(dst[i:], sec)
	if e.Reason != ReasonUnspecified {
		copy(dst[i:], reasonExtension[:])
		dst[i+len(reasonExtension)-1] = byte(e.Reason)
		i += len(reasonExtension)
	}
	dst[1] = byte(i - 2)
	b.buf = b.buf[:start+i]
	b.entries++
	return nil
}

// AddBytes is Add for a serial given as its big-endian magnitude, for callers
// that keep serials as bytes rather than big.Ints: it encodes exactly the
// entry Add would for the same number, and refuses what Add refuses, without
// allocating. Leading zero bytes of serial are ignored.
func (b *Builder) AddBytes(serial []byte, revokedAt time.Time, reason int) error {
	if b == nil || b.buf == nil {
		return b.unusable("AddBytes")
	}
	for len(serial) > 0 && serial[0] == 0 {
		serial = serial[1:]
	}
	n := len(serial)
	sec := revokedAt.Unix()
	if n == 0 || n > 20 || sec < minTime || sec > b.this ||
		uint(reason) > ReasonAACompromise || completeReasons>>reason&1 == 0 {
		return b.entryError(Entry{Serial: new(big.Int).SetBytes(serial),
			RevokedAt: revokedAt, Reason: reason})
	}
	pad := int(serial[0] >> 7)

	if cap(b.buf)-len(b.buf) < maxEntryLen+b.tail {
		b.grow(maxEntryLen)
	}
	start := len(b.buf)
	dst := b.buf[start : start+maxEntryLen]
	dst[0] = tagSequence
	dst[2], dst[3] = tagInteger, byte(n+pad)
	dst[4] = 0 // the pad, overwritten by the serial when there is none
	i := 4 + pad
	i += copy(dst[i:], serial)
	i += b.dates.putTime(dst[i:], sec)
	if reason != ReasonUnspecified {
		copy(dst[i:], reasonExtension[:])
		dst[i+len(reasonExtension)-1] = byte(reason)
		i += len(reasonExtension)
	}
	dst[1] = byte(i - 2)
	b.buf = b.buf[:start+i]
	b.entries++
	return nil
}

// unusable explains why op cannot run on b.
func (b *Builder) unusable(op string) error {
	if b != nil && b.done {
		return ErrFinished
	}
	return fmt.Errorf("crl: %s on a Builder not made by NewBuilder", op)
}

// entryError returns the error for an entry Add refused.
func (b *Builder) entryError(e Entry) error {
	if e.Serial == nil {
		return fmt.Errorf("%w: Serial is nil", ErrInvalidEntry)
	}
	if e.Serial.Sign() <= 0 {
		return fmt.Errorf("%w: serial %s is not positive", ErrInvalidEntry, e.Serial)
	}
	if e.Serial.BitLen() > 20*8 {
		return fmt.Errorf("%w: serial %X is longer than 20 octets", ErrInvalidEntry, e.Serial)
	}
	if e.RevokedAt.IsZero() {
		return fmt.Errorf("%w: serial %X: RevokedAt is zero", ErrInvalidEntry, e.Serial)
	}
	sec := e.RevokedAt.Unix()
	if err := checkTime(sec); err != nil {
		return fmt.Errorf("%w: serial %X: RevokedAt %w", ErrInvalidEntry, e.Serial, err)
	}
	if sec > b.this {
		// RFC 5280 5.1.2.6: the list is of certificates revoked as of
		// thisUpdate; a later date would claim to know the future.
		return fmt.Errorf("%w: serial %X: RevokedAt %s is after ThisUpdate %s",
			ErrInvalidEntry, e.Serial, formatTime(sec), formatTime(b.this))
	}
	if err := checkReason(e.Reason); err != nil {
		return fmt.Errorf("%w: serial %X: %w", ErrInvalidEntry, e.Serial, err)
	}
	return fmt.Errorf("%w: serial %X", ErrInvalidEntry, e.Serial)
}

// grow makes room for n more bytes while keeping the spare capacity Finish
// needs. It grows by half rather than doubling, to bound the peak memory of a
// build that outgrew its hint.
func (b *Builder) grow(n int) {
	c := max(cap(b.buf)+cap(b.buf)/2, len(b.buf)+n+b.tail)
	buf := make([]byte, len(b.buf), c)
	copy(buf, b.buf)
	b.buf = buf
}

// Len returns the number of entries added so far.
func (b *Builder) Len() int {
	if b == nil {
		return 0
	}
	return b.entries
}

// Finish completes the TBSCertList, signs it and returns the DER CRL. The
// result shares the Builder's buffer, which the Builder gives up: after a
// successful Finish the Builder returns ErrFinished. If the signer fails (a
// KMS or HSM may fail for a while), the Builder is left as it was and Finish
// may be called again.
func (b *Builder) Finish() ([]byte, error) {
	if b == nil || b.buf == nil {
		return nil, b.unusable("Finish")
	}

	// Lay out the TBSCertList around the entries: the extensions go after
	// them, into the spare capacity every Add kept, and the headers and fixed
	// fields right-aligned before them, into the gap.
	end := len(b.buf)
	listLen := end - b.gap
	b.buf = append(b.buf, b.exts...)

	start := b.gap
	tbsLen := len(b.fixed) + len(b.exts)
	if listLen > 0 {
		start -= 1 + lengthLen(listLen)
		putHeader(b.buf[start:], tagSequence, listLen)
		tbsLen += 1 + lengthLen(listLen) + listLen
	}
	start -= len(b.fixed)
	copy(b.buf[start:], b.fixed)
	start -= 1 + lengthLen(tbsLen)
	putHeader(b.buf[start:], tagSequence, tbsLen)
	tbs := b.buf[start:]

	sig, err := b.sign(tbs)
	if err != nil {
		b.buf = b.buf[:end]
		return nil, err
	}

	// signatureAlgorithm, then signatureValue as a BIT STRING with no unused
	// bits, into the spare capacity.
	b.buf = append(b.buf, b.algID...)
	var hdr [maxHeaderLen]byte
	b.buf = append(b.buf, hdr[:putHeader(hdr[:], tagBitString, 1+len(sig))]...)
	b.buf = append(b.buf, 0)
	b.buf = append(b.buf, sig...)

	body := len(b.buf) - start
	start -= 1 + lengthLen(body)
	putHeader(b.buf[start:], tagSequence, body)

	der := b.buf[start:len(b.buf):len(b.buf)]
	b.buf, b.done = nil, true
	return der, nil
}

// sign hashes tbs, signs it and checks the signature against the issuer's
// public key, so that a faulty or misconfigured signer (a KMS key that is not
// the issuer's) cannot publish a CRL no relying party accepts.
func (b *Builder) sign(tbs []byte) ([]byte, error) {
	var digest []byte
	switch b.hash {
	case crypto.SHA256:
		d := sha256.Sum256(tbs)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(tbs)
		digest = d[:]
	case crypto.SHA512:
		d := sha512.Sum512(tbs)
		digest = d[:]
	default: // Ed25519 signs the message.
		digest = tbs
	}

	sig, err := b.signer.Sign(rand.Reader, digest, b.hash)
	if err != nil {
		return nil, fmt.Errorf("crl: signing the CRL: %w", err)
	}

	var ok bool
	switch pub := b.pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, digest, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, b.hash, digest, sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, tbs, sig)
	}
	if !ok {
		return nil, errors.New("crl: the signer's signature does not verify " +
			"with the issuer's public key")
	}
	return sig, nil
}

// Build encodes and signs a CRL listing entries, in order. It is NewBuilder,
// Add for each entry and Finish; an invalid entry fails the whole CRL.
func Build(p Params, entries []Entry) ([]byte, error) {
	b, err := NewBuilder(p, len(entries))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
