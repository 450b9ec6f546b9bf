// Package server is `anchor serve`: it publishes CRLs and CA certificates over
// HTTP and keeps them current.
//
// CRLs are reissued on a schedule (hourly by default, each valid for a day and
// ten minutes) and within a second of any revocation, wherever the revocation
// was made: the server watches the store's revision, which every revocation
// advances, so `anchor revoke` in another process, a GitOps apply or another
// replica all trigger a new CRL. Relying parties fetch the objects at
// /{name}; a follower can hold a request open until a CRL changes (see
// objects).
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/store"
)

// Defaults for Server fields left zero.
const (
	defaultPoll    = 100 * time.Millisecond
	defaultRefresh = time.Hour
	shutdownGrace  = 10 * time.Second
)

// Server serves one CA hierarchy.
type Server struct {
	Publication *ca.Publication
	Store       store.Store
	Log         *slog.Logger
	// Refresh is the schedule for CRLs when nothing is revoked.
	Refresh time.Duration
	// Poll is how often the store revision is checked for revocations.
	Poll time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// RelyingParty, if set, is the Roles Anywhere-compatible relying party
	// (anywhere.Server.Handler) served on the same port: CreateSession, its
	// control plane and STS.
	RelyingParty http.Handler
	// Pushes receive every new issuing CRL.
	Pushes []Push

	objects *objects
	mux     *http.ServeMux
	pushers []*pushLoop
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handler returns the HTTP handler of the server.
func (s *Server) Handler() http.Handler {
	if s.mux != nil {
		return s.mux
	}
	s.objects = newObjects(s.Publication.Publisher, s.now)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.mux.Handle("/", s.objects)
	if s.RelyingParty != nil {
		s.mux.Handle("POST /{$}", s.RelyingParty) // STS
		for _, p := range []string{"/sessions", "/trustanchors", "/trustanchor/",
			"/profiles", "/profile/", "/crls", "/crl/", "/subjects", "/subject/"} {
			s.mux.Handle(p, s.RelyingParty)
		}
	}
	return s.mux
}

// Serve publishes the CA objects, then serves HTTP on l and keeps CRLs current
// until ctx is done, when it stops accepting connections and lets requests in
// flight finish.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	h := s.Handler()
	for _, p := range s.Pushes {
		l := newPushLoop(p, s.log())
		s.pushers = append(s.pushers, l)
		go l.run(ctx)
	}
	if err := s.Publication.Certificates(ctx); err != nil {
		return err
	}
	rev, err := s.Store.Revision(ctx)
	if err != nil {
		return err
	}
	if err := s.publishCRLs(ctx, "start"); err != nil {
		return err
	}

	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		s.refreshLoop(ctx, rev)
	}()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log().Info("shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = hs.Shutdown(sctx)
	<-loopDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// refreshLoop reissues CRLs when the store revision moves and on schedule.
func (s *Server) refreshLoop(ctx context.Context, rev int64) {
	poll, refresh := s.Poll, s.Refresh
	if poll <= 0 {
		poll = defaultPoll
	}
	if refresh <= 0 {
		refresh = defaultRefresh
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	due := s.now().Add(refresh)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur, err := s.Store.Revision(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log().Error("store revision", "err", err)
			}
			continue
		}
		why := ""
		switch {
		case cur != rev:
			why = "revocation"
		case !s.now().Before(due):
			why = "schedule"
		default:
			continue
		}
		if err := s.publishCRLs(ctx, why); err != nil {
			s.log().Error("CRL publication failed", "err", err, "trigger", why)
			continue // retried on the next tick
		}
		rev, due = cur, s.now().Add(refresh)
	}
}

func (s *Server) publishCRLs(ctx context.Context, why string) error {
	start := time.Now()
	crls, err := s.Publication.CRLs(ctx)
	for _, c := range crls {
		s.log().Info("CRL published", "issuer", c.Issuer.Slug,
			"crl_number", c.Record.Number.String(), "entries", c.Entries,
			"bytes", len(c.DER), "next_update", c.Record.NextUpdate.Format(time.RFC3339),
			"trigger", why, "duration", time.Since(start))
	}
	if len(crls) > 0 {
		s.objects.announce()
	}
	for _, c := range crls {
		if c.Issuer == s.Publication.CA.Issuing {
			for _, p := range s.pushers {
				p.offer(c.DER)
			}
		}
	}
	return err
}
