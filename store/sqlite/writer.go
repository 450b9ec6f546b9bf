package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/anchorpki/anchor/store"
)

// insertRequest is what one call hands the group commit: an InsertCertificate,
// with the events to record if its certificate is, or an AppendAudit.
type insertRequest struct {
	args    []any // from certificateArgs; nil for an AppendAudit
	revoked bool  // the certificate is recorded already revoked
	events  []store.Outgoing
	audit   [][]any // from auditArgs
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
		if !s.gate.Enter() {
			return store.ErrClosed
		}
		s.gate.Leave()
		return err
	}
	return s.group.Submit(ctx, &insertRequest{
		args: args, revoked: c.RevokedAt != nil, events: events,
	})
}

// insertAll is the store's groupcommit.WriteFunc. It records the requests of
// reqs in one transaction and sets outcome[i] to nil or store.ErrDuplicateSerial
// for each. If a statement fails it returns the index of its request and the
// error; if beginning or committing the transaction fails it returns -1 and
// the error. Either way nothing is committed.
func (s *Store) insertAll(reqs []*insertRequest, outcome []error) (bad int, err error) {
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
			outcome[i] = fmt.Errorf("store/sqlite: certificate %s: %w",
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
	s.inserted.Add(added)
	return 0, nil
}
