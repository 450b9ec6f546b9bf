package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// Certificate is a stored certificate as the API shows it.
type Certificate struct {
	Serial     string     `json:"serial"` // decimal
	CommonName string     `json:"common_name"`
	Subject    string     `json:"subject"`
	Issuer     string     `json:"issuer"` // slug of the issuing CA
	NotBefore  time.Time  `json:"not_before"`
	NotAfter   time.Time  `json:"not_after"`
	Status     string     `json:"status"` // valid, revoked or expired
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Source     string     `json:"source"`
	// PEM is set by GET /v1/certificates/{serial} only.
	PEM string `json:"pem,omitempty"`
}

// CertificateList is one page of GET /v1/certificates. NextCursor, when set,
// fetches the next page.
type CertificateList struct {
	Certificates []Certificate `json:"certificates"`
	NextCursor   string        `json:"next_cursor,omitempty"`
}

// RevokeRequest is the body of POST /v1/certificates/{serial}/revoke. An
// empty body means reason unspecified.
type RevokeRequest struct {
	Reason string `json:"reason"`
}

// Revocation is the answer to a revocation. Changed is false when the
// certificate was already revoked; the stored date and reason are returned.
type Revocation struct {
	Serial     string    `json:"serial"`
	CommonName string    `json:"common_name"`
	RevokedAt  time.Time `json:"revoked_at"`
	Reason     string    `json:"reason"`
	Changed    bool      `json:"changed"`
}

func (a *API) view(c *store.Certificate, withPEM bool) Certificate {
	v := Certificate{
		Serial:     c.Serial.String(),
		CommonName: c.CommonName,
		Subject:    c.Subject,
		Issuer:     c.Issuer,
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		Source:     string(c.Source),
	}
	v.Status = string(c.Status(a.now()))
	if c.Revoked() {
		at := c.RevokedAt.UTC()
		v.RevokedAt, v.Reason = &at, c.Reason.String()
	}
	if withPEM {
		v.PEM = string(ca.PEMCertificate(c.DER))
	}
	return v
}

// issue is POST /v1/certificates: the serverless CA's request JSON in, its
// response JSON out.
func (a *API) issue(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := c.readBody(w, r)
	if !ok {
		return
	}
	req, err := profile.Parse(body)
	if err != nil {
		c.audit("reject", "", err.Error())
		c.fail(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	ctx := r.Context()

	if restricted(c.token) && !req.CAChainOnly {
		tmpl, err := a.ca.Check(ctx, req, store.SourceAPI)
		if err == nil {
			if msg := permits(c.token, tmpl); msg != "" {
				a.ca.Rejected(ctx, req, &profile.Rejection{Message: msg})
				c.audit("reject", "", msg)
				c.fail(w, http.StatusForbidden, "token_policy", msg)
				return
			}
		} else {
			a.ca.Rejected(ctx, req, err)
			a.issueFailed(w, c, err)
			return
		}
	}

	issued, err := a.ca.Issue(ctx, req, store.SourceAPI)
	if err != nil {
		a.issueFailed(w, c, err)
		return
	}
	if req.CAChainOnly {
		c.reply(w, http.StatusOK, issued.Response)
		return
	}
	serial := issued.Certificate.Serial.String()
	a.metrics.issued.Add(1)
	c.audit("issue", serial, "cn="+issued.Certificate.CommonName)
	c.log.Info("certificate issued", "serial", serial, "cn", issued.Certificate.CommonName,
		"token", c.actor)
	w.Header().Set("Location", "/v1/certificates/"+serial)
	c.reply(w, http.StatusCreated, issued.Response)
}

// issueFailed answers a failed Check or Issue: 422 for a refusal, 500 for a
// failure of the CA.
func (a *API) issueFailed(w http.ResponseWriter, c *call, err error) {
	var rej *profile.Rejection
	if errors.As(err, &rej) {
		c.audit("reject", "", rej.Message)
		c.fail(w, http.StatusUnprocessableEntity, "profile", rej.Message)
		return
	}
	c.internal(w, "issuance failed", err)
}

// listLimit is the default page size; maxListLimit the largest allowed.
const (
	listLimit    = 100
	maxListLimit = 1000
)

// list is GET /v1/certificates?cn=&status=&expiring_before=&issuer=&limit=&cursor=.
func (a *API) list(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if !c.onlyParams(w, q, "cn", "status", "expiring_before", "issuer", "limit", "cursor") {
		return
	}
	f := store.Filter{CommonName: q.Get("cn"), Issuer: q.Get("issuer"), Now: a.now()}
	switch s := store.Status(q.Get("status")); s {
	case store.StatusAny, store.StatusValid, store.StatusRevoked, store.StatusExpired:
		f.Status = s
	default:
		c.fail(w, http.StatusBadRequest, "malformed",
			fmt.Sprintf("status: %q is not one of valid, revoked, expired", s))
		return
	}
	if v := q.Get("expiring_before"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			c.fail(w, http.StatusBadRequest, "malformed", "expiring_before: "+err.Error())
			return
		}
		f.ExpiringBefore = t
	}
	limit := listLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			c.fail(w, http.StatusBadRequest, "malformed",
				fmt.Sprintf("limit: %q is not a number from 1 to %d", v, maxListLimit))
			return
		}
		limit = n
	}
	if v := q.Get("cursor"); v != "" {
		after, ok := decodeCursor(v)
		if !ok {
			c.fail(w, http.StatusBadRequest, "malformed",
				"cursor: not a cursor this server handed out")
			return
		}
		f.After = after
	}

	f.Limit = limit + 1
	certs, err := a.store.List(r.Context(), f)
	if err != nil {
		c.internal(w, "list certificates", err)
		return
	}
	out := CertificateList{Certificates: make([]Certificate, 0, len(certs))}
	if len(certs) > limit {
		certs = certs[:limit]
		out.NextCursor = encodeCursor(store.SerialKey(certs[limit-1].Serial))
	}
	for _, cert := range certs {
		out.Certificates = append(out.Certificates, a.view(cert, false))
	}
	c.reply(w, http.StatusOK, out)
}

