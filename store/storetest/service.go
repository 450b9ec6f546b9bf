package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/store"
)

// far is later than every event of the suite: a claim at far finds every
// delivery that was recorded and not yet claimed.
var far = base.Add(1000 * 24 * time.Hour)

// outEvent returns an event with id, at base.
func outEvent(id string) notify.Event {
	return notify.Event{
		ID: id, Subject: notify.SubjectIssued, At: base.Add(123456 * time.Microsecond),
		Body: json.RawMessage(`{"SerialNumber":"` + id + `"}`),
	}
}

// out returns an Outgoing of the event id for notifiers.
func out(id string, notifiers ...string) store.Outgoing {
	return store.Outgoing{Event: outEvent(id), Notifiers: notifiers}
}

// longLease keeps what a test claimed from coming back in a later claim.
const longLease = 100 * 365 * 24 * time.Hour

// claimed claims every delivery due at now and returns their
// "eventID/notifier" keys, sorted.
func claimed(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	ds, err := s.Claim(context.Background(), now, 1000, longLease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = d.Event.ID + "/" + d.Notifier
	}
	slices.Sort(keys)
	return keys
}

// wantClaimed fails the test unless the deliveries due at now are want.
func wantClaimed(t *testing.T, s store.Store, what string, now time.Time, want ...string) {
	t.Helper()
	got := claimed(t, s, now)
	slices.Sort(want)
	if !equalStrings(got, want) {
		t.Errorf("%s: outbox holds %q, want %q", what, got, want)
	}
}

func testInsertEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := newCert(num(1))
	if err := s.InsertCertificate(ctx, c, out("issued-1", "webhook", "slack"),
		out("issued-1b")); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Claim(ctx, far, 10, longLease)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("Claim after an insert with 2 deliveries returned %d", len(ds))
	}
	for _, d := range ds {
		want := outEvent("issued-1")
		if d.Event.ID != want.ID || d.Event.Subject != want.Subject ||
			!d.Event.At.Equal(want.At) || !sameJSON(d.Event.Body, want.Body) {
			t.Errorf("delivery %s/%s carries %+v, want %+v", d.Event.ID, d.Notifier,
				d.Event, want)
		}
	}

	// A duplicate serial records none of its events.
	err = s.InsertCertificate(ctx, newCert(num(1)), out("dup-1", "webhook"))
	wantErr(t, "duplicate insert", err, store.ErrDuplicateSerial)
	wantClaimed(t, s, "after a duplicate", far.Add(time.Hour))

	// A bad event refuses the whole call: no certificate, no event.
	bad := out("bad", "webhook")
	bad.Event.Body = json.RawMessage(`{`)
	err = s.InsertCertificate(ctx, newCert(num(2)), out("good", "webhook"), bad)
	if err == nil || errors.Is(err, store.ErrDuplicateSerial) {
		t.Errorf("insert with an invalid event: %v, want a validation error", err)
	}
	err = s.InsertCertificate(ctx, newCert(num(3)), out("no-name", "webhook", ""))
	if err == nil {
		t.Error("insert with an empty notifier name succeeded")
	}
	for _, n := range []int64{2, 3} {
		_, err := s.Certificate(ctx, num(n))
		wantErr(t, fmt.Sprintf("certificate %d of a refused insert", n), err,
			store.ErrNotFound)
	}
	wantClaimed(t, s, "after refused inserts", far.Add(2*time.Hour))
}

func testGroupEvents(t *testing.T, s store.Store) {
	// Pairs of writers race for each serial, each with its own event: the
	// outbox ends with exactly the winners' events, whatever the grouping.
	const n = 24
	errs := make([][2]error, n)
	var wg sync.WaitGroup
	for i := range n {
		for j := range 2 {
			wg.Go(func() {
				id := fmt.Sprintf("ev-%02d-%d", i, j)
				errs[i][j] = s.InsertCertificate(context.Background(),
					newCert(num(int64(500+i))), out(id, "webhook"))
			})
		}
	}
	wg.Wait()

	var want []string
	for i := range n {
		for j, err := range errs[i] {
			switch {
			case err == nil:
				want = append(want, fmt.Sprintf("ev-%02d-%d/webhook", i, j))
			case !errors.Is(err, store.ErrDuplicateSerial):
				t.Errorf("serial %d writer %d: %v", 500+i, j, err)
			}
		}
	}
	if len(want) != n {
		t.Errorf("%d inserts succeeded, want %d", len(want), n)
	}
	wantClaimed(t, s, "after racing inserts", far, want...)
}

func testRevokeEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	insert(t, s, newCert(num(10)))

	_, changed, err := s.Revoke(ctx, num(10), base, store.ReasonKeyCompromise,
		out("revoked-10", "webhook", "slack"))
	if err != nil || !changed {
		t.Fatalf("Revoke = %v, %v; want true, nil", changed, err)
	}
	wantClaimed(t, s, "after revoking", far, "revoked-10/slack", "revoked-10/webhook")

	_, changed, err = s.Revoke(ctx, num(10), base.Add(time.Hour), store.ReasonSuperseded,
		out("again-10", "webhook"))
	if err != nil || changed {
		t.Fatalf("second Revoke = %v, %v; want false, nil", changed, err)
	}
	_, _, err = s.Revoke(ctx, num(11), base, store.ReasonKeyCompromise, out("none", "webhook"))
	wantErr(t, "Revoke of an unknown serial", err, store.ErrNotFound)

	// A bad event refuses the revocation.
	insert(t, s, newCert(num(12)))
	bad := out("bad", "webhook")
	bad.Event.At = time.Time{}
	if _, _, err := s.Revoke(ctx, num(12), base, store.ReasonKeyCompromise, bad); err == nil {
		t.Error("Revoke with an invalid event succeeded")
	}
	if get(t, s, num(12)).Revoked() {
		t.Error("a Revoke refused for its event revoked the certificate")
	}
	wantClaimed(t, s, "after revocations that changed nothing", far.Add(time.Hour))
}

func testRevision(t *testing.T, s store.Store) {
	ctx := context.Background()
	revision := func() int64 {
		t.Helper()
		r, err := s.Revision(ctx)
		if err != nil {
			t.Fatalf("Revision: %v", err)
		}
		return r
	}
	if r := revision(); r != 0 {
		t.Errorf("Revision of an empty store = %d, want 0", r)
	}
	insert(t, s, newCert(num(1)), newCert(num(2)))
	if r := revision(); r != 0 {
		t.Errorf("Revision after inserting = %d, want 0", r)
	}

	steps := []struct {
		name   string
		do     func() error
		grows  bool
		serial int64
	}{
		{"revoke", func() error {
			_, _, err := s.Revoke(ctx, num(1), base, store.ReasonKeyCompromise)
			return err
		}, true, 1},
		{"revoke again", func() error {
			_, _, err := s.Revoke(ctx, num(1), base, store.ReasonKeyCompromise)
			return err
		}, false, 1},
		{"revoke unknown", func() error {
			_, _, err := s.Revoke(ctx, num(3), base, store.ReasonKeyCompromise)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}, false, 3},
		{"insert revoked", func() error {
			c := newCert(num(4))
			c.RevokedAt, c.Reason = timePtr(base), store.ReasonSuperseded
			return s.InsertCertificate(ctx, c)
		}, true, 4},
		{"insert unrevoked", func() error {
			return s.InsertCertificate(ctx, newCert(num(5)))
		}, false, 5},
		{"revoke another", func() error {
			_, _, err := s.Revoke(ctx, num(2), base, store.ReasonUnspecified)
			return err
		}, true, 2},
	}
	for _, st := range steps {
		before := revision()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		after := revision()
		switch {
		case st.grows && after <= before:
			t.Errorf("%s: Revision went from %d to %d, want it to grow", st.name, before, after)
		case !st.grows && after != before:
			t.Errorf("%s: Revision went from %d to %d, want no change", st.name, before, after)
		}
	}
}

