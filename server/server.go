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
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/notify"
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
	// API, if set, is mounted at /v1/, /metrics and /readyz, and hears of
	// every CRL published (CRLPublisher).
	API interface {
		Handler() http.Handler
		CRLPublished(issuer string, number *big.Int, thisUpdate, nextUpdate time.Time,
			entries int)
	}
	// Dispatcher, if set, delivers the outbox's events.
	Dispatcher *notify.Dispatcher
	// ReminderDays are the days before expiry on which a warning goes out;
	// nil disables expiry reminders.
	ReminderDays []int
	// Replica names this process among replicas sharing the store; empty
	// means a random name. Leases held under it decide which replica
	// publishes CRLs and sends reminders.
	Replica string
	// TLSListener, if set, serves everything over TLS with TLSConfig (whose
	// certificate must be set), and the plain listener then serves only the
	// published objects.
	TLSListener net.Listener
	TLSConfig   *tls.Config
	// LeaseTTL bounds how long a dead replica keeps its leases (default 10 s).
	LeaseTTL time.Duration

	objects *objects
	mux     *http.ServeMux
	pushers []*pushLoop
	leader  atomic.Bool // holds the CRL lease
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
	if s.API != nil {
		h := s.API.Handler()
		s.mux.Handle("/v1/", h)
		s.mux.Handle("GET /metrics", h)
		s.mux.Handle("GET /readyz", h)
	}
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
	if s.Replica == "" {
		var b [6]byte
		rand.Read(b[:])
		s.Replica = "replica-" + hex.EncodeToString(b[:])
	}
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
	leader, err := s.lease(ctx)
	if err != nil {
		return err
	}
	s.leader.Store(leader)
	if leader {
		if err := s.publishCRLs(ctx, "start"); err != nil {
			return err
		}
	}
	if s.Dispatcher != nil {
		go s.Dispatcher.Run(ctx)
	}
	if s.ReminderDays != nil {
		go s.reminderLoop(ctx)
	}

	// Requests do not inherit ctx: on shutdown, requests in flight finish.
	plain := h
	var servers []*http.Server
	errc := make(chan error, 2)
	if s.TLSListener != nil {
		// Over plain HTTP only what relying parties fetch: CRLs and CA
		// certificates (RFC 5280 section 4.2.1.13 expects http URLs there).
		plain = s.publicationOnly()
		ts := newHTTPServer(h)
		ts.TLSConfig = s.TLSConfig
		servers = append(servers, ts)
		go func() { errc <- ts.ServeTLS(s.TLSListener, "", "") }()
	}
	hs := newHTTPServer(plain)
	servers = append(servers, hs)
	go func() { errc <- hs.Serve(l) }()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		s.refreshLoop(ctx, rev)
	}()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log().Info("shutting down", "grace", shutdownGrace)
	s.objects.stop()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range servers {
		if e := srv.Shutdown(sctx); e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
	}
	<-loopDone
	return err
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// publicationOnly serves the published objects and /healthz, nothing else.
func (s *Server) publicationOnly() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", s.mux)
	mux.Handle("/", s.objects)
	return mux
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// refreshLoop reissues CRLs when the store revision moves and on schedule.
// Only the replica holding the CRL lease publishes; the others renew their
// claim on every tick and take over within LeaseTTL when the holder dies.
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
	renewed := s.now()
	for {
		select {
		case <-ctx.Done():
			if s.leader.Load() {
				s.Store.ReleaseLease(context.Background(), CRLLease, s.Replica)
			}
			return
		case <-tick.C:
		}
		if s.now().Sub(renewed) >= s.leaseTTL()/4 {
			leader, err := s.lease(ctx)
			if err != nil {
				s.log().Error("CRL lease", "err", err)
				continue
			}
			if leader && !s.leader.Load() {
				s.log().Info("took over CRL publication", "replica", s.Replica)
				due = s.now() // publish at once: the last holder may have died mid-way
			}
			s.leader.Store(leader)
			renewed = s.now()
		}
		cur, err := s.Store.Revision(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log().Error("store revision", "err", err)
			}
			continue
		}
		if !s.leader.Load() {
			if cur != rev {
				// The holder publishes; wake held requests once it may have.
				rev = cur
				time.AfterFunc(200*time.Millisecond, s.objects.announce)
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

// CRLLease is the lease that makes one replica the CRL publisher. Anything
// else that publishes CRLs to a publisher the replicas share takes it too.
const CRLLease = "crl-publication"

func (s *Server) leaseTTL() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return 10 * time.Second
}

func (s *Server) lease(ctx context.Context) (bool, error) {
	return s.Store.AcquireLease(ctx, CRLLease, s.Replica, s.leaseTTL())
}

// PublishCRLs issues and publishes CRLs now (POST /v1/crl), with the same
// announcements as the refresh loop. Only the replica holding the CRL lease
// publishes, so that CRLs reach a shared publisher in number order; another
// replica answers ca.ErrNotPublisher.
func (s *Server) PublishCRLs(ctx context.Context) ([]*ca.CRL, error) {
	if !s.leader.Load() {
		return nil, fmt.Errorf("%w: replica %s does not hold it", ca.ErrNotPublisher,
			s.Replica)
	}
	return s.publish(ctx, "api")
}

func (s *Server) publishCRLs(ctx context.Context, why string) error {
	_, err := s.publish(ctx, why)
	return err
}

func (s *Server) publish(ctx context.Context, why string) ([]*ca.CRL, error) {
	start := time.Now()
	crls, err := s.Publication.CRLs(ctx)
	for _, c := range crls {
		s.log().Info("CRL published", "issuer", c.Issuer.Slug,
			"crl_number", c.Record.Number.String(), "entries", c.Entries,
			"bytes", len(c.DER), "next_update", c.Record.NextUpdate.Format(time.RFC3339),
			"trigger", why, "duration", time.Since(start))
		if s.API != nil {
			s.API.CRLPublished(c.Issuer.Slug, c.Record.Number, c.Record.ThisUpdate,
				c.Record.NextUpdate, c.Entries)
		}
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
	return crls, err
}
