// Package storetest is the conformance suite for implementations of
// store.Store. An implementation passes it from its own tests with one line:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, openEmptyStore) }
//
// The suite checks the promises of package store and pins down the details
// the interface leaves to words, so that the embedded and the PostgreSQL
// store behave alike:
//
//   - Times are kept to the whole second (the sub-second part is dropped) and
//     come back in UTC. A zero CreatedAt is recorded as the time of the call.
//   - A certificate is valid through its notAfter second (RFC 5280 section
//     4.1.2.5): Filter.Status and RevokedEntries compare notAfter with the
//     caller's time exactly, nanoseconds included.
//   - Serial and CRL numbers are positive and at most 159 bits. A lookup of a
//     number outside that range is store.ErrNotFound, not a panic.
//   - Invalid input (a missing field, a reason code Anchor refuses) is an
//     error other than store.ErrDuplicateSerial, and records nothing.
//   - Close is idempotent: a second Close returns nil; every other method
//     returns store.ErrClosed after it.
//
// RevokedSince reports each revocation once to a reader that passes each
// upTo back as the next afterRevision, with revisions in commit order, even
// while other goroutines revoke.
//
// Beyond certificates it checks every store.Service method: events recorded if
// and only if their change commits, Revision, tokens, the audit trail,
// reminders and leases; and it runs notifytest.RunOutbox on the store's
// outbox.
//
// The sub-tests run one after the other, each on a store of its own.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/notify/notifytest"
	"github.com/anchorpki/anchor/store"
)

// Run runs the conformance suite. open must return a new, empty store and
// arrange, with t.Cleanup, for it to be closed; the suite may have closed it
// already.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"TimesToTheSecond", testTimesToTheSecond},
		{"NotFound", testNotFound},
		{"DuplicateSerial", testDuplicateSerial},
		{"ConcurrentDuplicates", testConcurrentDuplicates},
		{"InvalidCertificate", testInvalidCertificate},
		{"ListSerialOrder", testListSerialOrder},
		{"ListFilters", testListFilters},
		{"ListNowDefault", testListNowDefault},
		{"ListPages", testListPages},
		{"ListInvalidFilter", testListInvalidFilter},
		{"CertificatesByKey", testCertificatesByKey},
		{"Revoke", testRevoke},
		{"RevokeInvalid", testRevokeInvalid},
		{"RevokeConcurrent", testRevokeConcurrent},
		{"RevokedEntries", testRevokedEntries},
		{"RevokedSince", testRevokedSince},
		{"RevokedSinceConcurrent", testRevokedSinceConcurrent},
		{"NextCRL", testNextCRL},
		{"NextCRLInvalid", testNextCRLInvalid},
		{"NextCRLConcurrent", testNextCRLConcurrent},
		{"PutCA", testPutCA},
		{"ConcurrentInsert", testConcurrentInsert},
		{"CanceledInsert", testCanceledInsert},
		{"InsertEvents", testInsertEvents},
		{"GroupEvents", testGroupEvents},
		{"RevokeEvents", testRevokeEvents},
		{"Revision", testRevision},
		{"Tokens", testTokens},
		{"Audit", testAudit},
		{"Reminders", testReminders},
		{"Leases", testLeases},
		{"LeaseExclusive", testLeaseExclusive},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	// The store's outbox passes the suite every notify.Outbox passes.
	t.Run("Outbox", func(t *testing.T) {
		notifytest.RunOutbox(t, func() notify.Outbox { return open(t) })
	})
}

func testRoundTrip(t *testing.T, s store.Store) {
	plain := newCert(num(1001))

	// Booleans set independently, an empty subject and common name (a
	// certificate with only SANs) and the RFC 5280 no-expiry notAfter.
	odd := newCert(num(1002))
	odd.Subject, odd.CommonName = "", ""
	odd.NotifyIssued, odd.NotifyExpiry = false, true
	odd.NotAfter = noExpiry
	odd.Source = store.SourceGitOps

	other := newCert(num(1003))
	other.NotifyIssued, other.NotifyExpiry = true, false
	other.Source = store.SourceInit

	// A certificate can be recorded already revoked, as an import does.
	revoked := newCert(pow2(158))
	revoked.Source = store.SourceCLI
	revoked.RevokedAt = timePtr(base.Add(time.Minute))
	revoked.Reason = store.ReasonKeyCompromise

	for _, c := range []*store.Certificate{plain, odd, other, revoked} {
		insert(t, s, c)
	}
	for _, want := range []*store.Certificate{plain, odd, other, revoked} {
		got := get(t, s, want.Serial)
		checkCert(t, got, want)
		if got.Revoked() != (want.RevokedAt != nil) {
			t.Errorf("certificate %s: Revoked() = %v", want.Serial, got.Revoked())
		}
	}

	// A zero CreatedAt is the time of the call, to the second.
	fresh := newCert(num(1004))
	fresh.CreatedAt = time.Time{}
	before := time.Now().Truncate(time.Second)
	insert(t, s, fresh)
	after := time.Now()
	got := get(t, s, fresh.Serial)
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
		t.Errorf("zero CreatedAt recorded as %s, want between %s and %s",
			got.CreatedAt, before, after)
	}
}