// newToken returns a token with every field set.
func newToken(name string) *store.Token {
	return &store.Token{
		ID: "id-" + name, Name: name, Role: store.RoleIssuer,
		Hash:            [32]byte{byte(len(name)), name[0], 0, 0xff},
		AllowCN:         []string{"*.example.com", "db-?"},
		AllowSAN:        []string{"*.internal"},
		MaxLifetimeDays: 30,
		CreatedAt:       base.Add(time.Duration(len(name))*time.Minute + time.Millisecond),
	}
}

// checkToken reports how got differs from want, with want's times truncated
// to the second.
func checkToken(t *testing.T, got, want *store.Token) {
	t.Helper()
	if got == nil {
		t.Errorf("token %s: got nil", want.Name)
		return
	}
	var d []string
	if got.ID != want.ID || got.Name != want.Name || got.Role != want.Role ||
		got.Hash != want.Hash || got.MaxLifetimeDays != want.MaxLifetimeDays {
		d = append(d, fmt.Sprintf("  got %s %s %s %x %d, want %s %s %s %x %d",
			got.ID, got.Name, got.Role, got.Hash, got.MaxLifetimeDays,
			want.ID, want.Name, want.Role, want.Hash, want.MaxLifetimeDays))
	}
	norm := func(p []string) []string {
		if p == nil {
			return []string{}
		}
		return p
	}
	if !slices.Equal(norm(got.AllowCN), norm(want.AllowCN)) ||
		!slices.Equal(norm(got.AllowSAN), norm(want.AllowSAN)) {
		d = append(d, fmt.Sprintf("  patterns: got %q %q, want %q %q",
			got.AllowCN, got.AllowSAN, want.AllowCN, want.AllowSAN))
	}
	checkTime(&d, "CreatedAt", got.CreatedAt, want.CreatedAt.Truncate(time.Second))
	switch {
	case (got.RevokedAt == nil) != (want.RevokedAt == nil):
		d = append(d, fmt.Sprintf("  RevokedAt: got %v, want %v", got.RevokedAt,
			want.RevokedAt))
	case got.RevokedAt != nil:
		checkTime(&d, "RevokedAt", *got.RevokedAt, want.RevokedAt.Truncate(time.Second))
	}
	if len(d) > 0 {
		t.Errorf("token %s differs:\n%s", want.Name, fmt.Sprint(d))
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	ci, admin := newToken("ci-runner"), newToken("admin")
	admin.Role, admin.AllowCN, admin.AllowSAN, admin.MaxLifetimeDays = store.RoleAdmin,
		nil, nil, 0
	for _, tok := range []*store.Token{ci, admin} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.Name, err)
		}
	}
	got, err := s.TokenByHash(ctx, ci.Hash)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, got, ci)
	_, err = s.TokenByHash(ctx, [32]byte{9})
	wantErr(t, "TokenByHash of an unknown hash", err, store.ErrNotFound)

	// Duplicates of the ID, the name or the secret are refused.
	for name, dup := range map[string]func(*store.Token){
		"ID":   func(x *store.Token) { x.ID = ci.ID },
		"name": func(x *store.Token) { x.Name = ci.Name },
		"hash": func(x *store.Token) { x.Hash = ci.Hash },
	} {
		x := newToken("other")
		dup(x)
		wantErr(t, "CreateToken with a duplicate "+name, s.CreateToken(ctx, x),
			store.ErrDuplicateToken)
	}
	for name, spoil := range map[string]func(*store.Token){
		"empty ID":       func(x *store.Token) { x.ID = "" },
		"empty name":     func(x *store.Token) { x.Name = "" },
		"unknown role":   func(x *store.Token) { x.Role = "root" },
		"zero hash":      func(x *store.Token) { x.Hash = [32]byte{} },
		"negative limit": func(x *store.Token) { x.MaxLifetimeDays = -1 },
	} {
		x := newToken("bad")
		spoil(x)
		err := s.CreateToken(ctx, x)
		if err == nil || errors.Is(err, store.ErrDuplicateToken) {
			t.Errorf("CreateToken with %s: %v, want a validation error", name, err)
		}
	}

	// Revoking by name; the revoked token is still found, marked revoked.
	at := base.Add(time.Hour + 700*time.Millisecond)
	if err := s.RevokeToken(ctx, "ci-runner", at); err != nil {
		t.Fatalf("RevokeToken by name: %v", err)
	}
	got, err = s.TokenByHash(ctx, ci.Hash)
	if err != nil {
		t.Fatal(err)
	}
	ci.RevokedAt = &at
	checkToken(t, got, ci)
	if err := s.RevokeToken(ctx, ci.ID, base.Add(2*time.Hour)); err != nil {
		t.Errorf("RevokeToken of a revoked token: %v, want nil", err)
	}
	if got, _ := s.TokenByHash(ctx, ci.Hash); got != nil && got.RevokedAt != nil &&
		!got.RevokedAt.Equal(at.Truncate(time.Second)) {
		t.Errorf("second RevokeToken moved RevokedAt to %s", got.RevokedAt)
	}
	wantErr(t, "RevokeToken of an unknown name", s.RevokeToken(ctx, "nobody", at),
		store.ErrNotFound)

	// The name is free again; revoking by ID.
	again := newToken("ci-runner")
	again.ID, again.Hash = "id-ci-runner-2", [32]byte{0x42}
	again.CreatedAt = base.Add(time.Hour)
	if err := s.CreateToken(ctx, again); err != nil {
		t.Fatalf("CreateToken reusing a revoked name: %v", err)
	}
	if err := s.RevokeToken(ctx, admin.ID, at); err != nil {
		t.Fatalf("RevokeToken by ID: %v", err)
	}
	admin.RevokedAt = &at

	all, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("Tokens returned %d tokens, want 3", len(all))
	}
	for i, want := range []*store.Token{admin, ci, again} { // oldest first
		checkToken(t, all[i], want)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := base.Add(250 * time.Microsecond)
	recs := []store.AuditRecord{
		{At: at, Actor: "ci", Action: "issue", Serial: "12", RequestID: "r1", Detail: "a"},
		{At: at.Add(-time.Second), Actor: "cli", Action: "revoke", Serial: "12"},
		{At: at, Actor: "ci", Action: "token.use", RequestID: "r2"},
	}
	if err := s.AppendAudit(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	later := store.AuditRecord{At: at.Add(time.Minute), Actor: "gitops", Action: "issue"}
	if err := s.AppendAudit(ctx, later); err != nil {
		t.Fatal(err)
	}
	// All or none: one bad record refuses the call.
	err := s.AppendAudit(ctx, store.AuditRecord{At: at, Action: "x"},
		store.AuditRecord{At: at, Actor: "x"})
	if err == nil {
		t.Error("AppendAudit with an empty action succeeded")
	}
	if err := s.AppendAudit(ctx); err != nil {
		t.Errorf("AppendAudit of nothing: %v", err)
	}

	read := func(since time.Time, limit int) []store.AuditRecord {
		t.Helper()
		got, err := s.Audit(ctx, since, limit)
		if err != nil {
			t.Fatalf("Audit(%s, %d): %v", since, limit, err)
		}
		return got
	}
	all := []store.AuditRecord{recs[1], recs[0], recs[2], later}
	tests := []struct {
		name  string
		since time.Time
		limit int
		want  []store.AuditRecord
	}{
		{"all", time.Time{}, 0, all},
		{"limit", time.Time{}, 2, all[:2]},
		{"since is inclusive", at, 0, all[1:]},
		{"since a nanosecond later", at.Add(time.Nanosecond), 0, all[3:]},
		{"since the last", later.At, 5, all[3:]},
		{"since after everything", later.At.Add(time.Microsecond), 0, nil},
	}
	for _, tc := range tests {
		got := read(tc.since, tc.limit)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d records, want %d: %+v", tc.name, len(got), len(tc.want), got)
			continue
		}
		for i := range got {
			w := tc.want[i]
			if !got[i].At.Equal(w.At) || got[i].At.Location() != time.UTC ||
				got[i].Actor != w.Actor || got[i].Action != w.Action ||
				got[i].Serial != w.Serial || got[i].RequestID != w.RequestID ||
				got[i].Detail != w.Detail {
				t.Errorf("%s: record %d = %+v, want %+v", tc.name, i, got[i], w)
			}
		}
	}
	if _, err := s.Audit(ctx, time.Time{}, -1); err == nil {
		t.Error("Audit with a negative limit succeeded")
	}

	// A zero At is the time of the call.
	before := time.Now()
	if err := s.AppendAudit(ctx, store.AuditRecord{Actor: "cli", Action: "now"}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	var found bool
	for _, r := range read(before.Truncate(time.Microsecond), 0) {
		if r.Action == "now" {
			found = true
			if r.At.After(after) {
				t.Errorf("record with a zero At has At %s, after the call", r.At)
			}
		}
	}
	if !found {
		t.Errorf("record with a zero At is not at or after %s", before)
	}
}

func testReminders(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	for _, sp := range []struct {
		serial   int64
		notAfter time.Time
	}{{1, base.Add(10 * day)}, {2, base.Add(20 * day)}, {3, base.Add(40 * day)}} {
		c := newCert(num(sp.serial))
		c.NotAfter = sp.notAfter
		insert(t, s, c)
	}

	record := func(serial string, at time.Time, events ...store.Outgoing) bool {
		t.Helper()
		ok, err := s.RecordReminder(ctx, store.Reminded{Serial: serial, Day: at}, events...)
		if err != nil {
			t.Fatalf("RecordReminder(%s, %s): %v", serial, at, err)
		}
		return ok
	}
	if !record("1", base.Add(3*time.Hour), out("warn-1a", "webhook")) {
		t.Fatal("first reminder for 1 not recorded")
	}
	// Later the same UTC day: nothing, and no event.
	if record("1", base.Add(23*time.Hour+59*time.Minute), out("warn-1b", "webhook")) {
		t.Error("second reminder on the same day recorded")
	}
	if !record("1", base.Add(5*day+time.Hour), out("warn-1c", "webhook")) {
		t.Error("reminder on a later day not recorded")
	}
	if !record("2", base.Add(-time.Second)) {
		t.Error("first reminder for 2 not recorded")
	}
	wantClaimed(t, s, "reminder events", far, "warn-1a/webhook", "warn-1c/webhook")

	last, err := s.LastReminders(ctx, base, base.Add(30*day))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{"1": base.Add(5 * day), "2": base.Add(-day)}
	if len(last) != len(want) {
		t.Errorf("LastReminders = %v, want %v", last, want)
	}
	for serial, d := range want {
		if got, ok := last[serial]; !ok || !got.Equal(d) || got.Location() != time.UTC {
			t.Errorf("LastReminders[%s] = %v, want %v", serial, got, d)
		}
	}
	// The bounds select by notAfter: from is inclusive, to exclusive.
	last, err = s.LastReminders(ctx, base.Add(10*day), base.Add(20*day))
	if err != nil || len(last) != 1 || last["1"].IsZero() {
		t.Errorf("LastReminders of [10 days, 20 days) = %v, %v; want only 1", last, err)
	}

	for _, bad := range []store.Reminded{{Serial: "x", Day: base}, {Serial: "0", Day: base},
		{Serial: "1"}} {
		if _, err := s.RecordReminder(ctx, bad); err == nil {
			t.Errorf("RecordReminder(%+v) succeeded, want an error", bad)
		}
	}
}

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	acquire := func(holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, "crl", holder, ttl)
		if err != nil {
			t.Fatalf("AcquireLease(%s): %v", holder, err)
		}
		return ok
	}
	release := func(holder string) {
		t.Helper()
		if err := s.ReleaseLease(ctx, "crl", holder); err != nil {
			t.Fatalf("ReleaseLease(%s): %v", holder, err)
		}
	}

	if !acquire("a", time.Hour) {
		t.Fatal("a could not take a free lease")
	}
	if acquire("b", time.Hour) {
		t.Fatal("b took a lease a holds")
	}
	if !acquire("a", time.Hour) {
		t.Error("a could not renew its lease")
	}
	if ok, err := s.AcquireLease(ctx, "other", "b", time.Hour); err != nil || !ok {
		t.Errorf("b could not take another lease: %v, %v", ok, err)
	}
	release("b") // not b's: changes nothing
	if acquire("b", time.Hour) {
		t.Error("b took the lease after releasing what it did not hold")
	}
	release("a")
	if !acquire("b", time.Hour) {
		t.Fatal("b could not take a released lease")
	}

	// b stops renewing: a short ttl runs out, and a takes over.
	if !acquire("b", time.Millisecond) {
		t.Fatal("b could not renew")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !acquire("a", time.Hour) {
		if time.Now().After(deadline) {
			t.Fatal("a never took over the expired lease")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if acquire("b", time.Hour) {
		t.Error("b took the lease back from a")
	}

	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Hour}, {"x", "", time.Hour}, {"x", "a", 0}, {"x", "a", -time.Second}} {
		if _, err := s.AcquireLease(ctx, bad.name, bad.holder, bad.ttl); err == nil {
			t.Errorf("AcquireLease(%q, %q, %s) succeeded", bad.name, bad.holder, bad.ttl)
		}
	}
}

