// Package client is a Go client for Anchor's REST API (package api), used by
// the CLI when it talks to a remote `anchor serve` instead of a local home.
//
// A Client holds the server's base URL and a bearer token; where they come
// from (flags, environment) is the caller's business. Every method sends one
// request. A refusal by the server (a 4xx answer) is a *RejectionError whose
// Message is the server's {"error"} text unchanged, so scripts written against
// the serverless CA's messages keep working; a failure of the server (5xx) is
// a *ServerError. Response bodies are bounded, and the server's X-Request-Id
// is carried in both errors for reports.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/ca"
)

// maxResponse bounds a response body: a page of 1000 certificates or a large
// apply plan fits with room to spare.
const maxResponse = 32 << 20

// Client talks to one Anchor server.
type Client struct {
	// Server is the base URL, e.g. "https://ca.example.com:8443"; the API
	// paths (/v1/...) are appended to it.
	Server string
	// Token is sent as "Authorization: Bearer <Token>"; empty sends none (for
	// mTLS, configure HTTP's transport with a client certificate).
	Token string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// New returns a client for server with token.
func New(server, token string) *Client {
	return &Client{Server: strings.TrimRight(server, "/"), Token: token}
}

// RejectionError is a request the server refused (a 4xx status). Message is
// the server's error text exactly.
type RejectionError struct {
	Status     int
	Message    string
	Rejections []string // the refused entries of an apply
	RequestID  string
}

func (e *RejectionError) Error() string { return e.Message }

// ServerError is a failure of the server (a 5xx status) or an answer the
// client cannot read.
type ServerError struct {
	Status    int
	Message   string
	RequestID string
}

func (e *ServerError) Error() string {
	msg := fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	return msg
}

// do sends one request with an optional JSON body and decodes a 2xx answer
// into out (unless nil). It returns the status for callers that distinguish
// 200 from 201.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Server, "/")+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if len(data) > maxResponse {
		return resp.StatusCode, fmt.Errorf("answer of %s %s is larger than %d bytes",
			method, path, maxResponse)
	}
	id := resp.Header.Get("X-Request-Id")

	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
			if e.Error == "" {
				e.Error = http.StatusText(resp.StatusCode)
			}
		}
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return resp.StatusCode, &RejectionError{Status: resp.StatusCode,
				Message: e.Error, Rejections: e.Rejections, RequestID: id}
		}
		if out != nil {
			// An apply that stopped part way still reports its plan.
			_ = json.Unmarshal(data, out)
		}
		return resp.StatusCode, &ServerError{Status: resp.StatusCode, Message: e.Error,
			RequestID: id}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, &ServerError{Status: resp.StatusCode,
				Message: "unreadable answer: " + err.Error(), RequestID: id}
		}
	}
	return resp.StatusCode, nil
}

// Issue sends a certificate request in the serverless CA's JSON and returns
// its response JSON decoded. A refusal is a *RejectionError with the server's
// message, e.g. "Private key has already been used for a certificate".
func (c *Client) Issue(ctx context.Context, request []byte) (*ca.Response, error) {
	var out ca.Response
	if _, err := c.do(ctx, http.MethodPost, "/v1/certificates", request, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOptions filters and pages GET /v1/certificates. Zero fields are left
// out.
type ListOptions struct {
	CommonName     string
	Status         string // valid, revoked or expired
	ExpiringBefore time.Time
	Issuer         string
	Limit          int
	Cursor         string // NextCursor of the previous page
}

// List returns one page of certificates.
func (c *Client) List(ctx context.Context, o ListOptions) (*api.CertificateList, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("cn", o.CommonName)
	set("status", o.Status)
	set("issuer", o.Issuer)
	set("cursor", o.Cursor)
	if !o.ExpiringBefore.IsZero() {
		set("expiring_before", o.ExpiringBefore.UTC().Format(time.RFC3339))
	}
	if o.Limit > 0 {
		set("limit", strconv.Itoa(o.Limit))
	}
	path := "/v1/certificates"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.CertificateList
	if _, err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns the certificate with this decimal serial, PEM included.
func (c *Client) Get(ctx context.Context, serial string) (*api.Certificate, error) {
	var out api.Certificate
	_, err := c.do(ctx, http.MethodGet, "/v1/certificates/"+url.PathEscape(serial), nil, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Revoke revokes the certificate with this decimal serial for reason (an RFC
// 5280 name such as "keyCompromise"; empty means unspecified). Revoking again
// succeeds with Changed false.
func (c *Client) Revoke(ctx context.Context, serial, reason string) (*api.Revocation, error) {
	body, err := json.Marshal(api.RevokeRequest{Reason: reason})
	if err != nil {
		return nil, err
	}
	var out api.Revocation
	path := "/v1/certificates/" + url.PathEscape(serial) + "/revoke"
	if _, err := c.do(ctx, http.MethodPost, path, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Apply sends a GitOps folder (see FolderBody) and returns the plan, carried
// out unless dryRun. When applying stopped part way the result is returned
// together with the error, so that the caller can show what was done.
func (c *Client) Apply(ctx context.Context, body *api.ApplyRequest, dryRun bool) (
	*api.ApplyResult, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	path := "/v1/apply"
	if dryRun {
		path += "?dry_run=true"
	}
	var out api.ApplyResult
	_, err = c.do(ctx, http.MethodPost, path, data, &out)
	var se *ServerError
	if err != nil && !(errors.As(err, &se) && out.Steps != nil) {
		return nil, err
	}
	return &out, err
}

// CA returns the CA certificates, the chain and the bundle.
func (c *Client) CA(ctx context.Context) (*api.CAInfo, error) {
	var out api.CAInfo
	if _, err := c.do(ctx, http.MethodGet, "/v1/ca", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PublishCRLs has the server issue and publish new CRLs now.
func (c *Client) PublishCRLs(ctx context.Context) (*api.CRLResult, error) {
	var out api.CRLResult
	if _, err := c.do(ctx, http.MethodPost, "/v1/crl", []byte("{}"), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Audit returns up to limit audit records at or after since (zero: the
// server's default of 24 hours; limit 0: the server's default).
func (c *Client) Audit(ctx context.Context, since time.Time, limit int) (*api.AuditList, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.AuditList
	if _, err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateToken makes a token on the server; the secret is in the answer only.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (*api.NewToken, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out api.NewToken
	if _, err := c.do(ctx, http.MethodPost, "/v1/tokens", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Tokens lists the server's tokens (never their secrets).
func (c *Client) Tokens(ctx context.Context) ([]api.TokenInfo, error) {
	var out api.TokenList
	if _, err := c.do(ctx, http.MethodGet, "/v1/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeToken revokes a token by name or id.
func (c *Client) RevokeToken(ctx context.Context, idOrName string) error {
	path := "/v1/tokens/" + url.PathEscape(idOrName) + "/revoke"
	_, err := c.do(ctx, http.MethodPost, path, []byte("{}"), nil)
	return err
}