func testTimesToTheSecond(t *testing.T, s store.Store) {
	c := newCert(num(77))
	c.NotBefore = base.Add(999 * time.Millisecond)
	c.NotAfter = base.Add(24*time.Hour + time.Nanosecond)
	c.CreatedAt = base.Add(-time.Second + 1)
	c.RevokedAt = timePtr(base.Add(time.Minute + 500*time.Millisecond))
	c.Reason = store.ReasonSuperseded
	// Times in a zone other than UTC are the same instants.
	c.NotBefore = c.NotBefore.In(time.FixedZone("UTC+5", 5*3600))
	insert(t, s, c)

	want := *c
	want.NotBefore = base
	want.NotAfter = base.Add(24 * time.Hour)
	want.CreatedAt = base.Add(-time.Second)
	want.RevokedAt = timePtr(base.Add(time.Minute))
	checkCert(t, get(t, s, c.Serial), &want)
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	insert(t, s, newCert(num(5)))

	for _, serial := range []*big.Int{num(6), nil, num(0), num(-5), pow2(160), pow2(159)} {
		_, err := s.Certificate(ctx, serial)
		wantErr(t, fmt.Sprintf("Certificate(%v)", serial), err, store.ErrNotFound)
		_, _, err = s.Revoke(ctx, serial, base, store.ReasonUnspecified)
		wantErr(t, fmt.Sprintf("Revoke(%v)", serial), err, store.ErrNotFound)
	}
	_, err := s.CA(ctx, "no-such-ca")
	wantErr(t, "CA", err, store.ErrNotFound)
	_, err = s.LastCRL(ctx, issuerA)
	wantErr(t, "LastCRL", err, store.ErrNotFound)

	certs, err := s.CertificatesByKey(ctx, [32]byte{1, 2, 3})
	if err != nil || len(certs) != 0 {
		t.Errorf("CertificatesByKey(unknown) = %d certificates, %v; want none, nil",
			len(certs), err)
	}
}

func testDuplicateSerial(t *testing.T, s store.Store) {
	first := newCert(num(42))
	insert(t, s, first)

	second := newCert(num(43))
	second.Serial = num(42)
	second.Issuer = issuerB
	second.RevokedAt = timePtr(base)
	err := s.InsertCertificate(context.Background(), second)
	wantErr(t, "second InsertCertificate of serial 42", err, store.ErrDuplicateSerial)

	checkCert(t, get(t, s, num(42)), first)
	if got := serials(list(t, s, store.Filter{})); !equalStrings(got, []string{"42"}) {
		t.Errorf("List after duplicate = %v, want [42]", got)
	}
}

func testConcurrentDuplicates(t *testing.T, s store.Store) {
	// Each serial is inserted by two goroutines at once, with different
	// common names; exactly one wins and the stored record is the winner's.
	const n = 16
	errs := make([][2]error, n)
	var wg sync.WaitGroup
	for i := range n {
		for j := range 2 {
			wg.Go(func() {
				c := newCert(num(int64(100 + i)))
				c.CommonName = fmt.Sprintf("writer-%d", j)
				errs[i][j] = s.InsertCertificate(context.Background(), c)
			})
		}
	}
	wg.Wait()

	for i := range n {
		serial := num(int64(100 + i))
		winner := -1
		for j, err := range errs[i] {
			switch {
			case err == nil:
				winner = j
			case !errors.Is(err, store.ErrDuplicateSerial):
				t.Errorf("serial %s writer %d: %v", serial, j, err)
			}
		}
		if (errs[i][0] == nil) == (errs[i][1] == nil) {
			t.Errorf("serial %s: errors %v and %v, want exactly one ErrDuplicateSerial",
				serial, errs[i][0], errs[i][1])
			continue
		}
		want := fmt.Sprintf("writer-%d", winner)
		if got := get(t, s, serial).CommonName; got != want {
			t.Errorf("serial %s: stored common name %q, want the winner's %q", serial, got, want)
		}
	}
	if got := len(list(t, s, store.Filter{})); got != n {
		t.Errorf("%d certificates stored, want %d", got, n)
	}
}

