package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// flaky fails its first failures calls, then succeeds.
type flaky struct {
	mu       sync.Mutex
	failures int
	calls    []notify.Event
}

func (f *flaky) Notify(_ context.Context, e notify.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, e)
	if len(f.calls) <= f.failures {
		return fmt.Errorf("receiver answered 503 (call %d)", len(f.calls))
	}
	return nil
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// recordingOutbox notes the retry times the dispatcher asks for.
type recordingOutbox struct {
	notify.MemoryOutbox
	mu      sync.Mutex
	retries []time.Time
	dones   int
	claimed chan struct{} // if set, signalled after each Claim
}

func (o *recordingOutbox) Retry(ctx context.Context, id string, next time.Time,
	lastErr string) error {
	o.mu.Lock()
	o.retries = append(o.retries, next)
	o.mu.Unlock()
	return o.MemoryOutbox.Retry(ctx, id, next, lastErr)
}

func (o *recordingOutbox) Done(ctx context.Context, id string) error {
	o.mu.Lock()
	o.dones++
	o.mu.Unlock()
	return o.MemoryOutbox.Done(ctx, id)
}

func (o *recordingOutbox) Claim(ctx context.Context, now time.Time, limit int,
	lease time.Duration) ([]notify.Delivery, error) {
	ds, err := o.MemoryOutbox.Claim(ctx, now, limit, lease)
	if o.claimed != nil {
		select {
		case o.claimed <- struct{}{}:
		default:
		}
	}
	return ds, err
}

func (o *recordingOutbox) lastRetry(t *testing.T) time.Time {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.retries) == 0 {
		t.Fatal("no retry was scheduled")
	}
	return o.retries[len(o.retries)-1]
}

var quiet = slog.New(slog.DiscardHandler)

func runOnce(t *testing.T, d *notify.Dispatcher, want int) {
	t.Helper()
	n, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if n != want {
		t.Fatalf("RunOnce at %s claimed %d deliveries, want %d",
			d.Now().Format(time.RFC3339), n, want)
	}
}

func TestDispatcherRetriesWithGrowingDelaysThenDelivers(t *testing.T) {
	start := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: start}
	box := &recordingOutbox{}
	receiver := &flaky{failures: 8}
	d := &notify.Dispatcher{
		Outbox:    box,
		Notifiers: map[string]notify.Notifier{"webhook": receiver},
		Now:       clock.Now,
		Logger:    quiet,
		BaseDelay: 10 * time.Second,
		MaxDelay:  time.Hour,
		Jitter:    func() float64 { return 0.5 }, // takes a quarter off each delay
	}
	e := notify.Event{ID: "ev-1", Subject: notify.SubjectRevoked, At: start,
		Body: []byte(`{}`)}
	if err := box.Add(context.Background(), e, "webhook"); err != nil {
		t.Fatal(err)
	}

	// Delays 10 s·2^(n-1), capped at 1 h, less a quarter.
	want := []time.Duration{7500 * time.Millisecond, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute}
	for i, delay := range want {
		runOnce(t, d, 1)
		next := box.lastRetry(t)
		if got := next.Sub(clock.Now()); got != delay {
			t.Fatalf("delay after attempt %d = %s, want %s", i+1, got, delay)
		}
		clock.Set(next.Add(-time.Millisecond))
		runOnce(t, d, 0) // not before it is due
		clock.Set(next)
	}

	runOnce(t, d, 1) // the ninth attempt succeeds
	if receiver.count() != 9 || box.dones != 1 {
		t.Fatalf("%d attempts and %d Done, want 9 and 1", receiver.count(), box.dones)
	}
	for _, got := range receiver.calls {
		if got.ID != "ev-1" {
			t.Errorf("attempt delivered event %q, want ev-1", got.ID)
		}
	}
	for _, later := range []time.Duration{time.Minute, 2 * time.Hour, 30 * 24 * time.Hour} {
		clock.Set(clock.Now().Add(later))
		runOnce(t, d, 0)
	}
	if receiver.count() != 9 {
		t.Errorf("event sent again after Done: %d attempts", receiver.count())
	}
}

