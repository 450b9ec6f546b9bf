// Package notifytest holds the behaviour suite every notify.Outbox must pass:
// notify.MemoryOutbox and the outboxes of the SQLite and PostgreSQL stores run
// the same tests, so the Dispatcher can rely on the same rules from all of
// them (see the notify.Outbox documentation for those rules).
package notifytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// Times in the suite are whole seconds, in UTC, so that any database keeps
// them exactly; Event.At additionally carries microseconds, the precision an
// outbox must keep for it.
var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

const lease = time.Minute

// RunOutbox runs the behaviour suite. newOutbox must return an empty outbox
// each time it is called.
func RunOutbox(t *testing.T, newOutbox func() notify.Outbox) {
	tests := []struct {
		name string
		f    func(*testing.T, notify.Outbox)
	}{
		{"AddThenClaim", testAddThenClaim},
		{"AddIsIdempotent", testAddIsIdempotent},
		{"AddRefusesBadEvents", testAddRefusesBadEvents},
		{"NotDueNotClaimed", testNotDueNotClaimed},
		{"ClaimLeases", testClaimLeases},
		{"ClaimOrderAndLimit", testClaimOrderAndLimit},
		{"DoneIsFinal", testDoneIsFinal},
		{"RetryReschedules", testRetryReschedules},
		{"GiveUpIsFinal", testGiveUpIsFinal},
		{"UnknownID", testUnknownID},
		{"ConcurrentClaims", testConcurrentClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newOutbox()) })
	}
}

func event(id string, at time.Time) notify.Event {
	return notify.Event{
		ID:      id,
		Subject: notify.SubjectRevoked,
		At:      at,
		Body: json.RawMessage(`{"CommonName":"host.example.com","SerialNumber":"12345",` +
			`"Revoked":"2025-03-10 12:00:00","Subject":"CN=host.example.com"}`),
	}
}

func add(t *testing.T, o notify.Outbox, e notify.Event, notifiers ...string) {
	t.Helper()
	if err := o.Add(context.Background(), e, notifiers...); err != nil {
		t.Fatalf("Add(%s, %v): %v", e.ID, notifiers, err)
	}
}

func claim(t *testing.T, o notify.Outbox, now time.Time, limit int) []notify.Delivery {
	t.Helper()
	ds, err := o.Claim(context.Background(), now, limit, lease)
	if err != nil {
		t.Fatalf("Claim(%s, %d): %v", now.Format(time.RFC3339), limit, err)
	}
	return ds
}

// keys lists "eventID/notifier" of each delivery, in order.
func keys(ds []notify.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Event.ID + "/" + d.Notifier
	}
	return out
}

func wantKeys(t *testing.T, what string, ds []notify.Delivery, want ...string) {
	t.Helper()
	got := keys(ds)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got deliveries %q, want %q", what, got, want)
	}
}

func testAddThenClaim(t *testing.T, o notify.Outbox) {
	e := event("ev-1", t0.Add(123456*time.Microsecond))
	add(t, o, e, "webhook", "slack")

	ds := claim(t, o, e.At, 10)
	got := keys(ds)
	sort.Strings(got)
	if want := []string{"ev-1/slack", "ev-1/webhook"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("claimed %q, want %q", got, want)
	}
	for _, d := range ds {
		if d.ID == "" {
			t.Errorf("delivery %s/%s has an empty ID", d.Event.ID, d.Notifier)
		}
		if d.Attempts != 0 || d.LastError != "" {
			t.Errorf("new delivery has Attempts %d, LastError %q; want 0, empty",
				d.Attempts, d.LastError)
		}
		if d.Event.ID != e.ID || d.Event.Subject != e.Subject {
			t.Errorf("event came back as %q %q, want %q %q",
				d.Event.ID, d.Event.Subject, e.ID, e.Subject)
		}
		if !d.Event.At.Equal(e.At) {
			t.Errorf("event At came back as %s, want %s", d.Event.At, e.At)
		}
		if !sameJSON(d.Event.Body, e.Body) {
			t.Errorf("event Body came back as %s, want %s", d.Event.Body, e.Body)
		}
	}
	if ds[0].ID == ds[1].ID {
		t.Errorf("both deliveries have ID %q", ds[0].ID)
	}
}