func testInvalidCertificate(t *testing.T, s store.Store) {
	type cert = store.Certificate
	tests := []struct {
		name   string
		modify func(c *cert)
	}{
		{"nil serial", func(c *cert) { c.Serial = nil }},
		{"zero serial", func(c *cert) { c.Serial = num(0) }},
		{"negative serial", func(c *cert) { c.Serial = num(-9) }},
		{"160-bit serial", func(c *cert) { c.Serial = pow2(159) }},
		{"empty issuer", func(c *cert) { c.Issuer = "" }},
		{"empty DER", func(c *cert) { c.DER = nil }},
		{"empty source", func(c *cert) { c.Source = "" }},
		{"zero notBefore", func(c *cert) { c.NotBefore = time.Time{} }},
		{"zero notAfter", func(c *cert) { c.NotAfter = time.Time{} }},
		{"notAfter before notBefore", func(c *cert) { c.NotAfter = base.Add(-2 * time.Hour) }},
		{"zero revocation time", func(c *cert) { c.RevokedAt = &time.Time{} }},
	}
	for _, r := range []store.Reason{6, 7, 8, 11, -1} {
		tests = append(tests, struct {
			name   string
			modify func(c *cert)
		}{fmt.Sprintf("revoked with reason %d", r), func(c *cert) {
			c.RevokedAt, c.Reason = timePtr(base), r
		}})
	}

	if err := s.InsertCertificate(context.Background(), nil); err == nil {
		t.Error("InsertCertificate(nil) succeeded, want an error")
	}
	for _, tc := range tests {
		c := newCert(num(300))
		tc.modify(c)
		err := s.InsertCertificate(context.Background(), c)
		if err == nil || errors.Is(err, store.ErrDuplicateSerial) {
			t.Errorf("%s: got error %v, want a validation error", tc.name, err)
		}
	}
	if got := list(t, s, store.Filter{}); len(got) != 0 {
		t.Fatalf("invalid certificates were recorded: %v", serials(got))
	}

	// The largest serial that fits in 20 octets is fine.
	largest := new(big.Int).Sub(pow2(159), num(1))
	insert(t, s, newCert(largest))
	checkCert(t, get(t, s, largest), newCert(largest))
}

func testListSerialOrder(t *testing.T, s store.Store) {
	max159 := new(big.Int).Sub(pow2(159), num(1))
	pow64less := new(big.Int).Sub(pow2(64), num(1))
	in := []*big.Int{pow2(158), num(1), pow2(64), pow64less, num(256), num(255),
		max159, pow2(32), num(16), num(15)}
	for _, n := range in {
		insert(t, s, newCert(n))
	}
	want := decimals(num(1), num(15), num(16), num(255), num(256), pow2(32),
		pow64less, pow2(64), pow2(158), max159)
	if got := serials(list(t, s, store.Filter{})); !equalStrings(got, want) {
		t.Errorf("List order:\n got %v\nwant %v", got, want)
	}
}

// filterFixtures inserts seven certificates placed around base and returns
// them by name.
func filterFixtures(t *testing.T, s store.Store) map[string]*store.Certificate {
	day := 24 * time.Hour
	specs := []struct {
		name, issuer, cn string
		serial           int64
		notAfter         time.Time
		revoked          bool
	}{
		{"a1", issuerA, "web", 70, base.Add(30 * day), false},
		{"a2", issuerA, "web", 20, base.Add(-day), false},
		{"a3", issuerA, "db", 50, base.Add(30 * day), true},
		{"a4", issuerA, "db", 10, base, false}, // valid through this second
		{"a5", issuerA, "api", 60, base.Add(-time.Second), false},
		{"b1", issuerB, "web", 30, base.Add(10 * day), false},
		{"b2", issuerB, "web", 40, base.Add(-5 * day), true},
	}
	certs := map[string]*store.Certificate{}
	for _, sp := range specs {
		c := newCert(num(sp.serial))
		c.Issuer, c.CommonName, c.NotAfter = sp.issuer, sp.cn, sp.notAfter
		c.NotBefore = sp.notAfter.Add(-90 * day)
		if sp.revoked {
			c.RevokedAt, c.Reason = timePtr(base.Add(-2*day)), store.ReasonSuperseded
		}
		insert(t, s, c)
		certs[sp.name] = c
	}
	return certs
}

