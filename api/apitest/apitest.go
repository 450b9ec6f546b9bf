// Package apitest starts a real Anchor API for tests: a CA hierarchy made by
// ca.Init in a temporary folder, a SQLite store, CA keys in files, CRLs
// published to a folder, and the API on a loopback httptest server, with one
// token per role. Tests drive it with the real net/http client.
package apitest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/publish/dir"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/sqlite"
)

// Env is a running API and what it runs on.
type Env struct {
	T      testing.TB
	Config *config.Config
	Store  *sqlite.Store
	CA     *ca.CA
	API    *api.API
	Server *httptest.Server
	// URL is the server's base URL (http://127.0.0.1:port).
	URL string
	// Tokens holds a secret per role, made by api.CreateToken; the token
	// names are the role names.
	Tokens map[store.Role]string
	// Logs collects the API's log lines (JSON, one per line).
	Logs *Buffer
	// PublicDir is where CRLs and CA certificates are published.
	PublicDir string
}

// Options adjust New.
type Options struct {
	// MTLSRoles enables client-certificate authentication; the server then
	// serves TLS and asks for (but does not require) a client certificate.
	MTLSRoles map[string]store.Role
	// Policy overrides the CA's issuing policy.
	Policy *profile.Policy
}

// Buffer is a bytes.Buffer safe for concurrent writers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// New starts an API with the default configuration.
func New(t testing.TB) *Env { return NewWith(t, Options{}) }

// NewWith starts an API with options.
func NewWith(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	home := t.TempDir()
	st, err := sqlite.Open(filepath.Join(home, "anchor.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.BaseURL = "http://pki.example.com"
	res, err := ca.Init(ctx, cfg, st, ca.FileKeys{Dir: filepath.Join(home, "keys")})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	pol := profile.Policy{MaxLifetimeDays: cfg.MaxLifetimeDays}
	if o.Policy != nil {
		pol = *o.Policy
	}
	c := &ca.CA{Root: res.Root, Issuing: res.Issuing, Store: st, Policy: pol,
		BaseURL: cfg.PublicBaseURL()}
	pubDir := filepath.Join(home, "public")
	pub, err := dir.New(pubDir)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	logs := &Buffer{}
	a, err := api.New(api.Config{
		CA:      c,
		Service: st,
		Publication: &ca.Publication{CA: c, Publisher: pub, BundleName: cfg.BundleName(),
			RootCRL: cfg.Root.CRLLifetime(), IssuingCRL: cfg.Issuing.CRLLifetime()},
		MTLSRoles: o.MTLSRoles,
		Log:       slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(a.Handler())
	if len(o.MTLSRoles) > 0 {
		// Verification is the API's: it checks the chain against the CA.
		srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	e := &Env{T: t, Config: cfg, Store: st, CA: c, API: a, Server: srv, URL: srv.URL,
		Tokens: map[store.Role]string{}, Logs: logs, PublicDir: pubDir}
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	for _, role := range []store.Role{store.RoleReader, store.RoleIssuer, store.RoleRevoker,
		store.RoleAdmin} {
		secret, _, err := api.CreateToken(ctx, st, api.TokenSpec{Name: string(role), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		e.Tokens[role] = secret
	}
	return e
}

// Response is an answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Error returns the {"error"} message of the body ("" if none).
func (r *Response) Error() string {
	var e api.Error
	json.Unmarshal(r.Body, &e)
	return e.Error
}

// Do sends a request with a bearer token (none if empty) and a body (none
// if nil; a string or []byte is sent as is, anything else as JSON).
func (e *Env) Do(method, path, token string, body any) *Response {
	e.T.Helper()
	return e.DoWith(e.Server.Client(), method, path, token, body, nil)
}

// DoWith is Do with a given client and extra headers.
func (e *Env) DoWith(hc *http.Client, method, path, token string, body any,
	header http.Header) *Response {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Key makes a P-256 subscriber key.
func Key(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CSR makes a PEM CSR for key with common name cn.
func CSR(t testing.TB, key crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Request makes request JSON fields for a fresh key with common name cn;
// extra fields are added or override.
func Request(t testing.TB, cn string, extra map[string]any) map[string]any {
	t.Helper()
	req := map[string]any{
		"common_name":     cn,
		"base64_csr_data": base64.StdEncoding.EncodeToString(CSR(t, Key(t), cn)),
	}
	for k, v := range extra {
		req[k] = v
	}
	return req
}