// sameJSON compares JSON by value: a database may reorder keys (jsonb).
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func testAddIsIdempotent(t *testing.T, o notify.Outbox) {
	e := event("ev-1", t0)
	add(t, o, e, "webhook")
	add(t, o, e, "webhook", "slack")
	add(t, o, e)

	got := keys(claim(t, o, t0, 10))
	sort.Strings(got)
	if want := []string{"ev-1/slack", "ev-1/webhook"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("claimed %q, want %q", got, want)
	}
}

func testAddRefusesBadEvents(t *testing.T, o notify.Outbox) {
	good := event("ev-ok", t0)
	bad := map[string]func(*notify.Event){
		"empty ID":      func(e *notify.Event) { e.ID = "" },
		"empty Subject": func(e *notify.Event) { e.Subject = "" },
		"zero At":       func(e *notify.Event) { e.At = time.Time{} },
		"invalid Body":  func(e *notify.Event) { e.Body = json.RawMessage(`{"a":`) },
	}
	for name, spoil := range bad {
		e := good
		e.ID = "ev-" + name
		spoil(&e)
		if err := o.Add(context.Background(), e, "webhook"); err == nil {
			t.Errorf("Add of an event with %s succeeded", name)
		}
	}
	if err := o.Add(context.Background(), good, ""); err == nil {
		t.Errorf("Add with an empty notifier name succeeded")
	}
	wantKeys(t, "after refused adds", claim(t, o, t0.Add(time.Hour), 10))
}

func testNotDueNotClaimed(t *testing.T, o notify.Outbox) {
	add(t, o, event("ev-1", t0), "webhook")
	wantKeys(t, "claim before the event's time", claim(t, o, t0.Add(-time.Second), 10))
	wantKeys(t, "claim at the event's time", claim(t, o, t0, 10), "ev-1/webhook")
}

func testClaimLeases(t *testing.T, o notify.Outbox) {
	add(t, o, event("ev-1", t0), "webhook")
	wantKeys(t, "first claim", claim(t, o, t0, 10), "ev-1/webhook")
	wantKeys(t, "second claim, same time", claim(t, o, t0, 10))
	wantKeys(t, "claim just before the lease ends",
		claim(t, o, t0.Add(lease-time.Second), 10))
	ds := claim(t, o, t0.Add(lease), 10)
	wantKeys(t, "claim when the lease ends", ds, "ev-1/webhook")
	if ds[0].Attempts != 0 {
		t.Errorf("an expired lease counted as an attempt: Attempts %d", ds[0].Attempts)
	}
}

func testClaimOrderAndLimit(t *testing.T, o notify.Outbox) {
	add(t, o, event("ev-c", t0.Add(2*time.Second)), "webhook")
	add(t, o, event("ev-a", t0), "webhook")
	add(t, o, event("ev-b", t0.Add(time.Second)), "webhook")
	now := t0.Add(time.Minute)
	wantKeys(t, "first claim", claim(t, o, now, 2), "ev-a/webhook", "ev-b/webhook")
	wantKeys(t, "second claim", claim(t, o, now, 2), "ev-c/webhook")
	wantKeys(t, "third claim", claim(t, o, now, 2))
}

func testDoneIsFinal(t *testing.T, o notify.Outbox) {
	ctx := context.Background()
	add(t, o, event("ev-1", t0), "webhook")
	ds := claim(t, o, t0, 10)
	wantKeys(t, "claim", ds, "ev-1/webhook")
	id := ds[0].ID

	if err := o.Done(ctx, id); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if err := o.Done(ctx, id); err != nil {
		t.Errorf("second Done: %v, want nil", err)
	}
	wantKeys(t, "claim when the lease would end", claim(t, o, t0.Add(lease), 10))

	// A worker whose lease ran out reports a failure late.
	if err := o.Retry(ctx, id, t0.Add(2*lease), "late"); err != nil {
		t.Errorf("Retry after Done: %v, want nil", err)
	}
	wantKeys(t, "claim after a late Retry", claim(t, o, t0.Add(2*lease), 10))
	if err := o.GiveUp(ctx, id, "late"); err != nil {
		t.Errorf("GiveUp after Done: %v, want nil", err)
	}
	add(t, o, event("ev-1", t0), "webhook")
	for _, at := range []time.Duration{2 * time.Hour, 400 * 24 * time.Hour} {
		wantKeys(t, fmt.Sprintf("claim %s after Done", at), claim(t, o, t0.Add(at), 10))
	}
}