func testListFilters(t *testing.T, s store.Store) {
	certs := filterFixtures(t, s)
	key := func(name string) string { return store.SerialKey(certs[name].Serial) }
	day := 24 * time.Hour

	tests := []struct {
		name   string
		filter store.Filter
		want   []string // fixture names in serial order
	}{
		{"everything", store.Filter{}, []string{"a4", "a2", "b1", "b2", "a3", "a5", "a1"}},
		{"issuer", store.Filter{Issuer: issuerA}, []string{"a4", "a2", "a3", "a5", "a1"}},
		{"unknown issuer", store.Filter{Issuer: "nobody"}, nil},
		{"common name", store.Filter{CommonName: "web"}, []string{"a2", "b1", "b2", "a1"}},
		{"issuer and common name", store.Filter{Issuer: issuerA, CommonName: "db"},
			[]string{"a4", "a3"}},
		{"valid", store.Filter{Status: store.StatusValid, Now: base},
			[]string{"a4", "b1", "a1"}},
		{"expired", store.Filter{Status: store.StatusExpired, Now: base},
			[]string{"a2", "a5"}},
		{"revoked", store.Filter{Status: store.StatusRevoked, Now: base},
			[]string{"b2", "a3"}},
		{"valid a second later", store.Filter{Status: store.StatusValid,
			Now: base.Add(time.Second)}, []string{"b1", "a1"}},
		{"expired half a second after notAfter", store.Filter{Status: store.StatusExpired,
			Now: base.Add(500 * time.Millisecond)}, []string{"a4", "a2", "a5"}},
		{"valid half a second before notAfter", store.Filter{Status: store.StatusValid,
			Now: base.Add(-500 * time.Millisecond)}, []string{"a4", "b1", "a1"}},
		{"revoked of issuer B", store.Filter{Issuer: issuerB, Status: store.StatusRevoked},
			[]string{"b2"}},
		{"expiring before", store.Filter{ExpiringBefore: base.Add(11 * day)},
			[]string{"a4", "a2", "b1", "b2", "a5"}},
		{"expiring strictly before", store.Filter{ExpiringBefore: base},
			[]string{"a2", "b2", "a5"}},
		{"expiring before, half a second", store.Filter{
			ExpiringBefore: base.Add(500 * time.Millisecond)},
			[]string{"a4", "a2", "b2", "a5"}},
		{"valid and expiring", store.Filter{Status: store.StatusValid, Now: base,
			ExpiringBefore: base.Add(11 * day)}, []string{"a4", "b1"}},
		{"limit", store.Filter{Limit: 3}, []string{"a4", "a2", "b1"}},
		{"after", store.Filter{After: key("b2")}, []string{"a3", "a5", "a1"}},
		{"after and limit", store.Filter{After: key("a4"), Limit: 2}, []string{"a2", "b1"}},
		{"after the last", store.Filter{After: key("a1")}, nil},
		{"everything combined", store.Filter{Issuer: issuerA, CommonName: "web",
			Status: store.StatusExpired, Now: base, ExpiringBefore: base,
			After: key("a4"), Limit: 5}, []string{"a2"}},
	}
	for _, tc := range tests {
		var want []string
		for _, name := range tc.want {
			want = append(want, certs[name].Serial.String())
		}
		got := list(t, s, tc.filter)
		if !equalStrings(serials(got), want) {
			t.Errorf("%s: List = %v, want %v (%v)", tc.name, serials(got), want, tc.want)
		}
	}

	// Listed records are whole.
	for _, c := range list(t, s, store.Filter{Issuer: issuerB}) {
		for _, want := range certs {
			if want.Serial.Cmp(c.Serial) == 0 {
				checkCert(t, c, want)
			}
		}
	}
}

func testListNowDefault(t *testing.T, s store.Store) {
	// A zero Filter.Now is the wall clock.
	now := time.Now().Truncate(time.Second)
	live, dead := newCert(num(1)), newCert(num(2))
	live.NotBefore, live.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
	dead.NotBefore, dead.NotAfter = now.Add(-2*time.Hour), now.Add(-time.Hour)
	insert(t, s, live, dead)

	if got := serials(list(t, s, store.Filter{Status: store.StatusValid})); !equalStrings(
		got, []string{"1"}) {
		t.Errorf("valid now = %v, want [1]", got)
	}
	if got := serials(list(t, s, store.Filter{Status: store.StatusExpired})); !equalStrings(
		got, []string{"2"}) {
		t.Errorf("expired now = %v, want [2]", got)
	}
}

