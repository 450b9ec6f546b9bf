package sqlite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/anchorpki/anchor/store"
)

// insertRequest is one call waiting for the writer: an InsertCertificate,
// with the events to record if its certificate is, or an AppendAudit.
type insertRequest struct {
	ctx     context.Context
	args    []any // from certificateArgs; nil for an AppendAudit
	revoked bool  // the certificate is recorded already revoked
	events  []store.Outgoing
	audit   [][]any    // from auditArgs
	err     error      // the outcome, set by insertAll
	done    chan error // buffered, so the writer never waits for the caller
}

// InsertCertificate records c, and events in the outbox, and returns once
// they are durable. Calls that arrive while a commit is running are committed
// together by the next one. If ctx ends first, InsertCertificate returns
// ctx.Err() and the certificate may or may not have been recorded.
func (s *Store) InsertCertificate(ctx context.Context, c *store.Certificate,
	events ...store.Outgoing) error {
	args, err := certificateArgs(c, time.Now())
	if err == nil {
		err = store.CheckEvents(events)
	}
	if err != nil {
		if !s.gate.enter() {
			return store.ErrClosed
		}
		s.gate.leave()
		return err
	}
	return s.submit(ctx, &insertRequest{
		ctx: ctx, args: args, revoked: c.RevokedAt != nil, events: events,
		done: make(chan error, 1),
	})
}

// submit hands req to the writer and waits for its answer.
func (s *Store) submit(ctx context.Context, req *insertRequest) error {
	if !s.gate.enter() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		s.gate.leave()
		return err
	}

	select {
	case s.queue <- req:
		s.gate.leave()
	case <-ctx.Done():
		s.gate.leave()
		return ctx.Err()
	}

	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer is the goroutine that commits certificates. It takes one request,
// then every other request already queued (up to maxBatch), commits them in
// one transaction and answers each. It returns when the queue is closed and
// empty, so Close drains it.
func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*insertRequest, 0, maxBatch)
	for first := range s.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.committing.Store(int64(len(batch)))
		s.commitBatch(batch)
		s.committing.Store(0)
	}
}

// commitBatch records the requests of batch and answers each of them.
func (s *Store) commitBatch(batch []*insertRequest) {
	// Callers that have given up are answered without recording anything.
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}

	for len(live) > 0 {
		bad, err := s.insertAll(live)
		switch {
		case err == nil:
			for _, r := range live {
				r.done <- r.err
			}
			return
		case bad < 0: // the transaction itself failed: so does every insert
			for _, r := range live {
				r.done <- err
			}
			return
		}
		// One certificate failed for a reason of its own, which aborted
		// the group: fail only its caller and try the others again.
		live[bad].done <- err
		live = slices.Delete(live, bad, bad+1)
	}
}

// insertAll records the requests of reqs in one transaction and sets the err
// of each to nil or store.ErrDuplicateSerial. If a statement fails it returns
// the index of its request and the error; if beginning or committing the
// transaction fails it returns -1 and the error. Either way nothing is
// committed.
func (s *Store) insertAll(reqs []*insertRequest) (bad int, err error) {
	// The group is shared by many callers, so no single caller's context
	// may cancel it.
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("store/sqlite: recording certificate: %w", err)
	}
	defer tx.Rollback()

	var (
		stmt      = tx.StmtContext(ctx, s.insert)
		outbox    = tx.StmtContext(ctx, s.outboxInsert)
		audit     = tx.StmtContext(ctx, s.auditInsert)
		now       = time.Now()
		added     uint64
		revisions bool
	)
	for i, r := range reqs {
		r.err = nil
		for _, a := range r.audit {
			if _, err := audit.ExecContext(ctx, a...); err != nil {
				return i, fmt.Errorf("store/sqlite: recording audit: %w", err)
			}
		}
		if r.args == nil {
			continue
		}
		res, err := stmt.ExecContext(ctx, r.args...)
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err == nil && n > 0 {
			err = addEvents(ctx, outbox, r.events, now)
		}
		if err != nil {
			return i, fmt.Errorf("store/sqlite: recording certificate %s: %w", r.args[1], err)
		}
		if n == 0 {
			r.err = fmt.Errorf("store/sqlite: certificate %s: %w",
				r.args[1], store.ErrDuplicateSerial)
		}
		revisions = revisions || n > 0 && r.revoked
		added += uint64(n)
	}
	if revisions {
		if err := bumpRevision(ctx, tx); err != nil {
			return -1, fmt.Errorf("store/sqlite: recording revoked certificates: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("store/sqlite: committing %d records: %w", len(reqs), err)
	}
	s.commits.Add(1)
	s.inserted.Add(added)
	return 0, nil
}
