package crl

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"
)

var (
	oidAKI        = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber  = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidReasonCode = asn1.ObjectIdentifier{2, 5, 29, 21}
)

// tbsChildren splits the TBSCertList of a DER CRL into its top-level
// elements.
func tbsChildren(t *testing.T, der []byte) []asn1.RawValue {
	t.Helper()
	var outer, tbs asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) != 0 {
		t.Fatalf("CertificateList: %v (%d trailing bytes)", err, len(rest))
	}
	if _, err := asn1.Unmarshal(outer.Bytes, &tbs); err != nil {
		t.Fatalf("TBSCertList: %v", err)
	}
	var children []asn1.RawValue
	for rest := tbs.Bytes; len(rest) > 0; {
		var v asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &v); err != nil {
			t.Fatalf("TBSCertList element %d: %v", len(children), err)
		}
		children = append(children, v)
	}
	return children
}

// shape names the TBSCertList elements by class and tag, e.g.
// "INTEGER SEQUENCE SEQUENCE UTCTime UTCTime SEQUENCE [0]".
func shape(children []asn1.RawValue) string {
	names := map[int]string{
		asn1.TagInteger: "INTEGER", asn1.TagSequence: "SEQUENCE",
		asn1.TagUTCTime: "UTCTime", asn1.TagGeneralizedTime: "GeneralizedTime",
	}
	var s []string
	for _, c := range children {
		switch {
		case c.Class == asn1.ClassContextSpecific:
			s = append(s, fmt.Sprintf("[%d]", c.Tag))
		case names[c.Tag] != "":
			s = append(s, names[c.Tag])
		default:
			s = append(s, fmt.Sprintf("tag%d", c.Tag))
		}
	}
	return strings.Join(s, " ")
}

// checkCRL parses der and checks every field against p and entries.
func checkCRL(t *testing.T, der []byte, p Params, entries []Entry) {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	if err := rl.CheckSignatureFrom(p.Issuer); err != nil {
		t.Errorf("CheckSignatureFrom: %v", err)
	}

	children := tbsChildren(t, der)
	timeType := func(t time.Time) string {
		if t.UTC().Year() >= 2050 {
			return "GeneralizedTime"
		}
		return "UTCTime"
	}
	want := "INTEGER SEQUENCE SEQUENCE " + timeType(p.ThisUpdate) + " " +
		timeType(p.NextUpdate) + " SEQUENCE [0]"
	if len(entries) == 0 {
		want = strings.Replace(want, " SEQUENCE [0]", " [0]", 1)
	}
	if got := shape(children); got != want {
		t.Errorf("TBSCertList shape = %s, want %s", got, want)
	}
	if !bytes.Equal(children[0].FullBytes, []byte{2, 1, 1}) {
		t.Errorf("version = %x, want 020101 (v2)", children[0].FullBytes)
	}
	if !bytes.Equal(children[2].FullBytes, p.Issuer.RawSubject) {
		t.Errorf("issuer = %x, want Issuer.RawSubject %x", children[2].FullBytes,
			p.Issuer.RawSubject)
	}
	if !bytes.Equal(rl.RawIssuer, p.Issuer.RawSubject) {
		t.Errorf("RawIssuer differs from Issuer.RawSubject")
	}

	if rl.Number.Cmp(p.Number) != 0 {
		t.Errorf("Number = %v, want %v", rl.Number, p.Number)
	}
	if want := p.ThisUpdate.Truncate(time.Second); !rl.ThisUpdate.Equal(want) {
		t.Errorf("ThisUpdate = %v, want %v", rl.ThisUpdate, want)
	}
	if want := p.NextUpdate.Truncate(time.Second); !rl.NextUpdate.Equal(want) {
		t.Errorf("NextUpdate = %v, want %v", rl.NextUpdate, want)
	}
	if !bytes.Equal(rl.AuthorityKeyId, p.Issuer.SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want %x", rl.AuthorityKeyId, p.Issuer.SubjectKeyId)
	}
	if len(rl.Extensions) != 2 || !rl.Extensions[0].Id.Equal(oidAKI) ||
		!rl.Extensions[1].Id.Equal(oidCRLNumber) ||
		rl.Extensions[0].Critical || rl.Extensions[1].Critical {
		t.Errorf("crlExtensions = %v, want non-critical AKI then CRL number", rl.Extensions)
	}

	if len(rl.RevokedCertificateEntries) != len(entries) {
		t.Fatalf("%d entries, want %d", len(rl.RevokedCertificateEntries), len(entries))
	}
	for i, e := range entries {
		got := rl.RevokedCertificateEntries[i]
		if got.SerialNumber.Cmp(e.Serial) != 0 {
			t.Errorf("entry %d: serial %X, want %X", i, got.SerialNumber, e.Serial)
		}
		if want := e.RevokedAt.Truncate(time.Second); !got.RevocationTime.Equal(want) {
			t.Errorf("entry %d: revoked %v, want %v", i, got.RevocationTime, want)
		}
		if got.ReasonCode != e.Reason {
			t.Errorf("entry %d: reason %d, want %d", i, got.ReasonCode, e.Reason)
		}
		wantExts := 0
		if e.Reason != 0 {
			wantExts = 1
		}
		if len(got.Extensions) != wantExts {
			t.Errorf("entry %d: %d extensions, want %d", i, len(got.Extensions), wantExts)
		} else if wantExts == 1 && (!got.Extensions[0].Id.Equal(oidReasonCode) ||
			got.Extensions[0].Critical) {
			t.Errorf("entry %d: extension %v, want non-critical reasonCode", i,
				got.Extensions[0])
		}
	}
}

