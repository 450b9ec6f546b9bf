package server

import (
	"context"
	"log/slog"
	"time"
)

// CRLPusher sends a new issuing CRL somewhere, e.g. UpdateCrl on a Roles
// Anywhere endpoint (anywhere.Pusher).
type CRLPusher interface {
	Push(ctx context.Context, crl []byte) error
}

// Push is a named CRLPusher.
type Push struct {
	Name   string
	Pusher CRLPusher
}

// pushRetry is the pause after a failed push before the latest CRL is sent
// again.
const pushRetry = 5 * time.Second

// pushLoop delivers the latest CRL to one target. Newer CRLs replace older
// ones not yet sent, so a slow target gets the latest state, not a backlog.
type pushLoop struct {
	push   Push
	latest chan []byte // capacity 1: the newest CRL not yet sent
	log    *slog.Logger
}

func newPushLoop(p Push, log *slog.Logger) *pushLoop {
	return &pushLoop{push: p, latest: make(chan []byte, 1), log: log}
}

// offer queues crl, replacing any CRL still waiting.
func (l *pushLoop) offer(crl []byte) {
	for {
		select {
		case l.latest <- crl:
			return
		default:
		}
		select {
		case <-l.latest:
		default:
		}
	}
}

func (l *pushLoop) run(ctx context.Context) {
	for {
		var crl []byte
		select {
		case <-ctx.Done():
			return
		case crl = <-l.latest:
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := l.push.Pusher.Push(pctx, crl)
		cancel()
		if err != nil {
			l.log.Error("CRL push failed", "target", l.push.Name, "err", err,
				"retry_in", pushRetry)
			l.offer(crl) // unless a newer one arrived meanwhile
			select {
			case <-ctx.Done():
				return
			case <-time.After(pushRetry):
			}
			continue
		}
		l.log.Info("CRL pushed", "target", l.push.Name, "bytes", len(crl),
			"duration", time.Since(start))
	}
}
