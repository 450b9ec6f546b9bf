// Package api is the CA as a service: the REST API that `anchor serve` mounts
// at /v1/, with /metrics and /readyz beside it.
//
// # Model
//
// Every request under /v1/ (except the OpenAPI document) names its caller with
// `Authorization: Bearer <token>` or, when configured, with a TLS client
// certificate issued by this CA. A caller has one role, and each role includes
// the ones before it:
//
//	reader   GET certificates, the CA chain
//	issuer   + POST /v1/certificates
//	revoker  + revoke a certificate, publish CRLs now
//	admin    + GitOps apply, the audit trail, token management
//
// A token is a random secret ("anc_" and 43 base64url characters) shown once
// when it is made; the store keeps only its SHA-256. An issuer token may be
// narrowed to names (AllowCN, AllowSAN: glob patterns whose "*" stays within
// one DNS label) and to a maximum lifetime. A request outside them is refused
// with 403 and a message naming the refused name or limit; the names checked
// are the common name and every SAN of the certificate the CA would sign, not
// the ones the request asked for.
//
// Certificate requests use the serverless CA's request JSON, parsed leniently
// (unknown keys ignored) by package profile, and get its response JSON back;
// refusals are {"error": "<message>"} with the serverless CA's exact messages.
// Anchor's own request bodies (revoke, apply, tokens) are strict: unknown keys
// and trailing data are errors. Every body is bounded at 1 MiB.
//
// # Promises
//
//   - Bad input never gives a 5xx: a malformed body is 400, a well-formed
//     request the profile or the token refuses is 422 or 403, a body over
//     1 MiB is 413 (refused without reading past the limit).
//   - Every response carries X-Request-Id (a sane incoming one is kept), and
//     the id is in every log line and audit record of the request.
//   - A certificate is in the store before its response is written (package
//     ca), and every issuance, rejection, revocation and token use is recorded
//     in the audit trail with the actor, the action, the serial and the
//     request id.
//   - No token secret appears in a log line, an audit record or an error.
//
// Revocations made here reach the CRL through the store: they advance its
// revision, which `anchor serve` watches (package server).
package api

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/store"
)

// MaxBodySize bounds every request body (1 MiB).
const MaxBodySize = 1 << 20