func testListPages(t *testing.T, s store.Store) {
	var all []string
	for _, n := range []*big.Int{pow2(150), num(3), pow2(70), num(9), pow2(100), num(1),
		pow2(64)} {
		insert(t, s, newCert(n))
	}
	all = serials(list(t, s, store.Filter{}))

	var walked []string
	pages := 0
	f := store.Filter{Limit: 2}
	for {
		page := list(t, s, f)
		if len(page) == 0 {
			break
		}
		if len(page) > f.Limit {
			t.Fatalf("page %d has %d certificates, limit %d", pages, len(page), f.Limit)
		}
		pages++
		walked = append(walked, serials(page)...)
		f.After = store.SerialKey(page[len(page)-1].Serial)
		if pages > len(all) {
			t.Fatal("pagination does not end")
		}
	}
	if !equalStrings(walked, all) {
		t.Errorf("pages give %v, want %v", walked, all)
	}
	if pages != 4 {
		t.Errorf("%d pages of 2 for 7 certificates, want 4", pages)
	}
}

func testListInvalidFilter(t *testing.T, s store.Store) {
	for _, f := range []store.Filter{{Limit: -1}, {Status: "bogus"}} {
		if _, err := s.List(context.Background(), f); err == nil {
			t.Errorf("List(%+v) succeeded, want an error", f)
		}
	}
}

func testCertificatesByKey(t *testing.T, s store.Store) {
	shared := [32]byte{0xaa, 0xbb}
	mk := func(serial int64, created time.Time, hash [32]byte) *store.Certificate {
		c := newCert(num(serial))
		c.KeyHash, c.CreatedAt = hash, created
		return c
	}
	newest := mk(1, base.Add(2*time.Hour), shared)
	oldest := mk(3, base, shared)
	middle := mk(2, base.Add(time.Hour), shared)
	otherKey := mk(4, base.Add(-time.Hour), [32]byte{0xcc})
	insert(t, s, newest, otherKey, oldest, middle)

	got, err := s.CertificatesByKey(context.Background(), shared)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"3", "2", "1"}; !equalStrings(serials(got), want) {
		t.Fatalf("CertificatesByKey = %v, want oldest first %v", serials(got), want)
	}
	for i, want := range []*store.Certificate{oldest, middle, newest} {
		checkCert(t, got[i], want)
	}
}

func testRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newCert(pow2(100))
	insert(t, s, c)

	at := base.Add(5*time.Minute + 300*time.Millisecond)
	got, changed, err := s.Revoke(ctx, c.Serial, at, store.ReasonKeyCompromise)
	if err != nil || !changed {
		t.Fatalf("first Revoke: changed %v, error %v; want true, nil", changed, err)
	}
	want := *c
	want.RevokedAt, want.Reason = timePtr(base.Add(5*time.Minute)), store.ReasonKeyCompromise
	checkCert(t, got, &want)
	checkCert(t, get(t, s, c.Serial), &want)

	// Again, with another time and reason: nothing changes.
	got, changed, err = s.Revoke(ctx, c.Serial, base.Add(time.Hour), store.ReasonSuperseded)
	if err != nil || changed {
		t.Fatalf("second Revoke: changed %v, error %v; want false, nil", changed, err)
	}
	checkCert(t, got, &want)
	checkCert(t, get(t, s, c.Serial), &want)

	// Unspecified (0) is a reason like any other.
	u := newCert(num(8))
	insert(t, s, u)
	got, changed, err = s.Revoke(ctx, u.Serial, base, store.ReasonUnspecified)
	if err != nil || !changed || !got.Revoked() || got.Reason != store.ReasonUnspecified {
		t.Errorf("Revoke(unspecified) = %+v, %v, %v", got, changed, err)
	}

	// Revoking one certificate leaves the others alone.
	other := newCert(num(9))
	insert(t, s, other)
	checkCert(t, get(t, s, other.Serial), other)
}

func testRevokeInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newCert(num(12))
	insert(t, s, c)
	for _, r := range []store.Reason{6, 7, 8, 11, -1} {
		if _, _, err := s.Revoke(ctx, c.Serial, base, r); err == nil {
			t.Errorf("Revoke with reason %d succeeded, want an error", r)
		}
	}
	if _, _, err := s.Revoke(ctx, c.Serial, time.Time{}, store.ReasonKeyCompromise); err == nil {
		t.Error("Revoke at the zero time succeeded, want an error")
	}
	checkCert(t, get(t, s, c.Serial), c)
}

