package notify

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryOutbox is an Outbox held in memory, for tests. It loses everything
// when the process stops and keeps every delivery, done or not, for as long as
// it lives, so a server uses the store's outbox instead. It passes
// notifytest.RunOutbox. The zero value is ready to use.
type MemoryOutbox struct {
	mu    sync.Mutex
	seq   int
	items map[string]*memoryItem
}

type memoryItem struct {
	d     Delivery
	due   time.Time
	seq   int // insertion order, to break ties between equal due times
	state memoryState
}

type memoryState int

const (
	memoryPending memoryState = iota
	memoryDone
	memoryGivenUp
)

// Add implements Outbox.
func (o *MemoryOutbox) Add(ctx context.Context, e Event, notifiers ...string) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if slices.Contains(notifiers, "") {
		return fmt.Errorf("notify: event %s: empty notifier name", e.ID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.items == nil {
		o.items = make(map[string]*memoryItem)
	}
	for _, name := range notifiers {
		id := e.ID + "/" + name
		if _, ok := o.items[id]; ok {
			continue
		}
		o.seq++
		e := e
		e.Body = bytes.Clone(e.Body)
		o.items[id] = &memoryItem{
			d:   Delivery{ID: id, Notifier: name, Event: e},
			due: e.At,
			seq: o.seq,
		}
	}
	return nil
}

// Claim implements Outbox.
func (o *MemoryOutbox) Claim(ctx context.Context, now time.Time, limit int,
	lease time.Duration) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("notify: claim limit %d must be positive", limit)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	var due []*memoryItem
	for _, it := range o.items {
		if it.state == memoryPending && !it.due.After(now) {
			due = append(due, it)
		}
	}
	slices.SortFunc(due, func(a, b *memoryItem) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	if len(due) > limit {
		due = due[:limit]
	}
	out := make([]Delivery, len(due))
	for i, it := range due {
		it.due = now.Add(lease)
		out[i] = it.d
		out[i].Event.Body = bytes.Clone(it.d.Event.Body)
	}
	return out, nil
}

// Done implements Outbox.
func (o *MemoryOutbox) Done(ctx context.Context, id string) error {
	return o.update(ctx, id, func(it *memoryItem) { it.state = memoryDone })
}

// Retry implements Outbox.
func (o *MemoryOutbox) Retry(ctx context.Context, id string, next time.Time,
	lastErr string) error {
	return o.update(ctx, id, func(it *memoryItem) {
		it.d.Attempts++
		it.d.LastError = lastErr
		it.due = next
	})
}

// GiveUp implements Outbox.
func (o *MemoryOutbox) GiveUp(ctx context.Context, id string, lastErr string) error {
	return o.update(ctx, id, func(it *memoryItem) {
		it.d.Attempts++
		it.d.LastError = lastErr
		it.state = memoryGivenUp
	})
}

// GivenUp returns the deliveries that were given up, oldest first, for an
// operator or a test to inspect.
func (o *MemoryOutbox) GivenUp() []Delivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	var items []*memoryItem
	for _, it := range o.items {
		if it.state == memoryGivenUp {
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b *memoryItem) int { return a.seq - b.seq })
	out := make([]Delivery, len(items))
	for i, it := range items {
		out[i] = it.d
	}
	return out
}

// update applies f to a pending delivery; finished ones are left alone.
func (o *MemoryOutbox) update(ctx context.Context, id string, f func(*memoryItem)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.items[id]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownDelivery, id)
	}
	if it.state == memoryPending {
		f(it)
	}
	return nil
}
