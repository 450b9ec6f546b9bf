package ca_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/sqlite"
)

// twin runs the same history on two stores: a is read through a RevokedCache
// (cached), b entry by entry from the store (plain). a2 is a second handle on
// a's file, standing for another process. Both CAs share the issuing CA and
// one clock, so that two CRLs issued at the same time must have the same
// to-be-signed bytes: the same number, dates and entries.
type twin struct {
	t             *testing.T
	a, a2, b      *sqlite.Store
	cache         *ca.RevokedCache
	cached, plain *ca.CA
	issuer        *ca.Authority
	now           time.Time
	rng           *mrand.Rand
	next          int64
}

func newTwin(t *testing.T) *twin {
	f := newFixture(t)
	dir := t.TempDir()
	open := func(name string) *sqlite.Store {
		st, err := sqlite.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	tw := &twin{t: t, a: open("a.db"), a2: open("a.db"), b: open("b.db"),
		issuer: f.ca.Issuing, now: time.Now().UTC().Truncate(time.Second),
		rng: mrand.New(mrand.NewPCG(7, 11)), next: 1}
	clock := func() time.Time { return tw.now }
	tw.cache = ca.NewRevokedCache(tw.a)
	tw.cached = &ca.CA{Root: f.ca.Root, Issuing: f.ca.Issuing, Store: tw.cache, Now: clock}
	tw.plain = &ca.CA{Root: f.ca.Root, Issuing: f.ca.Issuing, Store: tw.b, Now: clock}
	return tw
}

// serial returns a new serial: 159 random bits, or a small number now and
// then, so that serial lengths and DER pads vary.
func (tw *twin) serial() *big.Int {
	tw.next++
	if tw.next%5 == 0 {
		return big.NewInt(tw.next)
	}
	var b [20]byte
	for i := range b {
		b[i] = byte(tw.rng.Uint32())
	}
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b[:])
}

// cert returns a certificate of the issuing CA expiring at notAfter, revoked
// at revokedAt with reason unless revokedAt is zero.
func (tw *twin) cert(notAfter, revokedAt time.Time, reason store.Reason) *store.Certificate {
	s := tw.serial()
	c := &store.Certificate{
		Serial: s, Issuer: tw.issuer.Slug, Subject: "CN=x", CommonName: "x",
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter,
		DER: append([]byte{0x30, 0x03}, s.Bytes()...), Source: store.SourceAPI,
	}
	if !revokedAt.IsZero() {
		c.RevokedAt, c.Reason = &revokedAt, reason
	}
	return c
}

// insert records certs in both stores, through a's handle via.
func (tw *twin) insert(via store.Store, certs ...*store.Certificate) {
	tw.t.Helper()
	for _, c := range certs {
		for _, st := range []store.Store{via, tw.b} {
			if err := st.InsertCertificate(context.Background(), c); err != nil {
				tw.t.Fatal(err)
			}
		}
	}
}

// revoke revokes c in both stores, through a's handle via.
func (tw *twin) revoke(via store.Store, c *store.Certificate, at time.Time, r store.Reason) {
	tw.t.Helper()
	for _, st := range []store.Store{via, tw.b} {
		if _, _, err := st.Revoke(context.Background(), c.Serial, at, r); err != nil {
			tw.t.Fatal(err)
		}
	}
}

// compare issues a CRL through each CA at the current time and wants the
// same TBSCertList; it returns the number of entries.
func (tw *twin) compare(step string) int {
	tw.t.Helper()
	ctx := context.Background()
	got, err := tw.cached.IssueCRL(ctx, tw.issuer, 24*time.Hour)
	if err != nil {
		tw.t.Fatalf("%s: cached IssueCRL: %v", step, err)
	}
	want, err := tw.plain.IssueCRL(ctx, tw.issuer, 24*time.Hour)
	if err != nil {
		tw.t.Fatalf("%s: store IssueCRL: %v", step, err)
	}
	g, w := parseCRL(tw.t, got.DER), parseCRL(tw.t, want.DER)
	if err := g.CheckSignatureFrom(tw.issuer.Cert); err != nil {
		tw.t.Errorf("%s: cached CRL signature: %v", step, err)
	}
	if !bytes.Equal(g.RawTBSRevocationList, w.RawTBSRevocationList) || got.Entries != want.Entries {
		tw.t.Errorf("%s: cached CRL has %d entries, store CRL %d; TBS equal: %v\n"+
			"cached serials %v\nstore serials  %v", step, got.Entries, want.Entries,
			bytes.Equal(g.RawTBSRevocationList, w.RawTBSRevocationList),
			serials(g), serials(w))
	}
	if len(g.RevokedCertificateEntries) != got.Entries {
		tw.t.Errorf("%s: CRL.Entries = %d, the CRL lists %d", step, got.Entries,
			len(g.RevokedCertificateEntries))
	}
	return got.Entries
}

