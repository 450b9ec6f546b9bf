package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrUnknownDelivery is returned by Outbox methods given an id they never
// handed out.
var ErrUnknownDelivery = errors.New("notify: unknown delivery")

// Delivery is one event to be delivered to one notifier.
type Delivery struct {
	// ID names the delivery in its outbox; Done, Retry and GiveUp take it.
	ID string
	// Notifier is the name of the notifier, a key of Dispatcher.Notifiers.
	Notifier string
	Event    Event
	// Attempts counts the failed attempts so far (Retry calls).
	Attempts int
	// LastError is the error of the last failed attempt.
	LastError string
}

// Outbox holds the deliveries still to be made. Implementations are safe for
// concurrent use, also by several processes sharing one database, and pass
// notifytest.RunOutbox. The rules:
//
//   - Add records one delivery of e per notifier name, due at e.At. Adding the
//     same event id for the same notifier again changes nothing. The store's
//     own outbox also records deliveries inside the transaction of the change
//     they announce; Add is the stand-alone form.
//   - Claim returns up to limit deliveries due at now (due time at or before
//     now), the longest-due first, and leases them: each is next due at
//     now+lease, so two claimers never get the same delivery, and a claimer
//     that dies leaves its deliveries to be claimed again once the lease ends.
//   - Done marks a delivery delivered: it is never returned again.
//   - Retry records a failed attempt: Attempts grows by one, LastError is
//     kept, and the delivery is next due at next.
//   - GiveUp records a last failed attempt and stops delivery; the outbox keeps
//     the delivery and its error for an operator.
//   - Done, Retry and GiveUp of a delivery that is already done or given up
//     change nothing and return nil (a worker whose lease ran out may report
//     late); of an id never handed out they return ErrUnknownDelivery.
type Outbox interface {
	Add(ctx context.Context, e Event, notifiers ...string) error
	Claim(ctx context.Context, now time.Time, limit int,
		lease time.Duration) ([]Delivery, error)
	Done(ctx context.Context, id string) error
	Retry(ctx context.Context, id string, next time.Time, lastErr string) error
	GiveUp(ctx context.Context, id string, lastErr string) error
}

// Defaults of the Dispatcher's settings.
const (
	DefaultBaseDelay   = 10 * time.Second
	DefaultMaxDelay    = time.Hour
	DefaultMaxAttempts = 60 // with the delays above, about two days of trying
	DefaultTimeout     = 30 * time.Second
	DefaultPoll        = 10 * time.Second
	DefaultBatchSize   = 32
	DefaultWorkers     = 4
)

// Dispatcher delivers what the outbox holds to the named notifiers. Its zero
// settings take the defaults above; Outbox and Notifiers are required.
//
// After a failed attempt n (counting from 1) the next one is due after
// BaseDelay·2^(n-1), at most MaxDelay, of which a random part up to one half is
// taken off, so that receivers coming back are not hit by every sender at once.
// Within the cap the delays never shrink from one attempt to the next.
type Dispatcher struct {
	Outbox    Outbox
	Notifiers map[string]Notifier
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets one line per attempt; nil means slog.Default().
	Logger *slog.Logger

	BaseDelay   time.Duration
	MaxDelay    time.Duration
	MaxAttempts int           // attempts before GiveUp
	Timeout     time.Duration // per attempt
	// Lease is how long a claimed delivery stays with this dispatcher before
	// another may claim it; zero means Timeout plus one minute.
	Lease     time.Duration
	Poll      time.Duration // how often Run looks for due deliveries unwoken
	BatchSize int
	Workers   int // attempts made at the same time
	// Jitter returns a number in [0, 1); nil means math/rand/v2.Float64.
	Jitter func() float64

	once sync.Once
	wake chan struct{}
}

// Wake makes Run look for due deliveries now rather than at its next poll.
// Producers call it after writing to the outbox. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wakeChan() <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (d *Dispatcher) wakeChan() chan struct{} {
	d.once.Do(func() { d.wake = make(chan struct{}, 1) })
	return d.wake
}

// Run delivers due deliveries until ctx is done. It keeps going through
// outbox and receiver errors, which it logs.
func (d *Dispatcher) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for ctx.Err() == nil {
		n, next, err := d.runOnce(ctx)
		if err != nil {
			d.logger().LogAttrs(ctx, slog.LevelError, "notification outbox failed",
				slog.String("error", err.Error()))
		} else if n == d.batchSize() {
			continue // a full batch: more may be due
		}

		wait := or(d.Poll, DefaultPoll)
		if !next.IsZero() {
			wait = max(min(wait, next.Sub(d.now())), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-d.wakeChan():
		case <-timer.C:
		}
	}
}