// onlyParams refuses query parameters other than the named ones, so that a
// misspelt filter is an error rather than a silently unfiltered listing.
func (c *call) onlyParams(w http.ResponseWriter, q url.Values, names ...string) bool {
	for k := range q {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			c.fail(w, http.StatusBadRequest, "malformed", fmt.Sprintf(
				"unknown query parameter %q (known: %s)", k, strings.Join(names, ", ")))
			return false
		}
	}
	return true
}

// parseTime accepts an RFC 3339 timestamp or a date (midnight UTC).
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a date (2006-01-02)", v)
}

// Cursors are the store key of the last certificate of a page, base64url
// encoded: opaque to clients, and checked on the way back in.
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeCursor(v string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) != 40 {
		return "", false
	}
	if _, err := hex.DecodeString(string(b)); err != nil || strings.ToLower(string(b)) != string(b) {
		return "", false
	}
	return string(b), true
}

// parseSerial reads a decimal serial number from the path.
func parseSerial(s string) (*big.Int, error) {
	if s == "" || len(s) > 49 {
		return nil, fmt.Errorf("serial: %q is not a decimal serial number", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, fmt.Errorf("serial: %q is not a decimal serial number", s)
		}
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() <= 0 || n.BitLen() > 160 {
		return nil, fmt.Errorf("serial: %q is not a positive serial number below 2^160", s)
	}
	return n, nil
}

// lookup reads the {serial} path value and the certificate. On failure it has
// answered 400 or 404 and returns nil.
func (a *API) lookup(w http.ResponseWriter, r *http.Request, c *call) *store.Certificate {
	serial, err := parseSerial(r.PathValue("serial"))
	if err != nil {
		c.fail(w, http.StatusBadRequest, "malformed", err.Error())
		return nil
	}
	cert, err := a.store.Certificate(r.Context(), serial)
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, http.StatusNotFound, "not_found", fmt.Sprintf("certificate %s not found", serial))
		return nil
	}
	if err != nil {
		c.internal(w, "read certificate", err)
		return nil
	}
	return cert
}

// get is GET /v1/certificates/{serial}.
func (a *API) get(w http.ResponseWriter, r *http.Request, c *call) {
	if cert := a.lookup(w, r, c); cert != nil {
		c.reply(w, http.StatusOK, a.view(cert, true))
	}
}

// revoke is POST /v1/certificates/{serial}/revoke. It is idempotent: revoking
// again answers 200 with changed=false and the first revocation's details.
// Only end-entity certificates of the issuing CA are revoked here; issuing CA
// certificates go through revoked_root of /v1/apply.
func (a *API) revoke(w http.ResponseWriter, r *http.Request, c *call) {
	var body RevokeRequest
	if !c.decodeStrict(w, r, &body, true) {
		return
	}
	reason, err := store.ParseReason(body.Reason)
	if err != nil {
		c.fail(w, http.StatusBadRequest, "malformed", "reason: "+err.Error())
		return
	}
	cert := a.lookup(w, r, c)
	if cert == nil {
		return
	}
	if cert.Issuer != a.ca.Issuing.Slug {
		c.fail(w, http.StatusUnprocessableEntity, "profile", fmt.Sprintf(
			"certificate %s was issued by %s, not by the issuing CA %s; revoke CA "+
				"certificates with revoked_root in /v1/apply", cert.Serial, cert.Issuer,
			a.ca.Issuing.Slug))
		return
	}

	rec, changed, err := a.ca.Revoke(r.Context(), cert.Serial, reason)
	if err != nil {
		c.internal(w, "revocation failed", err)
		return
	}
	serial := rec.Serial.String()
	detail := "reason=" + rec.Reason.String()
	if changed {
		a.metrics.revoked.Add(1)
		c.log.Info("certificate revoked", "serial", serial, "reason", rec.Reason.String(),
			"token", c.actor)
	} else {
		detail += " (already revoked)"
	}
	c.audit("revoke", serial, detail)
	c.reply(w, http.StatusOK, Revocation{
		Serial:     serial,
		CommonName: rec.CommonName,
		RevokedAt:  rec.RevokedAt.UTC(),
		Reason:     rec.Reason.String(),
		Changed:    changed,
	})
}