func parseCRL(t *testing.T, der []byte) *x509.RevocationList {
	t.Helper()
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func serials(l *x509.RevocationList) []string {
	var out []string
	for _, e := range l.RevokedCertificateEntries {
		out = append(out, fmt.Sprintf("%x", e.SerialNumber))
	}
	return out
}

// TestRevokedCacheSameAsStore runs a history of revocations, some through a
// second handle on the store (another process), expiries that cross the
// CRL cut-off, an entry revoked after thisUpdate, enough expired entries to
// make the cache drop them, and a clock that goes back, and wants the cache
// to issue the CRL the store would at every step.
func TestRevokedCacheSameAsStore(t *testing.T) {
	tw := newTwin(t)
	now := func() time.Time { return tw.now }
	hour, day := time.Hour, 24*time.Hour
	reasons := []store.Reason{store.ReasonUnspecified, store.ReasonKeyCompromise,
		store.ReasonSuperseded, store.ReasonCessationOfOperation, store.ReasonAACompromise}

	if n := tw.compare("empty"); n != 0 {
		t.Fatalf("empty store: %d entries", n)
	}

	// Valid certificates, revoked one by one through either handle.
	var live []*store.Certificate
	for i := range 30 {
		c := tw.cert(now().Add(time.Duration(i+1)*day), time.Time{}, 0)
		tw.insert(tw.a, c)
		live = append(live, c)
	}
	for i, c := range live[:10] {
		tw.revoke(tw.a, c, now().Add(-time.Duration(i)*time.Minute), reasons[i%len(reasons)])
	}
	if n := tw.compare("ten revoked"); n != 10 {
		t.Fatalf("ten revoked: %d entries", n)
	}
	for i, c := range live[10:20] {
		tw.revoke(tw.a2, c, now(), reasons[i%len(reasons)])
	}
	// Recorded already revoked, as an import does, by the other handle.
	tw.insert(tw.a2, tw.cert(now().Add(3*day), now().Add(-day), store.ReasonKeyCompromise))
	tw.now = tw.now.Add(hour)
	if n := tw.compare("revoked by another process"); n != 21 {
		t.Fatalf("after the other process: %d entries, want 21", n)
	}

	// Revoked with a date after thisUpdate: listed only once the clock
	// passes it.
	tw.revoke(tw.a, live[20], now().Add(30*time.Minute), store.ReasonSuperseded)
	tw.now = tw.now.Add(time.Minute)
	if n := tw.compare("revoked in the future"); n != 21 {
		t.Fatalf("future revocation: %d entries, want 21", n)
	}
	tw.now = tw.now.Add(hour)
	if n := tw.compare("future reached"); n != 22 {
		t.Fatalf("future revocation reached: %d entries, want 22", n)
	}

	// Expiry: move past the notAfter of the first revoked certificates. They
	// stay for one CRL after expiry, then leave.
	tw.now = tw.now.Add(5*day + hour)
	first := tw.compare("expired, listed once more")
	tw.now = tw.now.Add(hour)
	second := tw.compare("expired, left out")
	if first != 22 || second >= first {
		t.Fatalf("expiry: %d then %d entries, want 22 then fewer", first, second)
	}

	// Enough expired entries for the cache to drop them: 3000 revoked
	// certificates that expire in an hour, and 500 that stay.
	var batch []*store.Certificate
	for i := range 3500 {
		notAfter := now().Add(30 * time.Minute)
		if i%7 == 0 {
			notAfter = now().Add(30 * day)
		}
		batch = append(batch, tw.cert(notAfter, now().Add(-day), reasons[i%5]))
	}
	tw.insert(tw.a, batch...)
	tw.now = tw.now.Add(hour)
	big := tw.compare("bulk, expired but listed once more")
	tw.now = tw.now.Add(hour)
	small := tw.compare("bulk expired, dropped")
	if big-small != 3000 {
		t.Fatalf("bulk expiry: %d then %d entries, want 3000 fewer", big, small)
	}
	if n := tw.cache.Len(tw.issuer.Slug); n >= big {
		t.Errorf("the cache holds %d entries after the bulk expired, want fewer than %d", n, big)
	}

	// A clock that goes back makes a lower cut-off than the last one: the
	// entries the cache dropped must come back.
	tw.now = tw.now.Add(-3 * hour)
	tw.compare("clock went back")
	tw.now = tw.now.Add(-3 * hour)
	if n := tw.compare("clock went back again"); n != big {
		t.Fatalf("clock went back: %d entries, want the %d listed before the drop", n, big)
	}
	tw.now = tw.now.Add(10 * hour)
	tw.compare("clock forward again")
}

// TestRevokedCacheConcurrent revokes through another handle while CRLs are
// built from the cache, then wants the next cached CRL to list every
// revocation, as the store path does.
func TestRevokedCacheConcurrent(t *testing.T) {
	tw := newTwin(t)
	var certs []*store.Certificate
	for range 200 {
		c := tw.cert(tw.now.Add(30*24*time.Hour), time.Time{}, 0)
		tw.insert(tw.a, c)
		certs = append(certs, c)
	}
	at := tw.now.Add(-time.Minute)

	var wg sync.WaitGroup
	wg.Go(func() {
		for _, c := range certs {
			if _, _, err := tw.a2.Revoke(context.Background(), c.Serial, at,
				store.ReasonKeyCompromise); err != nil {
				t.Error(err)
				return
			}
		}
	})
	ctx := context.Background()
	last := 0
	for range 20 {
		c, err := tw.cached.IssueCRL(ctx, tw.issuer, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.Entries < last {
			t.Errorf("a CRL lists %d entries, the one before %d", c.Entries, last)
		}
		last = c.Entries
	}
	wg.Wait()

	// Mirror the revocations into b and compare at one time.
	for _, c := range certs {
		if _, _, err := tw.b.Revoke(ctx, c.Serial, at, store.ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
	}
	// Both stores must have issued the same number of CRLs for the numbers
	// to match: catch b up.
	for range 20 {
		if _, err := tw.plain.IssueCRL(ctx, tw.issuer, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := tw.compare("after concurrent revocations"); n != len(certs) {
		t.Fatalf("after concurrent revocations: %d entries, want %d", n, len(certs))
	}
}