func testLeaseExclusive(t *testing.T, s store.Store) {
	// Holders race for each of several leases: exactly one wins each.
	const leases, holders = 5, 8
	won := make([][]bool, leases)
	errs := make([]error, holders)
	var wg sync.WaitGroup
	for l := range leases {
		won[l] = make([]bool, holders)
		for h := range holders {
			wg.Go(func() {
				ok, err := s.AcquireLease(context.Background(), fmt.Sprintf("lease-%d", l),
					fmt.Sprintf("holder-%d", h), time.Hour)
				if err != nil {
					errs[h] = err
				}
				won[l][h] = ok
			})
		}
	}
	wg.Wait()
	for h, err := range errs {
		if err != nil {
			t.Fatalf("holder %d: %v", h, err)
		}
	}
	for l := range leases {
		if n := countTrue(won[l]); n != 1 {
			t.Errorf("lease %d: %d holders got it, want 1", l, n)
		}
	}
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// sameJSON compares JSON by value: a database may reorder keys.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// serviceCalls are the Service methods, for the Close test.
func serviceCalls(ctx context.Context, s store.Store) map[string]func() error {
	return map[string]func() error{
		"Revision": func() error { _, err := s.Revision(ctx); return err },
		"Add":      func() error { return s.Add(ctx, outEvent("x"), "webhook") },
		"Claim": func() error {
			_, err := s.Claim(ctx, far, 1, time.Minute)
			return err
		},
		"Done":   func() error { return s.Done(ctx, "1") },
		"Retry":  func() error { return s.Retry(ctx, "1", far, "x") },
		"GiveUp": func() error { return s.GiveUp(ctx, "1", "x") },
		"CreateToken": func() error {
			return s.CreateToken(ctx, newToken("x"))
		},
		"TokenByHash": func() error { _, err := s.TokenByHash(ctx, [32]byte{1}); return err },
		"Tokens":      func() error { _, err := s.Tokens(ctx); return err },
		"RevokeToken": func() error { return s.RevokeToken(ctx, "x", base) },
		"AppendAudit": func() error {
			return s.AppendAudit(ctx, store.AuditRecord{Action: "x"})
		},
		"Audit": func() error { _, err := s.Audit(ctx, base, 0); return err },
		"LastReminders": func() error {
			_, err := s.LastReminders(ctx, base, far)
			return err
		},
		"RecordReminder": func() error {
			_, err := s.RecordReminder(ctx, store.Reminded{Serial: "1", Day: base})
			return err
		},
		"AcquireLease": func() error {
			_, err := s.AcquireLease(ctx, "x", "a", time.Minute)
			return err
		},
		"ReleaseLease": func() error { return s.ReleaseLease(ctx, "x", "a") },
	}
}