func testRevokeConcurrent(t *testing.T, s store.Store) {
	c := newCert(num(21))
	insert(t, s, c)

	const n = 8
	type result struct {
		c       *store.Certificate
		changed bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			at := base.Add(time.Duration(i+1) * time.Minute)
			r := &results[i]
			r.c, r.changed, r.err = s.Revoke(context.Background(), c.Serial, at,
				store.ReasonKeyCompromise)
		})
	}
	wg.Wait()

	winners := 0
	var winning time.Time
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("Revoke %d: %v", i, r.err)
		}
		if r.changed {
			winners++
			winning = base.Add(time.Duration(i+1) * time.Minute)
		}
	}
	if winners != 1 {
		t.Fatalf("%d calls report they revoked, want 1", winners)
	}
	for i, r := range results {
		if r.c.RevokedAt == nil || !r.c.RevokedAt.Equal(winning) {
			t.Errorf("Revoke %d returned revocation time %v, want the winner's %s",
				i, r.c.RevokedAt, winning)
		}
	}
}

func testRevokedEntries(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	type spec struct {
		serial   *big.Int
		issuer   string
		notAfter time.Time
		reason   store.Reason
		revoked  bool
	}
	specs := []spec{
		{pow2(158), issuerA, base.Add(10 * day), store.ReasonKeyCompromise, true},
		{num(1), issuerA, base.Add(-day), store.ReasonSuperseded, true},
		{pow2(64), issuerA, base, store.ReasonUnspecified, true},
		{num(5), issuerA, base.Add(10 * day), 0, false},
		{num(7), issuerB, base.Add(10 * day), store.ReasonCessationOfOperation, true},
		{num(3), issuerA, base.Add(2 * day), store.ReasonAACompromise, true},
	}
	want := map[string]store.RevokedEntry{}
	for i, sp := range specs {
		c := newCert(sp.serial)
		c.Issuer, c.NotAfter = sp.issuer, sp.notAfter
		c.NotBefore = sp.notAfter.Add(-30 * day)
		insert(t, s, c)
		if !sp.revoked {
			continue
		}
		at := base.Add(-time.Duration(i+1) * time.Hour)
		if _, _, err := s.Revoke(ctx, sp.serial, at, sp.reason); err != nil {
			t.Fatal(err)
		}
		want[sp.serial.String()] = store.RevokedEntry{
			Serial: sp.serial, RevokedAt: at, Reason: sp.reason, NotAfter: sp.notAfter}
	}

	collect := func(issuer string, from time.Time) []store.RevokedEntry {
		t.Helper()
		var got []store.RevokedEntry
		err := s.RevokedEntries(ctx, issuer, from, func(e store.RevokedEntry) error {
			got = append(got, e)
			return nil
		})
		if err != nil {
			t.Fatalf("RevokedEntries(%s, %s): %v", issuer, from, err)
		}
		return got
	}
	tests := []struct {
		name   string
		issuer string
		from   time.Time
		want   []*big.Int
	}{
		{"all of A", issuerA, time.Time{}, []*big.Int{num(1), num(3), pow2(64), pow2(158)}},
		{"cut-off is inclusive", issuerA, base, []*big.Int{num(3), pow2(64), pow2(158)}},
		{"half a second past notAfter", issuerA, base.Add(500 * time.Millisecond),
			[]*big.Int{num(3), pow2(158)}},
		{"a second later", issuerA, base.Add(time.Second), []*big.Int{num(3), pow2(158)}},
		{"far future", issuerA, base.Add(100 * day), nil},
		{"issuer B", issuerB, time.Time{}, []*big.Int{num(7)}},
		{"unknown issuer", "nobody", time.Time{}, nil},
	}
	for _, tc := range tests {
		got := collect(tc.issuer, tc.from)
		var gotSerials []string
		for _, e := range got {
			gotSerials = append(gotSerials, e.Serial.String())
		}
		if !equalStrings(gotSerials, decimals(tc.want...)) {
			t.Errorf("%s: serials %v, want %v", tc.name, gotSerials, decimals(tc.want...))
			continue
		}
		for _, e := range got {
			w := want[e.Serial.String()]
			var d []string
			checkTime(&d, "RevokedAt", e.RevokedAt, w.RevokedAt)
			checkTime(&d, "NotAfter", e.NotAfter, w.NotAfter)
			if e.Reason != w.Reason {
				d = append(d, fmt.Sprintf("Reason: got %s, want %s", e.Reason, w.Reason))
			}
			if len(d) > 0 {
				t.Errorf("%s: entry %s: %v", tc.name, e.Serial, d)
			}
		}
	}

	// An error from fn stops the walk and comes back as it is.
	stop := errors.New("stop here")
	calls := 0
	err := s.RevokedEntries(ctx, issuerA, time.Time{}, func(store.RevokedEntry) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn error: RevokedEntries returned %v after %d calls, want %v after 1",
			err, calls, stop)
	}
}