// specialEntries are three entries at the edges: a one-byte serial, a
// twenty-byte serial with the top bit set (21 octets with the pad) and a
// one-byte serial that needs a pad.
func specialEntries(this time.Time) []Entry {
	top := new(big.Int).SetBytes(bytes.Repeat([]byte{0xff}, 20))
	return []Entry{
		{Serial: big.NewInt(1), RevokedAt: this.Add(-time.Hour), Reason: ReasonKeyCompromise},
		{Serial: top, RevokedAt: this, Reason: ReasonUnspecified},
		{Serial: big.NewInt(0x80), RevokedAt: this.Add(-400 * 24 * time.Hour),
			Reason: ReasonSuperseded},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, kind := range []keyKind{p256, p384, p521, rsa2048, edKey} {
		iss, key := testIssuer(t, kind)
		p := testParams(iss, key)
		sets := map[string][]Entry{
			"0":    nil,
			"1":    testEntries(1, p.ThisUpdate),
			"3":    specialEntries(p.ThisUpdate),
			"1000": testEntries(1000, p.ThisUpdate),
		}
		for name, entries := range sets {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				der, err := Build(p, entries)
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				checkCRL(t, der, p, entries)
			})
		}
	}
}

// TestRoundTrip2050 crosses the UTCTime/GeneralizedTime boundary of RFC 5280
// 5.1.2.4 in the dates and the entries.
func TestRoundTrip2050(t *testing.T) {
	iss, key := testIssuer(t, p256)
	p := testParams(iss, key)
	p.ThisUpdate = time.Date(2049, 12, 31, 23, 59, 59, 999, time.UTC)
	p.NextUpdate = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := []Entry{
		{Serial: big.NewInt(7), RevokedAt: p.ThisUpdate, Reason: ReasonKeyCompromise},
		{Serial: big.NewInt(8), RevokedAt: time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	der, err := Build(p, entries)
	if err != nil {
		t.Fatal(err)
	}
	checkCRL(t, der, p, entries)

	p.ThisUpdate = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	p.NextUpdate = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	entries = append(entries, Entry{Serial: big.NewInt(9), RevokedAt: p.ThisUpdate})
	der, err = Build(p, entries)
	if err != nil {
		t.Fatal(err)
	}
	children := tbsChildren(t, der)
	if got, want := shape(children),
		"INTEGER SEQUENCE SEQUENCE GeneralizedTime GeneralizedTime SEQUENCE [0]"; got != want {
		t.Errorf("shape = %s, want %s", got, want)
	}
	if got, want := string(children[3].Bytes), "20500101000000Z"; got != want {
		t.Errorf("thisUpdate = %q, want %q", got, want)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		got := rl.RevokedCertificateEntries[i].RevocationTime
		if want := e.RevokedAt.Truncate(time.Second); !got.Equal(want) {
			t.Errorf("entry %d: revoked %v, want %v", i, got, want)
		}
	}
}

// stdlibCRL builds the same CRL with x509.CreateRevocationList.
func stdlibCRL(t testing.TB, p Params, entries []Entry) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:     p.Number,
		ThisUpdate: p.ThisUpdate,
		NextUpdate: p.NextUpdate,
	}
	for _, e := range entries {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{
				SerialNumber:   e.Serial,
				RevocationTime: e.RevokedAt,
				ReasonCode:     e.Reason,
			})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, p.Issuer, p.Signer)
	if err != nil {
		t.Fatalf("CreateRevocationList: %v", err)
	}
	return der
}