// Config is what New needs. CA and Service are required.
type Config struct {
	// CA issues and revokes; its Store is the certificate store.
	CA *ca.CA
	// Service holds tokens and the audit trail. It is usually the same value
	// as CA.Store.
	Service store.Service
	// PublishCRLs issues and publishes new CRLs now, for POST /v1/crl. When
	// nil, Publication.CRLs is called instead; when both are nil the endpoint
	// answers 501.
	PublishCRLs func(ctx context.Context) ([]*ca.CRL, error)
	Publication *ca.Publication
	// MTLSRoles maps the common name (or, failing that, an organizational
	// unit) of a verified client certificate to a role. Empty disables
	// client-certificate authentication.
	MTLSRoles map[string]store.Role
	// Log receives one line per request; nil means slog.Default().
	Log *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// API serves the REST API. Create it with New; it is safe for concurrent use.
type API struct {
	ca      *ca.CA
	store   store.Store
	svc     store.Service
	publish func(ctx context.Context) ([]*ca.CRL, error)
	mtls    map[string]store.Role
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	// roots and inter verify client certificates for mTLS.
	roots, inter *x509.CertPool
	handler      http.Handler
	applyMu      sync.Mutex
}

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	if cfg.CA == nil || cfg.CA.Store == nil || cfg.CA.Root == nil || cfg.CA.Issuing == nil {
		return nil, errors.New("api: Config.CA must be a loaded CA with a store")
	}
	if cfg.Service == nil {
		return nil, errors.New("api: Config.Service is required")
	}
	for cn, role := range cfg.MTLSRoles {
		if rank(role) == 0 {
			return nil, fmt.Errorf("api: MTLSRoles[%q]: unknown role %q", cn, role)
		}
	}
	a := &API{
		ca:      cfg.CA,
		store:   cfg.CA.Store,
		svc:     cfg.Service,
		publish: cfg.PublishCRLs,
		mtls:    cfg.MTLSRoles,
		log:     cfg.Log,
		now:     cfg.Now,
		metrics: newMetrics(),
		roots:   x509.NewCertPool(),
		inter:   x509.NewCertPool(),
	}
	if a.publish == nil && cfg.Publication != nil {
		a.publish = cfg.Publication.CRLs
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.roots.AddCert(cfg.CA.Root.Cert)
	a.inter.AddCert(cfg.CA.Issuing.Cert)
	a.handler = a.routes()
	return a, nil
}

// Handler returns the handler for /v1/, /metrics and /readyz. Mount it at
// those paths (or at "/" of a mux that sends them here).
func (a *API) Handler() http.Handler { return a.handler }

// route is one endpoint: the mux pattern, the least role that may call it
// (empty for public endpoints) and the handler.
type route struct {
	method, path string
	role         store.Role
	handle       func(w http.ResponseWriter, r *http.Request, c *call)
}

// table lists every endpoint under /v1/. The OpenAPI document must describe
// exactly these (see the tests).
func (a *API) table() []route {
	return []route{
		{"GET", "/v1/openapi.json", "", a.openAPI},
		{"POST", "/v1/certificates", store.RoleIssuer, a.issue},
		{"GET", "/v1/certificates", store.RoleReader, a.list},
		{"GET", "/v1/certificates/{serial}", store.RoleReader, a.get},
		{"POST", "/v1/certificates/{serial}/revoke", store.RoleRevoker, a.revoke},
		{"GET", "/v1/ca", store.RoleReader, a.caInfo},
		{"POST", "/v1/crl", store.RoleRevoker, a.crl},
		{"POST", "/v1/apply", store.RoleAdmin, a.apply},
		{"GET", "/v1/audit", store.RoleAdmin, a.audit},
		{"GET", "/v1/tokens", store.RoleAdmin, a.listTokens},
		{"POST", "/v1/tokens", store.RoleAdmin, a.createToken},
		{"POST", "/v1/tokens/{name}/revoke", store.RoleAdmin, a.revokeToken},
	}
}

// Routes lists the endpoints under /v1/ as "METHOD /path" patterns, as the
// mux serves them.
func Routes() []string {
	var out []string
	for _, rt := range (&API{}).table() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

func (a *API) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.table() {
		mux.Handle(rt.method+" "+rt.path, a.endpoint(rt))
	}
	// Every other /v1/ request gets a JSON 404 or 405 with a request id.
	known := http.NewServeMux()
	for _, rt := range a.table() {
		known.Handle(rt.method+" "+rt.path, http.NotFoundHandler())
	}
	unknown := func(w http.ResponseWriter, r *http.Request, c *call) {
		var allow []string
		for _, m := range []string{"GET", "POST"} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := known.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			c.fail(w, http.StatusMethodNotAllowed, "malformed",
				fmt.Sprintf("%s %s is not served; use %s", r.Method, r.URL.Path,
					strings.Join(allow, " or ")))
			return
		}
		c.fail(w, http.StatusNotFound, "not_found",
			fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	}
	mux.Handle("/v1/", a.endpoint(route{path: "/v1/", handle: unknown}))
	mux.Handle("GET /metrics", a.endpoint(route{path: "/metrics", handle: a.serveMetrics}))
	mux.Handle("GET /readyz", a.endpoint(route{path: "/readyz", handle: a.ready}))
	return mux
}

// ready answers 200 when the store answers within two seconds.
func (a *API) ready(w http.ResponseWriter, r *http.Request, c *call) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := a.svc.Revision(ctx); err != nil {
		c.log.Error("readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "store unavailable")
		return
	}
	fmt.Fprintln(w, "ready")
}