func testNextCRL(t *testing.T, s store.Store) {
	ctx := context.Background()
	this := base.Add(250 * time.Millisecond)
	nextUpdate := base.Add(24*time.Hour + 600*time.Second)

	first, prev, err := s.NextCRL(ctx, issuerA, this, nextUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if prev != nil {
		t.Errorf("first NextCRL: prev = %+v, want nil", prev)
	}
	want1 := &store.CRLRecord{Issuer: issuerA, Number: num(1), ThisUpdate: base,
		NextUpdate: nextUpdate}
	checkCRL(t, "first CRL", first, want1)
	last, err := s.LastCRL(ctx, issuerA)
	if err != nil {
		t.Fatal(err)
	}
	checkCRL(t, "LastCRL after the first", last, want1)

	// The second call returns the first record as prev.
	second, prev, err := s.NextCRL(ctx, issuerA, base.Add(time.Hour),
		base.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	checkCRL(t, "prev of the second CRL", prev, want1)
	want2 := &store.CRLRecord{Issuer: issuerA, Number: num(2),
		ThisUpdate: base.Add(time.Hour), NextUpdate: base.Add(25 * time.Hour)}
	checkCRL(t, "second CRL", second, want2)

	// Another issuer counts on its own.
	other, prev, err := s.NextCRL(ctx, issuerB, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if prev != nil || other.Number.Cmp(num(1)) != 0 {
		t.Errorf("first CRL of issuer B: number %v, prev %+v; want 1, nil", other.Number, prev)
	}
	last, err = s.LastCRL(ctx, issuerA)
	if err != nil {
		t.Fatal(err)
	}
	checkCRL(t, "LastCRL of A after B's first", last, want2)

	// Numbers keep counting well past one byte.
	var n *store.CRLRecord
	for range 300 {
		if n, _, err = s.NextCRL(ctx, issuerA, base, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n.Number.Cmp(num(302)) != 0 {
		t.Errorf("after 302 calls the number is %v, want 302", n.Number)
	}
	if last, err = s.LastCRL(ctx, issuerA); err != nil || last.Number.Cmp(num(302)) != 0 {
		t.Errorf("LastCRL = %+v, %v; want number 302", last, err)
	}
}

func testNextCRLInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	tests := []struct {
		name             string
		issuer           string
		this, nextUpdate time.Time
	}{
		{"empty issuer", "", base, base.Add(time.Hour)},
		{"zero thisUpdate", issuerA, time.Time{}, base},
		{"nextUpdate before thisUpdate", issuerA, base, base.Add(-time.Hour)},
		{"nextUpdate equal to thisUpdate", issuerA, base, base},
	}
	for _, tc := range tests {
		if _, _, err := s.NextCRL(ctx, tc.issuer, tc.this, tc.nextUpdate); err == nil {
			t.Errorf("%s: NextCRL succeeded, want an error", tc.name)
		}
	}
	// None of them took a number.
	_, err := s.LastCRL(ctx, issuerA)
	wantErr(t, "LastCRL after refused calls", err, store.ErrNotFound)
}

func testNextCRLConcurrent(t *testing.T, s store.Store) {
	const workers, calls = 8, 50
	got := make([][]*big.Int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range calls {
				next, prev, err := s.NextCRL(context.Background(), issuerA, base,
					base.Add(time.Hour))
				if err != nil {
					errs[w] = err
					return
				}
				// prev is the record this call replaced.
				if prev == nil && next.Number.Cmp(num(1)) != 0 ||
					prev != nil && new(big.Int).Sub(next.Number, prev.Number).Cmp(num(1)) != 0 {
					errs[w] = fmt.Errorf("next %v after prev %+v", next.Number, prev)
					return
				}
				got[w] = append(got[w], next.Number)
			}
		})
	}
	wg.Wait()

	seen := map[string]bool{}
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		for i, n := range got[w] {
			if i > 0 && n.Cmp(got[w][i-1]) <= 0 {
				t.Errorf("worker %d: number %v after %v", w, n, got[w][i-1])
			}
			if seen[n.String()] {
				t.Errorf("number %v handed out twice", n)
			}
			seen[n.String()] = true
		}
	}
	// Unique and 400 of them: exactly 1..400.
	for i := int64(1); i <= workers*calls; i++ {
		if !seen[num(i).String()] {
			t.Errorf("number %d never handed out", i)
		}
	}
	last, err := s.LastCRL(context.Background(), issuerA)
	if err != nil || last.Number.Cmp(num(workers*calls)) != 0 {
		t.Errorf("LastCRL = %+v, %v; want number %d", last, err, workers*calls)
	}
}

func testPutCA(t *testing.T, s store.Store) {
	ctx := context.Background()
	root := &store.CA{
		Slug: "anchor-root-ca-test", Role: "root", Parent: "anchor-root-ca-test",
		Serial: pow2(150), KeyRef: "root-ca.key", DER: []byte{0x30, 1, 2, 0, 3},
		CreatedAt: base,
	}
	issuing := &store.CA{
		Slug: "anchor-issuing-ca-test", Role: "issuing", Parent: root.Slug,
		Serial: num(12345), KeyRef: "alias/anchor-issuing", DER: []byte{0x30, 9, 8},
		CreatedAt: base.Add(time.Minute + 999*time.Millisecond),
	}
	for _, ca := range []*store.CA{root, issuing} {
		got, err := s.PutCA(ctx, ca)
		if err != nil {
			t.Fatalf("PutCA(%s): %v", ca.Slug, err)
		}
		want := *ca
		want.CreatedAt = ca.CreatedAt.Truncate(time.Second)
		checkCA(t, got, &want)
	}

	// A second PutCA with the same slug keeps and returns the first record.
	changed := *root
	changed.KeyRef, changed.DER, changed.Serial = "other.key", []byte{0x31}, num(7)
	got, err := s.PutCA(ctx, &changed)
	if err != nil {
		t.Fatal(err)
	}
	checkCA(t, got, root)
	got, err = s.CA(ctx, root.Slug)
	if err != nil {
		t.Fatal(err)
	}
	checkCA(t, got, root)

	for _, bad := range []*store.CA{
		nil,
		{Role: "root", Parent: "x", Serial: num(1), DER: []byte{1}},
		{Slug: "x", Role: "intermediate", Parent: "x", Serial: num(1), DER: []byte{1}},
		{Slug: "x", Role: "root", Serial: num(1), DER: []byte{1}},
		{Slug: "x", Role: "root", Parent: "x", DER: []byte{1}},
		{Slug: "x", Role: "root", Parent: "x", Serial: num(1)},
	} {
		if _, err := s.PutCA(ctx, bad); err == nil {
			t.Errorf("PutCA(%+v) succeeded, want an error", bad)
		}
	}
	_, err = s.CA(ctx, "x")
	wantErr(t, "CA of a refused record", err, store.ErrNotFound)
}

func testConcurrentInsert(t *testing.T, s store.Store) {
	const workers, each = 32, 25
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c := newCert(num(int64(w*1000 + i + 1)))
				if err := s.InsertCertificate(context.Background(), c); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
	}

	all := list(t, s, store.Filter{})
	if len(all) != workers*each {
		t.Fatalf("%d certificates stored, want %d", len(all), workers*each)
	}
	var want []*big.Int
	for w := range workers {
		for i := range each {
			want = append(want, num(int64(w*1000+i+1)))
		}
	}
	slices.SortFunc(want, (*big.Int).Cmp)
	for i, c := range all {
		checkCert(t, c, newCert(want[i]))
	}
}