// TestSameAsStdlib holds the encoder to x509.CreateRevocationList byte for
// byte. ECDSA signatures are randomized, so for ECDSA the TBSCertLists are
// compared; RSA PKCS #1 v1.5 and Ed25519 signatures are deterministic, so for
// those the whole CRLs must be identical.
func TestSameAsStdlib(t *testing.T) {
	for _, kind := range []keyKind{p256, p384, p521, rsa2048, edKey} {
		iss, key := testIssuer(t, kind)
		p := testParams(iss, key)
		// The largest CRL number: 2^159-1, 20 octets.
		big20 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
		cases := []struct {
			name    string
			number  *big.Int
			entries []Entry
		}{
			{"empty", big.NewInt(0), nil},
			{"special", big.NewInt(1), specialEntries(p.ThisUpdate)},
			{"1000", big20, testEntries(1000, p.ThisUpdate)},
			{"number127", big.NewInt(127), testEntries(3, p.ThisUpdate)},
			{"number128", big.NewInt(128), testEntries(200, p.ThisUpdate)},
		}
		for _, c := range cases {
			t.Run(string(kind)+"/"+c.name, func(t *testing.T) {
				p := p
				p.Number = c.number
				ours, err := Build(p, c.entries)
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				theirs := stdlibCRL(t, p, c.entries)
				if kind == edKey || kind == rsa2048 {
					if !bytes.Equal(ours, theirs) {
						t.Fatalf("CRL differs from the standard library's:\n%x\n%x",
							ours, theirs)
					}
					return
				}
				a, err := x509.ParseRevocationList(ours)
				if err != nil {
					t.Fatal(err)
				}
				b, err := x509.ParseRevocationList(theirs)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.RawTBSRevocationList, b.RawTBSRevocationList) {
					t.Fatalf("TBSCertList differs from the standard library's:\n%x\n%x",
						a.RawTBSRevocationList, b.RawTBSRevocationList)
				}
			})
		}
	}
}

// TestServerlessShape rebuilds the serverless CA's CRL from its facts: with
// the same issuer name, key identifier, dates, number and entries, Anchor's
// TBSCertList is the original's byte for byte.
func TestServerlessShape(t *testing.T) {
	orig := readTestdataCRL(t)
	key := testKey(t, p256)
	iss := newCA(t, key, serverlessIssuer, mustHex("603DCE888A1C82BF108AA640769FDD381AE51E87"))
	p := Params{
		Issuer:     iss,
		Signer:     key,
		Number:     big.NewInt(531),
		ThisUpdate: time.Date(2025, 6, 1, 10, 24, 36, 0, time.UTC),
		NextUpdate: time.Date(2025, 6, 2, 10, 34, 36, 0, time.UTC),
	}
	entries := []Entry{
		{Serial: hexSerial("462B222A8B9773A090F3778F29B5D5BB9DEF983B"),
			RevokedAt: time.Date(2024, 2, 22, 20, 16, 26, 0, time.UTC)},
		{Serial: hexSerial("22B7471277A9529135B0E147CB940263B637C135"),
			RevokedAt: time.Date(2025, 6, 1, 10, 24, 35, 0, time.UTC)},
	}
	der, err := Build(p, entries)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours.RawTBSRevocationList, orig.RawTBSRevocationList) {
		t.Fatalf("TBSCertList differs from the serverless CA's:\n%x\n%x",
			ours.RawTBSRevocationList, orig.RawTBSRevocationList)
	}
}

func hexSerial(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("bad serial " + s)
	}
	return n
}