func TestBackoffCapAndJitterBounds(t *testing.T) {
	for _, jitter := range []float64{0, 0.999999} {
		clock := &fakeClock{now: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)}
		box := &recordingOutbox{}
		d := &notify.Dispatcher{
			Outbox:      box,
			Notifiers:   map[string]notify.Notifier{"w": &flaky{failures: 100}},
			Now:         clock.Now,
			Logger:      quiet,
			BaseDelay:   10 * time.Second,
			MaxDelay:    time.Minute,
			MaxAttempts: 100,
			Jitter:      func() float64 { return jitter },
		}
		_ = box.Add(context.Background(),
			notify.Event{ID: "e", Subject: "s", At: clock.Now(), Body: []byte(`{}`)}, "w")
		full := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second,
			time.Minute, time.Minute, time.Minute}
		for i, delay := range full {
			runOnce(t, d, 1)
			got := box.lastRetry(t).Sub(clock.Now())
			if jitter == 0 && got != delay {
				t.Errorf("jitter 0: delay %d = %s, want %s", i+1, got, delay)
			}
			if jitter > 0 && (got <= delay/2 || got > delay/2+time.Millisecond) {
				t.Errorf("jitter ~1: delay %d = %s, want just over %s", i+1, got, delay/2)
			}
			clock.Set(box.lastRetry(t))
		}
	}
}

func TestBackoffGrowsWithRandomJitter(t *testing.T) {
	// With the default random jitter the delays before the cap still grow: the
	// shortest delay of attempt n+1 is the longest of attempt n.
	clock := &fakeClock{now: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)}
	box := &recordingOutbox{}
	d := &notify.Dispatcher{Outbox: box, Now: clock.Now, Logger: quiet,
		Notifiers: map[string]notify.Notifier{"w": &flaky{failures: 100}}}
	_ = box.Add(context.Background(),
		notify.Event{ID: "e", Subject: "s", At: clock.Now(), Body: []byte(`{}`)}, "w")
	var prev time.Duration
	for i := range 9 { // 10 s · 2^8 = 2560 s, still below the 1 h cap
		runOnce(t, d, 1)
		got := box.lastRetry(t).Sub(clock.Now())
		if got <= prev || got > 10*time.Second<<i {
			t.Errorf("delay %d = %s after %s, want more, at most %s", i+1, got, prev,
				10*time.Second<<i)
		}
		prev = got
		clock.Set(box.lastRetry(t))
	}
	for i := range 5 {
		runOnce(t, d, 1)
		got := box.lastRetry(t).Sub(clock.Now())
		if got <= 30*time.Minute || got > time.Hour {
			t.Errorf("capped delay %d = %s, want in (30m, 1h]", i+1, got)
		}
		clock.Set(box.lastRetry(t))
	}
}

func TestDispatcherGivesUp(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)}
	box := &recordingOutbox{}
	receiver := &flaky{failures: 100}
	d := &notify.Dispatcher{Outbox: box, Now: clock.Now, Logger: quiet, MaxAttempts: 3,
		Notifiers: map[string]notify.Notifier{"webhook": receiver}}
	_ = box.Add(context.Background(), notify.Event{ID: "ev-1", Subject: "s",
		At: clock.Now(), Body: []byte(`{}`)}, "webhook", "gone")

	runOnce(t, d, 2) // "gone" has no notifier: given up at once
	for range 2 {
		clock.Set(box.lastRetry(t))
		runOnce(t, d, 1)
	}
	clock.Set(clock.Now().Add(24 * time.Hour))
	runOnce(t, d, 0)

	if receiver.count() != 3 {
		t.Errorf("%d attempts, want 3", receiver.count())
	}
	given := box.GivenUp()
	if len(given) != 2 {
		t.Fatalf("%d deliveries given up, want 2: %+v", len(given), given)
	}
	for _, g := range given {
		switch g.Notifier {
		case "gone":
			if g.Attempts != 1 || !strings.Contains(g.LastError, `no notifier named "gone"`) {
				t.Errorf("gone: Attempts %d LastError %q", g.Attempts, g.LastError)
			}
		case "webhook":
			if g.Attempts != 3 || g.LastError != "receiver answered 503 (call 3)" {
				t.Errorf("webhook: Attempts %d LastError %q", g.Attempts, g.LastError)
			}
		}
	}
}

