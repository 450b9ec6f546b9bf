package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/gitops"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// Authority is one CA certificate of the hierarchy.
type Authority struct {
	Slug      string    `json:"slug"`
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	PEM       string    `json:"pem"`
}

// CAInfo is GET /v1/ca: both CA certificates, the chain a server presents
// (issuing then root) and the published CA bundle (root then issuing).
type CAInfo struct {
	Root      Authority `json:"root"`
	Issuing   Authority `json:"issuing"`
	ChainPEM  string    `json:"chain_pem"`
	BundlePEM string    `json:"bundle_pem"`
}

func authorityView(a *ca.Authority) Authority {
	return Authority{
		Slug:      a.Slug,
		Subject:   a.Cert.Subject.String(),
		Serial:    a.Cert.SerialNumber.String(),
		NotBefore: a.Cert.NotBefore.UTC(),
		NotAfter:  a.Cert.NotAfter.UTC(),
		PEM:       string(a.PEM()),
	}
}

func (a *API) caInfo(w http.ResponseWriter, _ *http.Request, c *call) {
	root, issuing := a.ca.Root.PEM(), a.ca.Issuing.PEM()
	c.reply(w, http.StatusOK, CAInfo{
		Root:      authorityView(a.ca.Root),
		Issuing:   authorityView(a.ca.Issuing),
		ChainPEM:  string(issuing) + string(root),
		BundlePEM: string(root) + string(issuing),
	})
}

// CRLInfo describes one CRL that was issued and published.
type CRLInfo struct {
	Issuer     string    `json:"issuer"`
	Number     string    `json:"number"` // decimal
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Entries    int       `json:"entries"`
}

// CRLResult is the answer of POST /v1/crl.
type CRLResult struct {
	CRLs []CRLInfo `json:"crls"`
}

// crl is POST /v1/crl: issue and publish new CRLs now. The body, if any,
// must be an empty JSON object.
func (a *API) crl(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct{}
	if !c.decodeStrict(w, r, &body, true) {
		return
	}
	if a.publish == nil {
		c.fail(w, http.StatusNotImplemented, "", "this server does not publish CRLs")
		return
	}
	crls, err := a.publish(r.Context())
	out := CRLResult{CRLs: []CRLInfo{}}
	var numbers []string
	for _, x := range crls {
		a.CRLPublished(x.Issuer.Slug, x.Record.Number, x.Record.ThisUpdate,
			x.Record.NextUpdate, x.Entries)
		out.CRLs = append(out.CRLs, CRLInfo{
			Issuer:     x.Issuer.Slug,
			Number:     x.Record.Number.String(),
			ThisUpdate: x.Record.ThisUpdate.UTC(),
			NextUpdate: x.Record.NextUpdate.UTC(),
			Entries:    x.Entries,
		})
		numbers = append(numbers, x.Issuer.Slug+"="+x.Record.Number.String())
	}
	if len(numbers) > 0 {
		c.audit("crl.publish", "", strings.Join(numbers, " "))
	}
	if errors.Is(err, ca.ErrNotPublisher) {
		c.fail(w, http.StatusConflict, "", err.Error()+"; it publishes within a second "+
			"of any revocation, so there is nothing to do")
		return
	}
	if err != nil {
		c.internal(w, "CRL publication failed", err)
		return
	}
	c.reply(w, http.StatusOK, out)
}

// ApplyRequest is the body of POST /v1/apply: a GitOps folder as JSON.
type ApplyRequest = gitops.Body

// PlanStep is one step of a GitOps plan.
type PlanStep struct {
	Action     string `json:"action"`
	Where      string `json:"where"`
	CommonName string `json:"common_name"`
	Serial     string `json:"serial,omitempty"`
	Detail     string `json:"detail,omitempty"`
	Done       bool   `json:"done"`
}

