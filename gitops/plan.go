package gitops

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// Action is what a step of a plan does.
type Action string

// The actions of a plan. Only ActionIssue and ActionRevoke change anything.
const (
	ActionIssue          Action = "issue"
	ActionAlreadyIssued  Action = "already issued"
	ActionRevoke         Action = "revoke"
	ActionAlreadyRevoked Action = "already revoked"
	ActionSkip           Action = "skip" // a revocation entry that cannot apply
)

// Step is one line of a plan.
type Step struct {
	Action     Action
	Where      string // file and entry, e.g. "tls.json[2]"
	CommonName string
	Serial     *big.Int // the certificate revoked, or the one issued by Apply
	Detail     string   // why: a warning for skips, a CSR file for issues

	request    *profile.Request
	revocation *Revocation
	// Done is set by Apply once the step took effect.
	Done bool
	// Certificate is the issued certificate after Apply.
	Certificate *store.Certificate
}

// Plan is what applying a folder would do.
type Plan struct {
	Steps []*Step
}

// RejectionError lists every request of tls.json that the profile refused.
// A plan with rejections is not applied at all.
type RejectionError struct {
	Rejections []string
}

func (e *RejectionError) Error() string {
	return fmt.Sprintf("%d request(s) rejected, nothing applied:\n  %s",
		len(e.Rejections), strings.Join(e.Rejections, "\n  "))
}

// NewPlan works out what Apply would do, changing nothing. Rejected requests
// fail the whole plan with a *RejectionError; unknown serials and mismatched
// common names in the revocation files are skips with a warning, as in the
// serverless CA (whose root CRL job crashed on them instead). Unless dryRun,
// each rejection is reported to the CA's Observer as a rejected request.
func NewPlan(ctx context.Context, f *Folder, c *ca.CA, dryRun bool) (*Plan, error) {
	p := &Plan{}
	var rejections []string
	keys := map[[32]byte]string{}
	for _, r := range f.Requests {
		where := fmt.Sprintf("%s[%d]", TLSFile, r.Index)
		tmpl, err := c.Check(ctx, r.Request, store.SourceGitOps)
		var rej *profile.Rejection
		switch {
		case errors.As(err, &rej) && rej.AlreadyIssued:
			p.Steps = append(p.Steps, &Step{Action: ActionAlreadyIssued, Where: where,
				CommonName: r.Request.CommonName, Detail: rej.Message})
			continue
		case errors.As(err, &rej):
			if !dryRun {
				c.Rejected(ctx, r.Request, err)
			}
			rejections = append(rejections, fmt.Sprintf("%s (%s): %s", where,
				r.Request.CommonName, rej.Message))
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if other, dup := keys[tmpl.KeyHash]; dup && !r.Request.ForceIssue {
			rejections = append(rejections, fmt.Sprintf("%s (%s): %s (the same key as %s)",
				where, tmpl.CommonName, "Private key has already been used for a certificate",
				other))
			continue
		}
		keys[tmpl.KeyHash] = where
		p.Steps = append(p.Steps, &Step{Action: ActionIssue, Where: where,
			CommonName: tmpl.CommonName, Detail: r.CSRFile, request: r.Request})
	}
	if len(rejections) > 0 {
		return nil, &RejectionError{Rejections: rejections}
	}

	for _, list := range []struct {
		entries []Revocation
		issuer  string
	}{{f.Revocations, c.Issuing.Slug}, {f.RootRevoked, c.Root.Slug}} {
		for i := range list.entries {
			step, err := planRevocation(ctx, c.Store, &list.entries[i], list.issuer)
			if err != nil {
				return nil, err
			}
			p.Steps = append(p.Steps, step)
		}
	}
	return p, nil
}

func planRevocation(ctx context.Context, st store.Store, r *Revocation, issuer string) (*Step, error) {
	step := &Step{
		Where:      fmt.Sprintf("%s[%d]", r.File, r.Index),
		CommonName: r.CommonName,
		Serial:     r.Serial,
		revocation: r,
	}
	cert, err := st.Certificate(ctx, r.Serial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		step.Action = ActionSkip
		step.Detail = fmt.Sprintf("serial %s is unknown", r.Serial)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", step.Where, err)
	case cert.CommonName != r.CommonName:
		step.Action = ActionSkip
		step.Detail = fmt.Sprintf("serial %s belongs to %q, not %q", r.Serial,
			cert.CommonName, r.CommonName)
	case cert.Issuer != issuer:
		step.Action = ActionSkip
		step.Detail = fmt.Sprintf("serial %s was issued by %s; %s lists certificates of %s",
			r.Serial, cert.Issuer, r.File, issuer)
	case cert.Revoked():
		step.Action = ActionAlreadyRevoked
		step.Detail = fmt.Sprintf("since %s (%s)", cert.RevokedAt.UTC().Format(ca.TimeLayout),
			cert.Reason)
	default:
		step.Action = ActionRevoke
		step.Detail = r.Reason.String()
	}
	return step, nil
}

// Changes counts the steps that would change the store.
func (p *Plan) Changes() int {
	n := 0
	for _, s := range p.Steps {
		if s.Action == ActionIssue || s.Action == ActionRevoke {
			n++
		}
	}
	return n
}

// Apply carries out the plan: it issues and revokes, in plan order. It stops at
// the first failure; steps already done stay done (each is durable on its own)
// and are marked Done, so the report can say what happened.
func (p *Plan) Apply(ctx context.Context, c *ca.CA) error {
	for _, s := range p.Steps {
		switch s.Action {
		case ActionIssue:
			issued, err := c.Issue(ctx, s.request, store.SourceGitOps)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", s.Where, s.CommonName, err)
			}
			s.Certificate, s.Serial, s.Done = issued.Certificate, issued.Certificate.Serial, true
		case ActionRevoke:
			_, _, err := c.Revoke(ctx, s.Serial, s.revocation.Reason)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", s.Where, s.CommonName, err)
			}
			s.Done = true
		}
	}
	return nil
}