func TestDispatcherFanOut(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)}
	box := &recordingOutbox{}
	good, bad := &flaky{}, &flaky{failures: 1}
	d := &notify.Dispatcher{Outbox: box, Now: clock.Now, Logger: quiet,
		Notifiers: map[string]notify.Notifier{"good": good, "bad": bad}}
	_ = box.Add(context.Background(), notify.Event{ID: "ev-1", Subject: "s",
		At: clock.Now(), Body: []byte(`{}`)}, "good", "bad")

	runOnce(t, d, 2)
	clock.Set(box.lastRetry(t))
	runOnce(t, d, 1)
	clock.Set(clock.Now().Add(time.Hour))
	runOnce(t, d, 0)
	if good.count() != 1 || bad.count() != 2 {
		t.Errorf("good got %d calls, bad %d; want 1 and 2", good.count(), bad.count())
	}
}

// cancelling cancels the dispatcher's context from inside an attempt, as a
// shutdown would, and then returns err.
type cancelling struct {
	cancel context.CancelFunc
	err    error
}

func (c *cancelling) Notify(context.Context, notify.Event) error {
	c.cancel()
	return c.err
}

func TestDispatcherShutdownDuringAttempt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantDones int
	}{
		{"delivered", nil, 1},          // recorded although the context ended
		{"failed", errors.New("x"), 0}, // not counted against the receiver
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
			clock := &fakeClock{now: start}
			box := &recordingOutbox{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := &notify.Dispatcher{Outbox: box, Now: clock.Now, Logger: quiet,
				Lease:     time.Minute,
				Notifiers: map[string]notify.Notifier{"w": &cancelling{cancel, tc.err}}}
			_ = box.Add(context.Background(), notify.Event{ID: "ev-1", Subject: "s",
				At: start, Body: []byte(`{}`)}, "w")

			if _, err := d.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if box.dones != tc.wantDones || len(box.retries) != 0 {
				t.Errorf("%d Done and %d Retry, want %d and 0",
					box.dones, len(box.retries), tc.wantDones)
			}
			ds, _ := box.Claim(context.Background(), start.Add(time.Minute), 10, time.Minute)
			if want := 1 - tc.wantDones; len(ds) != want {
				t.Fatalf("after the lease %d deliveries due, want %d", len(ds), want)
			}
			if len(ds) == 1 && ds[0].Attempts != 0 {
				t.Errorf("the interrupted attempt was counted: Attempts %d", ds[0].Attempts)
			}
		})
	}
}

// signal reports each event it is given on a channel.
type signal chan notify.Event

func (s signal) Notify(_ context.Context, e notify.Event) error {
	s <- e
	return nil
}

func TestRunDeliversPromptlyWhenWoken(t *testing.T) {
	box := &recordingOutbox{claimed: make(chan struct{}, 1)}
	got := make(signal, 1)
	d := &notify.Dispatcher{Outbox: box, Logger: quiet, Poll: time.Hour,
		Notifiers: map[string]notify.Notifier{"w": got}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(stopped)
	}()

	// Once Run has looked and found nothing, only Wake can make it look again
	// within the hour.
	waitFor(t, box.claimed, "Run's first claim")
	e := notify.Event{ID: "ev-1", Subject: "s", At: time.Now(), Body: []byte(`{}`)}
	if err := box.Add(ctx, e, "w"); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	select {
	case delivered := <-got:
		if delivered.ID != "ev-1" {
			t.Errorf("delivered %q, want ev-1", delivered.ID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the event was not delivered after Wake")
	}

	cancel()
	waitFor(t, stopped, "Run to return after cancel")
}

func waitFor[T any](t *testing.T, c <-chan T, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestWakeNeverBlocks(t *testing.T) {
	d := &notify.Dispatcher{} // nobody runs it
	for range 1000 {
		d.Wake()
	}
}

func TestDispatcherWithoutOutbox(t *testing.T) {
	if _, err := (&notify.Dispatcher{}).RunOnce(context.Background()); err == nil ||
		!strings.Contains(err.Error(), "Outbox") {
		t.Errorf("RunOnce without an Outbox: %v, want an error naming Outbox", err)
	}
}
