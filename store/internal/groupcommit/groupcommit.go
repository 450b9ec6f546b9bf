// Package groupcommit is the backend-independent half of the stores' group
// commit: callers queue requests and wait, and writer goroutines take one
// request plus whatever else is already queued, record the lot in one
// transaction through a function the backend supplies, and answer each
// caller. The backend keeps only its SQL: how a group is written and which
// request made it fail.
//
// The promises are those the stores make to their callers:
//
//   - Submit returns only once its request's transaction has committed, or
//     with the error that request alone caused, or with ctx.Err() if ctx ends
//     first (the request may then still be recorded).
//   - A request whose caller has given up before its group is written is
//     answered with ctx.Err() and never written.
//   - When one request fails for a reason of its own, only its caller gets
//     the error; the rest of its group is written again without it.
//   - Close waits for the calls admitted by the Gate, writes every request
//     already queued, and then Submit returns store.ErrClosed.
package groupcommit

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/anchorpki/anchor/store"
)

// WriteFunc records reqs in one transaction. If the transaction commits it
// returns (0, nil) and has set outcome[i], which is nil on entry, to the
// answer for reqs[i]: nil, or an error of that request alone that did not
// abort the transaction (such as store.ErrDuplicateSerial). If the statement
// of one request fails it returns that request's index and the error; if the
// transaction as a whole fails it returns -1 and the error. In both of the
// last cases nothing may have been committed.
type WriteFunc[R any] func(reqs []R, outcome []error) (bad int, err error)

// Queue hands requests of type R from callers to writer goroutines that
// commit them in groups. Create it with Start and stop it with Close.
type Queue[R any] struct {
	gate     *Gate
	write    WriteFunc[R]
	maxBatch int
	queue    chan *waiting[R]
	wg       sync.WaitGroup // the writer goroutines

	commits    atomic.Uint64
	committing atomic.Int64 // requests in the groups being written
}

// waiting is one queued request and the caller waiting for its answer.
type waiting[R any] struct {
	ctx  context.Context
	req  R
	done chan error // buffered, so a writer never waits for the caller
}

// Stats counts the work of a Queue's writers.
type Stats struct {
	Commits    uint64 // groups committed since Start
	Queued     int    // requests waiting for a writer
	Committing int    // requests in the groups being written
}

// Start starts writers goroutines that commit groups of at most maxBatch
// requests with write. Submit admits callers through gate, and Close closes
// it; gate is normally the one every call of the store enters. Start treats
// writers and maxBatch below 1 as 1.
func Start[R any](gate *Gate, writers, maxBatch int, write WriteFunc[R]) *Queue[R] {
	maxBatch = max(maxBatch, 1)
	q := &Queue[R]{
		gate:     gate,
		write:    write,
		maxBatch: maxBatch,
		queue:    make(chan *waiting[R], maxBatch),
	}
	for range max(writers, 1) {
		q.wg.Add(1)
		go q.run()
	}
	return q
}

// Submit queues req and waits until its group is written. It returns the
// request's outcome, store.ErrClosed once the queue is closed, or ctx.Err()
// if ctx ends first, in which case req may or may not have been recorded.
func (q *Queue[R]) Submit(ctx context.Context, req R) error {
	if !q.gate.Enter() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		q.gate.Leave()
		return err
	}
	w := &waiting[R]{ctx: ctx, req: req, done: make(chan error, 1)}
	select {
	case q.queue <- w:
		q.gate.Leave()
	case <-ctx.Done():
		q.gate.Leave()
		return ctx.Err()
	}

	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close shuts the gate, waiting for the calls in progress, then lets the
// writers write every request already queued and waits for them to return.
// It reports false, and does nothing, if the gate was already closed.
func (q *Queue[R]) Close() bool {
	if !q.gate.Close() {
		return false
	}
	close(q.queue)
	q.wg.Wait()
	return true
}

// Stats returns the queue's counters.
func (q *Queue[R]) Stats() Stats {
	return Stats{
		Commits:    q.commits.Load(),
		Queued:     len(q.queue),
		Committing: int(q.committing.Load()),
	}
}

// run is a writer goroutine. It takes one request, then every other request
// already queued (up to maxBatch), writes them as one group and answers each.
// It returns when the queue is closed and empty, so Close drains it.
func (q *Queue[R]) run() {
	defer q.wg.Done()
	var (
		batch   = make([]*waiting[R], 0, q.maxBatch)
		reqs    = make([]R, 0, q.maxBatch)
		outcome = make([]error, q.maxBatch)
	)
	for first := range q.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < q.maxBatch {
			select {
			case w, ok := <-q.queue:
				if !ok {
					break fill
				}
				batch = append(batch, w)
			default:
				break fill
			}
		}
		n := int64(len(batch))
		q.committing.Add(n)
		q.commit(batch, reqs, outcome)
		q.committing.Add(-n)
		clear(reqs[:cap(reqs)]) // let the requests be collected
	}
}

// commit writes the requests of batch and answers each of them. reqs and
// outcome are scratch space with room for the whole batch.
func (q *Queue[R]) commit(batch []*waiting[R], reqs []R, outcome []error) {
	// Callers that have given up are answered without writing anything.
	live := batch[:0]
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.done <- err
			continue
		}
		live = append(live, w)
	}

	for len(live) > 0 {
		reqs = reqs[:0]
		for _, w := range live {
			reqs = append(reqs, w.req)
		}
		out := outcome[:len(live)]
		clear(out)
		bad, err := q.write(reqs, out)
		switch {
		case err == nil:
			q.commits.Add(1)
			for i, w := range live {
				w.done <- out[i]
			}
			return
		case bad < 0 || bad >= len(live):
			// The transaction itself failed: so does every request.
			for _, w := range live {
				w.done <- err
			}
			return
		}
		// One request failed for a reason of its own, which aborted the
		// group: fail only its caller and write the others again.
		live[bad].done <- err
		live = slices.Delete(live, bad, bad+1)
	}
}