// ApplyResult is the answer of POST /v1/apply: the plan, and with dry_run
// false what was done. Error is set when applying stopped part way.
type ApplyResult struct {
	DryRun  bool       `json:"dry_run"`
	Changes int        `json:"changes"`
	Steps   []PlanStep `json:"steps"`
	Error   string     `json:"error,omitempty"`
}

// apply is POST /v1/apply[?dry_run=true].
func (a *API) apply(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if !c.onlyParams(w, q, "dry_run") {
		return
	}
	dryRun := false
	if v := q.Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			c.fail(w, http.StatusBadRequest, "malformed",
				fmt.Sprintf("dry_run: %q is not true or false", v))
			return
		}
		dryRun = b
	}
	var body ApplyRequest
	if !c.decodeStrict(w, r, &body, false) {
		return
	}
	folder, err := gitops.FromBody(&body)
	if err != nil {
		c.fail(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}

	// One apply at a time in this process, so that two identical requests
	// plan against the same state instead of racing each other.
	a.applyMu.Lock()
	defer a.applyMu.Unlock()

	ctx := r.Context()
	plan, err := gitops.NewPlan(ctx, folder, a.ca, dryRun)
	var rejs *gitops.RejectionError
	if errors.As(err, &rejs) {
		for _, msg := range rejs.Rejections {
			c.audit("reject", "", "apply: "+msg)
		}
		c.failWith(w, http.StatusUnprocessableEntity, "profile", &Error{
			Error:      fmt.Sprintf("%d request(s) rejected, nothing applied", len(rejs.Rejections)),
			Rejections: rejs.Rejections,
		})
		return
	}
	if err != nil {
		c.internal(w, "GitOps plan failed", err)
		return
	}
	res := ApplyResult{DryRun: dryRun, Changes: plan.Changes()}
	status := http.StatusOK
	if !dryRun {
		err = plan.Apply(ctx, a.ca)
		if err != nil {
			var rej *profile.Rejection
			status = http.StatusInternalServerError
			if errors.As(err, &rej) {
				status = http.StatusConflict // the store changed under the plan
			}
			res.Error = err.Error()
			c.log.Error("GitOps apply stopped", "err", err)
		}
	}
	res.Steps = a.steps(c, plan)
	c.reply(w, status, res)
}

// steps renders a plan and audits and counts its steps that were done.
func (a *API) steps(c *call, plan *gitops.Plan) []PlanStep {
	out := make([]PlanStep, 0, len(plan.Steps))
	for _, s := range plan.Steps {
		ps := PlanStep{Action: string(s.Action), Where: s.Where, CommonName: s.CommonName,
			Detail: s.Detail, Done: s.Done}
		if s.Serial != nil {
			ps.Serial = s.Serial.String()
		}
		if s.Done {
			switch s.Action {
			case gitops.ActionIssue:
				a.metrics.issued.Add(1)
				c.audit("issue", ps.Serial, "apply "+s.Where+" cn="+s.CommonName)
			case gitops.ActionRevoke:
				a.metrics.revoked.Add(1)
				c.audit("revoke", ps.Serial, "apply "+s.Where+" reason="+s.Detail)
			}
		}
		out = append(out, ps)
	}
	return out
}