func testRetryReschedules(t *testing.T, o notify.Outbox) {
	ctx := context.Background()
	add(t, o, event("ev-1", t0), "webhook")
	id := claim(t, o, t0, 10)[0].ID

	next := t0.Add(10 * time.Minute) // beyond the lease
	if err := o.Retry(ctx, id, next, "webhook: receiver answered 503"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	wantKeys(t, "claim before next", claim(t, o, next.Add(-time.Second), 10))
	ds := claim(t, o, next, 10)
	wantKeys(t, "claim at next", ds, "ev-1/webhook")
	if ds[0].ID != id || ds[0].Attempts != 1 ||
		ds[0].LastError != "webhook: receiver answered 503" {
		t.Errorf("after Retry got ID %q Attempts %d LastError %q; "+
			"want %q 1 \"webhook: receiver answered 503\"",
			ds[0].ID, ds[0].Attempts, ds[0].LastError, id)
	}

	// A retry due sooner than the lease is honoured too.
	soon := next.Add(time.Second)
	if err := o.Retry(ctx, id, soon, "second failure"); err != nil {
		t.Fatalf("second Retry: %v", err)
	}
	ds = claim(t, o, soon, 10)
	wantKeys(t, "claim after second Retry", ds, "ev-1/webhook")
	if ds[0].Attempts != 2 || ds[0].LastError != "second failure" {
		t.Errorf("after two Retries got Attempts %d LastError %q; want 2 \"second failure\"",
			ds[0].Attempts, ds[0].LastError)
	}
}

func testGiveUpIsFinal(t *testing.T, o notify.Outbox) {
	ctx := context.Background()
	add(t, o, event("ev-1", t0), "webhook", "slack")
	ds := claim(t, o, t0, 10)
	for _, d := range ds {
		if d.Notifier == "webhook" {
			if err := o.GiveUp(ctx, d.ID, "no notifier"); err != nil {
				t.Fatalf("GiveUp: %v", err)
			}
		}
	}
	wantKeys(t, "claim after GiveUp", claim(t, o, t0.Add(24*time.Hour), 10), "ev-1/slack")
}

func testUnknownID(t *testing.T, o notify.Outbox) {
	ctx := context.Background()
	add(t, o, event("ev-1", t0), "webhook")
	const id = "no-such-delivery"
	for name, err := range map[string]error{
		"Done":   o.Done(ctx, id),
		"Retry":  o.Retry(ctx, id, t0, "x"),
		"GiveUp": o.GiveUp(ctx, id, "x"),
	} {
		if !errors.Is(err, notify.ErrUnknownDelivery) {
			t.Errorf("%s of an unknown id: %v, want ErrUnknownDelivery", name, err)
		}
	}
	wantKeys(t, "claim", claim(t, o, t0, 10), "ev-1/webhook")
}

func testConcurrentClaims(t *testing.T, o notify.Outbox) {
	const events, claimers = 40, 8
	for i := range events {
		add(t, o, event(fmt.Sprintf("ev-%02d", i), t0), "webhook")
	}

	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for range claimers {
		wg.Go(func() {
			// Bounded, so that an outbox that hands deliveries out again fails
			// the test rather than hanging it.
			for range events {
				ds, err := o.Claim(context.Background(), t0, 3, lease)
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, k := range keys(ds) {
					seen[k]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	if len(seen) != events {
		t.Errorf("concurrent claimers got %d distinct deliveries, want %d", len(seen), events)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s was claimed %d times", k, n)
		}
	}
}
