package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// TokenPrefix starts every token secret, so that a leaked one is recognisable
// (secret scanners can look for it).
const TokenPrefix = "anc_"

// Errors of the token functions that callers branch on.
var (
	// ErrTokenNotFound is returned by RevokeToken for an unknown id or name.
	ErrTokenNotFound = errors.New("api: no such token")
	// ErrTokenExists is returned by CreateToken when an unrevoked token has
	// the name.
	ErrTokenExists = errors.New("an unrevoked token has this name; revoke it first")
)

// HashToken is what the store keeps of a token: the SHA-256 of its secret.
func HashToken(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// TokenSpec describes a token to make.
type TokenSpec struct {
	Name string
	Role store.Role
	// AllowCN and AllowSAN restrict POST /v1/certificates to names matching
	// these glob patterns (see the package documentation). An empty AllowSAN
	// with a non-empty AllowCN holds the SANs to the AllowCN patterns.
	AllowCN  []string
	AllowSAN []string
	// MaxLifetimeDays caps the lifetime of certificates issued with the token;
	// 0 leaves the CA's maximum.
	MaxLifetimeDays int
	// Actor is who makes the token, for the audit trail; empty means "cli".
	Actor string
}

// CreateToken makes a token, stores its hash and returns its secret, which is
// shown once and never again. The creation is recorded in the audit trail.
func CreateToken(ctx context.Context, svc store.Service, spec TokenSpec) (
	string, *store.Token, error) {
	return createToken(ctx, svc, spec, "", time.Now())
}

func createToken(ctx context.Context, svc store.Service, spec TokenSpec, requestID string,
	now time.Time) (string, *store.Token, error) {
	if err := spec.validate(); err != nil {
		return "", nil, err
	}
	existing, err := svc.Tokens(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, t := range existing {
		if t.Name == spec.Name && t.RevokedAt == nil {
			return "", nil, fmt.Errorf("name %q: %w", spec.Name, ErrTokenExists)
		}
	}

	var secretBytes [32]byte
	var idBytes [8]byte
	if _, err := rand.Read(secretBytes[:]); err != nil {
		return "", nil, err
	}
	if _, err := rand.Read(idBytes[:]); err != nil {
		return "", nil, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(secretBytes[:])
	tok := &store.Token{
		ID:              "tok_" + hex.EncodeToString(idBytes[:]),
		Name:            spec.Name,
		Role:            spec.Role,
		Hash:            HashToken(secret),
		AllowCN:         spec.AllowCN,
		AllowSAN:        spec.AllowSAN,
		MaxLifetimeDays: spec.MaxLifetimeDays,
		CreatedAt:       now.UTC().Truncate(time.Second),
	}
	err = svc.CreateToken(ctx, tok)
	if errors.Is(err, store.ErrDuplicateToken) {
		return "", nil, fmt.Errorf("name %q: %w", spec.Name, ErrTokenExists)
	}
	if err != nil {
		return "", nil, fmt.Errorf("store token %q: %w", spec.Name, err)
	}
	actor := spec.Actor
	if actor == "" {
		actor = "cli"
	}
	detail := fmt.Sprintf("name=%s role=%s", tok.Name, tok.Role)
	if err := svc.AppendAudit(ctx, store.AuditRecord{At: now.UTC(), Actor: actor,
		Action: "token.create", RequestID: requestID, Detail: detail}); err != nil {
		return "", nil, fmt.Errorf("audit token creation: %w", err)
	}
	return secret, tok, nil
}

// ListTokens returns every token, revoked ones included. Only hashes are
// stored, so no secret can be listed.
func ListTokens(ctx context.Context, svc store.Service) ([]*store.Token, error) {
	return svc.Tokens(ctx)
}

// RevokeToken revokes the token with this id or name, from the CLI; the next
// request made with it gets 401. It returns ErrTokenNotFound for an unknown
// token. The revocation is recorded in the audit trail with actor "cli".
func RevokeToken(ctx context.Context, svc store.Service, idOrName string) error {
	return revokeToken(ctx, svc, idOrName, "cli", "", time.Now())
}

func revokeToken(ctx context.Context, svc store.Service, idOrName, actor, requestID string,
	now time.Time) error {
	err := svc.RevokeToken(ctx, idOrName, now.UTC().Truncate(time.Second))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrTokenNotFound, idOrName)
	}
	if err != nil {
		return err
	}
	return svc.AppendAudit(ctx, store.AuditRecord{At: now.UTC(), Actor: actor,
		Action: "token.revoke", RequestID: requestID, Detail: idOrName})
}

// maxPatterns bounds the patterns of one token; maxPattern the length of one.
const (
	maxPatterns = 100
	maxPattern  = 253
)

func (s *TokenSpec) validate() error {
	if s.Name == "" || len(s.Name) > 64 {
		return errors.New("name: must be 1 to 64 characters")
	}
	for _, ch := range s.Name {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			strings.ContainsRune("._-@", ch)
		if !ok {
			return fmt.Errorf("name: %q may hold only letters, digits and . _ - @", s.Name)
		}
	}
	if rank(s.Role) == 0 {
		return fmt.Errorf("role: %q is not one of reader, issuer, revoker, admin", s.Role)
	}
	for _, list := range []struct {
		field string
		pats  []string
	}{{"allow_cn", s.AllowCN}, {"allow_san", s.AllowSAN}} {
		if len(list.pats) > maxPatterns {
			return fmt.Errorf("%s: at most %d patterns", list.field, maxPatterns)
		}
		for _, p := range list.pats {
			if p == "" || len(p) > maxPattern || strings.ContainsAny(p, " \t\r\n") {
				return fmt.Errorf("%s: %q is not a pattern (1 to %d characters, no spaces)",
					list.field, p, maxPattern)
			}
		}
	}
	if s.MaxLifetimeDays < 0 {
		return fmt.Errorf("max_lifetime_days: %d is negative", s.MaxLifetimeDays)
	}
	return nil
}

// restricted reports whether a token narrows what it may have issued.
func restricted(t *store.Token) bool {
	return t != nil && (len(t.AllowCN) > 0 || len(t.AllowSAN) > 0 || t.MaxLifetimeDays > 0)
}

// permits checks the certificate the CA would sign against a token's limits
// and returns the refusal, naming the refused name or limit, or "".
func permits(t *store.Token, tmpl *profile.Template) string {
	if len(t.AllowCN) > 0 && !matchAny(t.AllowCN, tmpl.CommonName) {
		return fmt.Sprintf("common name %q is not allowed for token %q (allowed: %s)",
			tmpl.CommonName, t.Name, strings.Join(t.AllowCN, ", "))
	}
	sanPatterns := t.AllowSAN
	if len(sanPatterns) == 0 {
		sanPatterns = t.AllowCN
	}
	if len(sanPatterns) > 0 {
		shown := tmpl.SANStrings()
		for i, s := range tmpl.SANs {
			if !matchAny(sanPatterns, s.Value) {
				return fmt.Sprintf("subject alternative name %s is not allowed for token %q "+
					"(allowed: %s)", shown[i], t.Name, strings.Join(sanPatterns, ", "))
			}
		}
	}
	if t.MaxLifetimeDays > 0 && tmpl.LifetimeDays > t.MaxLifetimeDays {
		return fmt.Sprintf("lifetime of %d days exceeds the maximum of %d days of token %q",
			tmpl.LifetimeDays, t.MaxLifetimeDays, t.Name)
	}
	return ""
}