// RunOnce claims the deliveries due now and makes one attempt at each. It
// returns how many it claimed, and an error only if claiming failed; failed
// attempts are recorded in the outbox and logged.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	n, _, err := d.runOnce(ctx)
	return n, err
}

// runOnce is RunOnce that also returns the earliest retry it scheduled.
func (d *Dispatcher) runOnce(ctx context.Context) (int, time.Time, error) {
	if d.Outbox == nil {
		return 0, time.Time{}, errors.New("notify: the Dispatcher has no Outbox")
	}
	lease := d.Lease
	if lease <= 0 {
		lease = or(d.Timeout, DefaultTimeout) + time.Minute
	}
	batch, err := d.Outbox.Claim(ctx, d.now(), d.batchSize(), lease)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("notify: claiming deliveries: %w", err)
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first time.Time
		work  = make(chan Delivery)
	)
	for range min(or(d.Workers, DefaultWorkers), len(batch)) {
		wg.Go(func() {
			for dl := range work {
				next := d.attempt(ctx, dl)
				mu.Lock()
				if !next.IsZero() && (first.IsZero() || next.Before(first)) {
					first = next
				}
				mu.Unlock()
			}
		})
	}
	for _, dl := range batch {
		work <- dl
	}
	close(work)
	wg.Wait()
	return len(batch), first, nil
}

// attempt delivers dl once and records the outcome. It returns when the
// delivery is next due if it was scheduled for a retry.
func (d *Dispatcher) attempt(ctx context.Context, dl Delivery) time.Time {
	log := d.logger().With(slog.String("notifier", dl.Notifier),
		slog.String("event_id", dl.Event.ID), slog.String("event", dl.Event.Subject))
	// Bookkeeping must happen even when ctx ends during the attempt, or a
	// delivered event would be sent again after the lease.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()

	n := d.Notifiers[dl.Notifier]
	if n == nil {
		msg := fmt.Sprintf("no notifier named %q is configured", dl.Notifier)
		err := d.Outbox.GiveUp(bctx, dl.ID, msg)
		record(log, slog.LevelError, "notification given up", err, slog.String("error", msg))
		return time.Time{}
	}

	actx, cancelAttempt := context.WithTimeout(ctx, or(d.Timeout, DefaultTimeout))
	err := n.Notify(actx, dl.Event)
	cancelAttempt()
	attempts := dl.Attempts + 1
	switch {
	case err == nil:
		record(log, slog.LevelInfo, "notification delivered", d.Outbox.Done(bctx, dl.ID),
			slog.Int("attempt", attempts))
		return time.Time{}
	case ctx.Err() != nil:
		// Shutting down: not the receiver's fault. The lease brings it back.
		return time.Time{}
	case attempts >= or(d.MaxAttempts, DefaultMaxAttempts):
		record(log, slog.LevelError, "notification given up",
			d.Outbox.GiveUp(bctx, dl.ID, err.Error()),
			slog.Int("attempt", attempts), slog.String("error", err.Error()))
		return time.Time{}
	}
	delay := d.backoff(attempts)
	next := d.now().Add(delay)
	record(log, slog.LevelWarn, "notification failed",
		d.Outbox.Retry(bctx, dl.ID, next, err.Error()),
		slog.Int("attempt", attempts), slog.Duration("retry_in", delay),
		slog.String("error", err.Error()))
	return next
}

// record logs the outcome of an attempt, or the outbox error that kept it
// from being recorded.
func record(log *slog.Logger, level slog.Level, msg string, outboxErr error,
	attrs ...slog.Attr) {
	if outboxErr != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("outbox_error", outboxErr.Error()))
	}
	log.LogAttrs(context.Background(), level, msg, attrs...)
}

// backoff is the delay after failed attempt number attempts (from 1).
func (d *Dispatcher) backoff(attempts int) time.Duration {
	maxDelay := or(d.MaxDelay, DefaultMaxDelay)
	delay := or(d.BaseDelay, DefaultBaseDelay)
	for i := 1; i < attempts && delay < maxDelay; i++ {
		delay *= 2
	}
	delay = min(delay, maxDelay)

	jitter := rand.Float64
	if d.Jitter != nil {
		jitter = d.Jitter
	}
	j := min(max(jitter(), 0), 1)
	return delay - time.Duration(j*float64(delay/2))
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func (d *Dispatcher) batchSize() int { return or(d.BatchSize, DefaultBatchSize) }

// or returns v, or def when v is zero or negative.
func or[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
