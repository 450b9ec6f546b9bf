package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/anchorpki/anchor/store"
)

// rank orders the roles; 0 is not a role.
func rank(r store.Role) int {
	switch r {
	case store.RoleReader:
		return 1
	case store.RoleIssuer:
		return 2
	case store.RoleRevoker:
		return 3
	case store.RoleAdmin:
		return 4
	}
	return 0
}

// authenticate finds the caller and checks that its role reaches need. A
// bearer token takes precedence over a client certificate. On failure it has
// answered 401 or 403 and returns false.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, c *call, need store.Role) bool {
	auth := r.Header.Get("Authorization")
	switch {
	case auth != "":
		secret, ok := bearer(auth)
		if !ok {
			c.unauthorized(w, `Authorization must be "Bearer <token>"`)
			return false
		}
		tok, err := a.svc.TokenByHash(r.Context(), HashToken(secret))
		if errors.Is(err, store.ErrNotFound) || (err == nil && tok.RevokedAt != nil) {
			c.audit("auth.reject", "", "unknown or revoked token")
			c.unauthorized(w, "unknown or revoked token")
			return false
		}
		if err != nil {
			c.internal(w, "token lookup failed", err)
			return false
		}
		c.actor, c.role, c.token = tok.Name, tok.Role, tok

	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && len(a.mtls) > 0:
		actor, role, err := a.clientRole(r, r.TLS)
		if err != nil {
			c.audit("auth.reject", "", err.Error())
			c.unauthorized(w, err.Error())
			return false
		}
		c.actor, c.role = actor, role

	default:
		c.unauthorized(w, "missing Authorization: Bearer <token>")
		return false
	}

	if rank(c.role) < rank(need) {
		msg := fmt.Sprintf("%s has role %s; %s %s needs %s", c.actor, c.role,
			r.Method, r.URL.Path, need)
		c.audit("deny", "", msg)
		c.fail(w, http.StatusForbidden, "forbidden", msg)
		return false
	}
	return true
}

func (c *call) unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="anchor"`)
	c.fail(w, http.StatusUnauthorized, "unauthenticated", msg)
}

// bearer takes the token out of an Authorization header value.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// clientRole maps a TLS client certificate to a role. The certificate must
// chain to this CA's root through its issuing CA, allow client
// authentication, be in the store and not be revoked; its common name, or
// else one of its organizational units, must be a key of Config.MTLSRoles.
func (a *API) clientRole(r *http.Request, cs *tls.ConnectionState) (string, store.Role, error) {
	leaf := cs.PeerCertificates[0]
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.roots,
		Intermediates: a.inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   a.now(),
	})
	if err != nil {
		return "", "", fmt.Errorf("client certificate does not verify against this CA: %v", err)
	}
	rec, err := a.store.Certificate(r.Context(), leaf.SerialNumber)
	if err != nil {
		return "", "", fmt.Errorf("client certificate %s is not in the store", leaf.SerialNumber)
	}
	if rec.Revoked() {
		return "", "", fmt.Errorf("client certificate %s is revoked", leaf.SerialNumber)
	}
	actor := "mtls:" + leaf.Subject.CommonName
	if role, ok := a.mtls[leaf.Subject.CommonName]; ok {
		return actor, role, nil
	}
	for _, ou := range leaf.Subject.OrganizationalUnit {
		if role, ok := a.mtls[ou]; ok {
			return actor, role, nil
		}
	}
	return "", "", fmt.Errorf("client certificate %q maps to no role", leaf.Subject.CommonName)
}

// matchName reports whether name matches the glob pattern. Both are split at
// dots into labels and compared case-insensitively; they must have as many
// labels, and a '*' in a pattern label matches any run of characters within
// that label, never a dot. So "*.devices.example.com" matches
// "a1.devices.example.com" (and the wildcard "*.devices.example.com", which
// names the same set) but not "a.b.devices.example.com" or
// "devices.example.com".
func matchName(pattern, name string) bool {
	pl := strings.Split(strings.ToLower(pattern), ".")
	nl := strings.Split(strings.ToLower(name), ".")
	if len(pl) != len(nl) {
		return false
	}
	for i := range pl {
		if !matchLabel(pl[i], nl[i]) {
			return false
		}
	}
	return true
}

// matchLabel matches one label against a pattern label where '*' stands for
// any run of characters. It backtracks only to the last star, so it runs in
// time proportional to the product of the lengths at worst.
func matchLabel(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchName(p, name) {
			return true
		}
	}
	return false
}