func testCanceledInsert(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.InsertCertificate(ctx, newCert(num(31)))
	wantErr(t, "InsertCertificate with a canceled context", err, context.Canceled)

	// The store still works.
	insert(t, s, newCert(num(32)))
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	insert(t, s, newCert(num(1)))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	calls := map[string]func() error{
		"InsertCertificate": func() error { return s.InsertCertificate(ctx, newCert(num(2))) },
		"Certificate":       func() error { _, err := s.Certificate(ctx, num(1)); return err },
		"CertificatesByKey": func() error {
			_, err := s.CertificatesByKey(ctx, [32]byte{})
			return err
		},
		"List": func() error { _, err := s.List(ctx, store.Filter{}); return err },
		"Revoke": func() error {
			_, _, err := s.Revoke(ctx, num(1), base, store.ReasonSuperseded)
			return err
		},
		"RevokedEntries": func() error {
			return s.RevokedEntries(ctx, issuerA, time.Time{},
				func(store.RevokedEntry) error { return nil })
		},
		"NextCRL": func() error {
			_, _, err := s.NextCRL(ctx, issuerA, base, base.Add(time.Hour))
			return err
		},
		"LastCRL": func() error { _, err := s.LastCRL(ctx, issuerA); return err },
		"PutCA": func() error {
			_, err := s.PutCA(ctx, &store.CA{Slug: "x", Role: "root", Parent: "x",
				Serial: num(1), DER: []byte{1}})
			return err
		},
		"CA": func() error { _, err := s.CA(ctx, "x"); return err },
	}
	maps.Copy(calls, serviceCalls(ctx, s))
	for name, call := range calls {
		wantErr(t, name+" after Close", call(), store.ErrClosed)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}
