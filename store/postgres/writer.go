package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
// they are committed. Calls that arrive while a commit is running are
// committed together by the next one. If ctx ends first, InsertCertificate
// returns ctx.Err() and the certificate may or may not have been recorded.
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

// insertAll is the store's groupcommit.WriteFunc. It records reqs in one
// transaction, in two round trips: the certificates and audit records as one
// pipeline, then the events of the certificates that were new and the
// revision bump. It sets outcome[i] to nil or store.ErrDuplicateSerial for
// each request. If a statement fails it returns
// the index of its request and the error; if the transaction fails it
// returns -1 and the error. Either way nothing is committed.
func (s *Store) insertAll(reqs []*insertRequest, outcome []error) (bad int, err error) {
	// The group is shared by many callers, so no single caller's context
	// may cancel it.
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return -1, fmt.Errorf("store/postgres: recording certificates: %w", err)
	}
	defer tx.Rollback(ctx)

	// First pipeline: one statement per certificate and audit record.
	type statement struct {
		req  int  // index in reqs, or -1 for the revision bump
		cert bool // the certificate insert of reqs[req]
	}
	var (
		b     = &pgx.Batch{}
		queue []statement
	)
	for i, r := range reqs {
		for _, a := range r.audit {
			b.Queue(insertAuditSQL, a...)
			queue = append(queue, statement{req: i})
		}
		if r.args != nil {
			b.Queue(insertCertificateSQL, r.args...)
			queue = append(queue, statement{req: i, cert: true})
		}
	}
	inserted := make([]bool, len(reqs))
	q, err := runBatch(ctx, tx, b, func(q int, rows int64) {
		if queue[q].cert {
			inserted[queue[q].req] = rows > 0
		}
	})
	if err != nil {
		if q < 0 {
			return -1, fmt.Errorf("store/postgres: recording %d records: %w", len(reqs), err)
		}
		r := queue[q].req
		return r, fmt.Errorf("store/postgres: recording %s: %w", describe(reqs[r]), err)
	}

	// Second pipeline: events of the new certificates, and the revision.
	var (
		now     = time.Now()
		added   uint64
		revoked []string // serial keys of certificates recorded revoked
	)
	b, queue = &pgx.Batch{}, queue[:0]
	for i, r := range reqs {
		if r.args == nil {
			continue
		}
		if !inserted[i] {
			outcome[i] = fmt.Errorf("store/postgres: certificate %s: %w",
				r.args[1], store.ErrDuplicateSerial)
			continue
		}
		added++
		if r.revoked {
			revoked = append(revoked, r.args[0].(string))
		}
		n := queueEvents(b, r.events, now)
		for range n {
			queue = append(queue, statement{req: i})
		}
	}
	if len(revoked) > 0 {
		b.Queue(bumpRevisionSQL, revoked)
		queue = append(queue, statement{req: -1})
	}
	if b.Len() > 0 {
		q, err := runBatch(ctx, tx, b, nil)
		if err != nil {
			if q < 0 || queue[q].req < 0 {
				return -1, fmt.Errorf("store/postgres: recording events: %w", err)
			}
			r := queue[q].req
			return r, fmt.Errorf("store/postgres: recording events of %s: %w",
				describe(reqs[r]), err)
		}
	}

	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("store/postgres: committing %d records: %w", len(reqs), err)
	}
	s.added.Add(added)
	return 0, nil
}

// runBatch sends b in tx and reads every result, calling each, if not nil,
// with the statement's index and rows affected. It returns the index of the
// first statement that failed and its error, or -1 and the error if the
// failure belongs to no statement.
func runBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch,
	each func(q int, rows int64)) (int, error) {
	br := tx.SendBatch(ctx, b)
	for q := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return q, err
		}
		if each != nil {
			each(q, tag.RowsAffected())
		}
	}
	if err := br.Close(); err != nil {
		return -1, err
	}
	return 0, nil
}

// describe names what a request records, for errors.
func describe(r *insertRequest) string {
	if r.args != nil {
		return fmt.Sprintf("certificate %s", r.args[1])
	}
	return fmt.Sprintf("%d audit records", len(r.audit))
}