func TestParamsErrors(t *testing.T) {
	iss, key := testIssuer(t, p256)
	other := testKey(t, p384)
	good := testParams(iss, key)

	noSKID := *iss
	noSKID.SubjectKeyId = nil
	noRaw := *iss
	noRaw.RawSubject = nil
	noCRLSign := *iss
	noCRLSign.KeyUsage = x509.KeyUsageCertSign

	cases := []struct {
		name string
		edit func(p *Params)
		want string
	}{
		{"nil issuer", func(p *Params) { p.Issuer = nil }, "Issuer is nil"},
		{"no raw subject", func(p *Params) { p.Issuer = &noRaw }, "Issuer.RawSubject is empty"},
		{"no skid", func(p *Params) { p.Issuer = &noSKID }, "no SubjectKeyId"},
		{"no crlSign", func(p *Params) { p.Issuer = &noCRLSign }, "cRLSign"},
		{"nil signer", func(p *Params) { p.Signer = nil }, "Signer is nil"},
		{"wrong key", func(p *Params) { p.Signer = other }, "not Issuer's public key"},
		{"nil number", func(p *Params) { p.Number = nil }, "Number is nil"},
		{"negative number", func(p *Params) { p.Number = big.NewInt(-1) }, "Number -1 is negative"},
		{"long number", func(p *Params) { p.Number = new(big.Int).Lsh(big.NewInt(1), 159) },
			"longer than 20 octets"},
		{"zero thisUpdate", func(p *Params) { p.ThisUpdate = time.Time{} }, "ThisUpdate is zero"},
		{"zero nextUpdate", func(p *Params) { p.NextUpdate = time.Time{} }, "NextUpdate is zero"},
		{"next before this", func(p *Params) { p.NextUpdate = p.ThisUpdate.Add(-time.Hour) },
			"is not after ThisUpdate"},
		{"next equal this", func(p *Params) { p.NextUpdate = p.ThisUpdate.Add(time.Millisecond) },
			"is not after ThisUpdate"},
		{"this before 1950", func(p *Params) {
			p.ThisUpdate = time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC)
		}, "ThisUpdate 1949-12-31T23:59:59Z is outside the years 1950 to 9999"},
		{"next after 9999", func(p *Params) {
			p.NextUpdate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}, "NextUpdate 10000-01-01T00:00:00Z is outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good
			c.edit(&p)
			b, err := NewBuilder(p, 0)
			if err == nil || b != nil {
				t.Fatalf("NewBuilder = %v, %v; want an error", b, err)
			}
			if !errors.Is(err, ErrInvalidParams) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want ErrInvalidParams containing %q", err, c.want)
			}
		})
	}

	// The largest allowed number: 2^159-1 is 20 octets.
	p := good
	p.Number = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
	if _, err := NewBuilder(p, 0); err != nil {
		t.Fatalf("NewBuilder with a 20-octet number: %v", err)
	}
}

func TestEntryErrors(t *testing.T) {
	iss, key := testIssuer(t, edKey)
	p := testParams(iss, key)
	ok := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		entry Entry
		want  string
	}{
		{"nil serial", Entry{RevokedAt: ok}, "Serial is nil"},
		{"zero serial", Entry{Serial: big.NewInt(0), RevokedAt: ok}, "serial 0 is not positive"},
		{"negative serial", Entry{Serial: big.NewInt(-5), RevokedAt: ok},
			"serial -5 is not positive"},
		{"21-octet serial", Entry{Serial: new(big.Int).Lsh(big.NewInt(1), 160), RevokedAt: ok},
			"longer than 20 octets"},
		{"zero time", Entry{Serial: big.NewInt(10)}, "serial A: RevokedAt is zero"},
		{"before 1950", Entry{Serial: big.NewInt(10),
			RevokedAt: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "outside the years"},
		{"after thisUpdate", Entry{Serial: big.NewInt(10),
			RevokedAt: p.ThisUpdate.Add(time.Second)}, "is after ThisUpdate 2025-06-01T10:24:36Z"},
		{"reason 7", Entry{Serial: big.NewInt(10), RevokedAt: ok, Reason: 7},
			"reason 7 is not a CRLReason"},
		{"reason 11", Entry{Serial: big.NewInt(10), RevokedAt: ok, Reason: 11},
			"reason 11 is not"},
		{"reason -1", Entry{Serial: big.NewInt(10), RevokedAt: ok, Reason: -1},
			"reason -1 is not"},
		{"removeFromCRL", Entry{Serial: big.NewInt(10), RevokedAt: ok, Reason: 8},
			"delta CRLs"},
	}

	// Every bad entry goes between two good ones; a rejected entry must leave
	// no trace, so the CRL equals one built from the good entries alone
	// (Ed25519 signatures are deterministic).
	good := testEntries(2, p.ThisUpdate)
	want, err := Build(p, good)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(good[0]); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		err := b.Add(c.entry)
		if !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Add error %q, want ErrInvalidEntry containing %q", c.name, err, c.want)
		}
	}
	if err := b.Add(good[1]); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 2 {
		t.Errorf("Len = %d, want 2", b.Len())
	}
	got, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rejected entries changed the CRL")
	}

	if err := b.Add(good[0]); !errors.Is(err, ErrFinished) {
		t.Errorf("Add after Finish: %v, want ErrFinished", err)
	}
	if _, err := b.Finish(); !errors.Is(err, ErrFinished) {
		t.Errorf("Finish after Finish: %v, want ErrFinished", err)
	}
	var zero Builder
	if err := zero.Add(good[0]); err == nil {
		t.Errorf("Add on a zero Builder succeeded")
	}
	if _, err := zero.Finish(); err == nil {
		t.Errorf("Finish on a zero Builder succeeded")
	}
	var nilB *Builder
	if err := nilB.Add(good[0]); err == nil || nilB.Len() != 0 {
		t.Errorf("Add on a nil Builder succeeded")
	}
}