// AuditRecord is one line of the audit trail as GET /v1/audit shows it.
type AuditRecord struct {
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Serial    string    `json:"serial,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// AuditList is the answer of GET /v1/audit.
type AuditList struct {
	Records []AuditRecord `json:"records"`
}

// auditLimit is the default number of audit records; maxAuditLimit the most.
const (
	auditLimit    = 1000
	maxAuditLimit = 10000
)

// audit is GET /v1/audit?since=&limit=; since defaults to 24 hours ago.
func (a *API) audit(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	if !c.onlyParams(w, q, "since", "limit") {
		return
	}
	since := a.now().Add(-24 * time.Hour)
	if v := q.Get("since"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			c.fail(w, http.StatusBadRequest, "malformed", "since: "+err.Error())
			return
		}
		since = t
	}
	limit := auditLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			c.fail(w, http.StatusBadRequest, "malformed",
				fmt.Sprintf("limit: %q is not a number from 1 to %d", v, maxAuditLimit))
			return
		}
		limit = n
	}
	// This read is itself a token use; record it first so that it is listed.
	c.audit("audit.read", "", "since="+since.UTC().Format(time.RFC3339))
	c.flush(r.Context())
	recs, err := a.svc.Audit(r.Context(), since, limit)
	if err != nil {
		c.internal(w, "read audit trail", err)
		return
	}
	out := AuditList{Records: make([]AuditRecord, 0, len(recs))}
	for _, x := range recs {
		out.Records = append(out.Records, AuditRecord{At: x.At.UTC(), Actor: x.Actor,
			Action: x.Action, Serial: x.Serial, RequestID: x.RequestID, Detail: x.Detail})
	}
	c.reply(w, http.StatusOK, out)
}

// TokenInfo is a token as the API shows it; the secret is never shown again.
type TokenInfo struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Role            string     `json:"role"`
	AllowCN         []string   `json:"allow_cn,omitempty"`
	AllowSAN        []string   `json:"allow_san,omitempty"`
	MaxLifetimeDays int        `json:"max_lifetime_days,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	RevokedAt       *time.Time `json:"revoked_at,omitempty"`
}

// NewTokenInfo renders a stored token.
func NewTokenInfo(t *store.Token) TokenInfo {
	return TokenInfo{ID: t.ID, Name: t.Name, Role: string(t.Role), AllowCN: t.AllowCN,
		AllowSAN: t.AllowSAN, MaxLifetimeDays: t.MaxLifetimeDays, CreatedAt: t.CreatedAt.UTC(),
		RevokedAt: t.RevokedAt}
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name            string   `json:"name"`
	Role            string   `json:"role"`
	AllowCN         []string `json:"allow_cn"`
	AllowSAN        []string `json:"allow_san"`
	MaxLifetimeDays int      `json:"max_lifetime_days"`
}

// NewToken is the answer of POST /v1/tokens: the secret, shown this once.
type NewToken struct {
	Token string    `json:"token"`
	Info  TokenInfo `json:"info"`
}

// TokenList is the answer of GET /v1/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *call) {
	var body TokenRequest
	if !c.decodeStrict(w, r, &body, false) {
		return
	}
	spec := TokenSpec{Name: body.Name, Role: store.Role(body.Role), AllowCN: body.AllowCN,
		AllowSAN: body.AllowSAN, MaxLifetimeDays: body.MaxLifetimeDays, Actor: c.actor}
	if err := spec.validate(); err != nil {
		c.fail(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	secret, tok, err := createToken(r.Context(), a.svc, spec, c.id, a.now())
	if err != nil {
		if errors.Is(err, ErrTokenExists) {
			c.fail(w, http.StatusConflict, "conflict", err.Error())
			return
		}
		c.internal(w, "create token", err)
		return
	}
	c.audited = true // createToken wrote the audit record
	c.reply(w, http.StatusCreated, NewToken{Token: secret, Info: NewTokenInfo(tok)})
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *call) {
	toks, err := ListTokens(r.Context(), a.svc)
	if err != nil {
		c.internal(w, "list tokens", err)
		return
	}
	out := TokenList{Tokens: make([]TokenInfo, 0, len(toks))}
	for _, t := range toks {
		out.Tokens = append(out.Tokens, NewTokenInfo(t))
	}
	c.reply(w, http.StatusOK, out)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct{}
	if !c.decodeStrict(w, r, &body, true) {
		return
	}
	name := r.PathValue("name")
	err := revokeToken(r.Context(), a.svc, name, c.actor, c.id, a.now())
	if errors.Is(err, ErrTokenNotFound) {
		c.fail(w, http.StatusNotFound, "not_found", fmt.Sprintf("token %q not found", name))
		return
	}
	if err != nil {
		c.internal(w, "revoke token", err)
		return
	}
	c.audited = true
	c.reply(w, http.StatusOK, map[string]string{"revoked": name})
}