// TestGrowth builds past the size hint: the buffer grows, and the CRL is the
// same as with an exact hint.
func TestGrowth(t *testing.T) {
	iss, key := testIssuer(t, edKey)
	p := testParams(iss, key)
	entries := testEntries(5000, p.ThisUpdate)
	var crls [][]byte
	for _, hint := range []int{0, 1, 5000, -3} {
		b, err := NewBuilder(p, hint)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if err := b.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		der, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		crls = append(crls, der)
	}
	for i := 1; i < len(crls); i++ {
		if !bytes.Equal(crls[i], crls[0]) {
			t.Errorf("CRL %d differs from CRL 0", i)
		}
	}
	checkCRL(t, crls[0], p, entries)
}

// flakySigner fails its first call, like a KMS that is briefly unavailable,
// or signs with the wrong key when wrong is set.
type flakySigner struct {
	crypto.Signer
	calls int
	wrong crypto.Signer
}

func (s *flakySigner) Sign(r io.Reader, digest []byte, o crypto.SignerOpts) ([]byte, error) {
	s.calls++
	if s.wrong != nil {
		return s.wrong.Sign(r, digest, o)
	}
	if s.calls == 1 {
		return nil, errors.New("service unavailable")
	}
	return s.Signer.Sign(r, digest, o)
}

func TestSignerFailure(t *testing.T) {
	iss, key := testIssuer(t, p256)
	p := testParams(iss, key)
	fs := &flakySigner{Signer: key}
	p.Signer = fs
	entries := specialEntries(p.ThisUpdate)
	b, err := NewBuilder(p, len(entries))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Finish(); err == nil || !strings.Contains(err.Error(), "service unavailable") {
		t.Fatalf("first Finish: %v, want the signer's error", err)
	}
	der, err := b.Finish()
	if err != nil {
		t.Fatalf("second Finish: %v", err)
	}
	checkCRL(t, der, p, entries)

	p.Signer = &flakySigner{Signer: key, wrong: testKey(t, p256+"-other")}
	if _, err := Build(p, entries); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("Build with a wrong signing key: %v, want a verification error", err)
	}
}

// FuzzAdd feeds arbitrary serials, dates and reasons to Add: it must never
// panic, and whatever it accepts must parse back to the same values.
func FuzzAdd(f *testing.F) {
	f.Add([]byte{1}, int64(1700000000), 1)
	f.Add(bytes.Repeat([]byte{0xff}, 20), int64(-631152000), 0)
	f.Add(bytes.Repeat([]byte{0x80}, 21), int64(2524608000), 10)
	f.Add([]byte{}, int64(0), 7)
	iss, key := testIssuer(f, edKey)
	p := testParams(iss, key)
	p.ThisUpdate = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	p.NextUpdate = p.ThisUpdate.Add(time.Hour)
	f.Fuzz(func(t *testing.T, serial []byte, sec int64, reason int) {
		e := Entry{Serial: new(big.Int).SetBytes(serial), RevokedAt: time.Unix(sec, 0),
			Reason: reason}
		b, err := NewBuilder(p, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(e); err != nil {
			if !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("Add error %v does not wrap ErrInvalidEntry", err)
			}
			return
		}
		der, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		checkCRL(t, der, p, []Entry{e})
	})
}

// TestPKIXName guards the issuer test fixture: it is the serverless CA's
// issuer, whose values are UTF8Strings.
func TestPKIXName(t *testing.T) {
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(serverlessIssuer, &rdn); err != nil {
		t.Fatal(err)
	}
	var name pkix.Name
	name.FillFromRDNSequence(&rdn)
	want := "CN=Cloud Issuing CA,OU=Security Operations,O=Cloud CA,L=London,C=GB"
	if got := name.String(); got != want {
		t.Errorf("issuer = %q, want %q", got, want)
	}
}
