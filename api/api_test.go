package api_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/api/apitest"
	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// issue posts a request as role and returns the answer.
func issue(e *apitest.Env, token string, req map[string]any) *apitest.Response {
	e.T.Helper()
	return e.Do("POST", "/v1/certificates", token, req)
}

// mustIssue issues and returns the decoded response.
func mustIssue(t *testing.T, e *apitest.Env, token string, req map[string]any) *ca.Response {
	t.Helper()
	r := issue(e, token, req)
	if r.Status != http.StatusCreated {
		t.Fatalf("issue: status %d: %s", r.Status, r.Body)
	}
	var out ca.Response
	r.JSON(t, &out)
	return &out
}

func leafOf(t *testing.T, resp *ca.Response) *x509.Certificate {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(resp.Base64Certificate)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM in Base64Certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestIssueByRole(t *testing.T) {
	e := apitest.New(t)
	tests := []struct {
		role store.Role
		want int
	}{
		{store.RoleReader, http.StatusForbidden},
		{store.RoleIssuer, http.StatusCreated},
		{store.RoleRevoker, http.StatusCreated},
		{store.RoleAdmin, http.StatusCreated},
	}
	for _, tt := range tests {
		cn := string(tt.role) + ".example.com"
		r := issue(e, e.Tokens[tt.role], apitest.Request(t, cn, nil))
		if r.Status != tt.want {
			t.Fatalf("%s: status %d, want %d: %s", tt.role, r.Status, tt.want, r.Body)
		}
		if tt.want == http.StatusForbidden {
			want := "reader has role reader; POST /v1/certificates needs issuer"
			if r.Error() != want {
				t.Errorf("%s: error %q, want %q", tt.role, r.Error(), want)
			}
			continue
		}
		var resp ca.Response
		r.JSON(t, &resp)
		leaf := leafOf(t, &resp)
		if leaf.Subject.CommonName != cn || resp.CertificateInfo.CommonName != cn {
			t.Errorf("%s: CN %q / %q, want %q", tt.role, leaf.Subject.CommonName,
				resp.CertificateInfo.CommonName, cn)
		}
		if resp.CertificateInfo.SerialNumber != leaf.SerialNumber.String() {
			t.Errorf("SerialNumber %s, certificate has %s", resp.CertificateInfo.SerialNumber,
				leaf.SerialNumber)
		}
		if got := r.Header.Get("Location"); got != "/v1/certificates/"+leaf.SerialNumber.String() {
			t.Errorf("Location %q", got)
		}
		// Recorded before it was returned.
		rec, err := e.Store.Certificate(context.Background(), leaf.SerialNumber)
		if err != nil || rec.Source != store.SourceAPI {
			t.Errorf("stored: %v, %+v", err, rec)
		}
		if err := leaf.CheckSignatureFrom(e.CA.Issuing.Cert); err != nil {
			t.Errorf("not signed by the issuing CA: %v", err)
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := apitest.New(t)
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"missing", "", "missing Authorization: Bearer <token>"},
		{"unknown", "Bearer anc_" + strings.Repeat("A", 43), "unknown or revoked token"},
		{"basic", "Basic dXNlcjpwYXNz", `Authorization must be "Bearer <token>"`},
		{"empty bearer", "Bearer ", `Authorization must be "Bearer <token>"`},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Authorization", tt.header)
		}
		r := e.DoWith(e.Server.Client(), "GET", "/v1/certificates", "", nil, h)
		if r.Status != http.StatusUnauthorized || r.Error() != tt.want {
			t.Errorf("%s: %d %q, want 401 %q", tt.name, r.Status, r.Error(), tt.want)
		}
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", tt.name)
		}
	}

	// A revoked token stops working at once.
	ctx := context.Background()
	secret, _, err := api.CreateToken(ctx, e.Store, api.TokenSpec{Name: "temp",
		Role: store.RoleReader})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Do("GET", "/v1/ca", secret, nil); r.Status != http.StatusOK {
		t.Fatalf("new token: %d %s", r.Status, r.Body)
	}
	if err := api.RevokeToken(ctx, e.Store, "temp"); err != nil {
		t.Fatal(err)
	}
	if r := e.Do("GET", "/v1/ca", secret, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d %s", r.Status, r.Body)
	}
	if err := api.RevokeToken(ctx, e.Store, "nobody"); err == nil {
		t.Fatal("revoking an unknown token succeeded")
	}
	// The name is free again once revoked, and taken while not.
	if _, _, err := api.CreateToken(ctx, e.Store, api.TokenSpec{Name: "temp",
		Role: store.RoleReader}); err != nil {
		t.Fatalf("reuse of a revoked token's name: %v", err)
	}
	_, _, err = api.CreateToken(ctx, e.Store, api.TokenSpec{Name: "temp", Role: store.RoleReader})
	if err == nil || !strings.Contains(err.Error(), "revoke it first") {
		t.Fatalf("duplicate name: %v", err)
	}
}

func TestTokenSecretsAreRandomAndHashed(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	re := regexp.MustCompile(`^anc_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for i := range 5 {
		secret, tok, err := api.CreateToken(ctx, e.Store, api.TokenSpec{
			Name: fmt.Sprintf("t%d", i), Role: store.RoleReader})
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(secret) || seen[secret] {
			t.Fatalf("secret %q: not of the form or repeated", secret)
		}
		seen[secret] = true
		if tok.Hash != api.HashToken(secret) {
			t.Fatal("stored hash is not the SHA-256 of the secret")
		}
	}
	toks, err := api.ListTokens(ctx, e.Store)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 4+5 {
		t.Fatalf("%d tokens, want 9", len(toks))
	}
}

func TestIssuerPatterns(t *testing.T) {
	e := apitest.New(t)
	secret, _, err := api.CreateToken(context.Background(), e.Store, api.TokenSpec{
		Name: "devices", Role: store.RoleIssuer,
		AllowCN: []string{"*.devices.example.com"}, MaxLifetimeDays: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cn      string
		extra   map[string]any
		status  int
		message string
	}{
		{"inside", "a1.devices.example.com", map[string]any{"lifetime": 7}, 201, ""},
		{"cn outside", "evil.example.com", map[string]any{"lifetime": 1}, 403,
			`common name "evil.example.com" is not allowed for token "devices" ` +
				`(allowed: *.devices.example.com)`},
		{"two labels", "a.b.devices.example.com", map[string]any{"lifetime": 1}, 403,
			`common name "a.b.devices.example.com" is not allowed for token "devices" ` +
				`(allowed: *.devices.example.com)`},
		{"san outside", "a2.devices.example.com", map[string]any{"lifetime": 1,
			"sans": []string{"a2.devices.example.com", "bank.example.com"}}, 403,
			`subject alternative name DNS:bank.example.com is not allowed for token ` +
				`"devices" (allowed: *.devices.example.com)`},
		{"lifetime over", "a3.devices.example.com", map[string]any{"lifetime": 30}, 403,
			`lifetime of 30 days exceeds the maximum of 7 days of token "devices"`},
		{"default lifetime over", "a4.devices.example.com", nil, 403,
			`lifetime of 30 days exceeds the maximum of 7 days of token "devices"`},
		// The profile's refusals come first and keep their status.
		{"profile first", "a5.devices.example.com", map[string]any{"lifetime": 0}, 422,
			"0 is too short"},
	}
	for _, tt := range tests {
		r := issue(e, secret, apitest.Request(t, tt.cn, tt.extra))
		if r.Status != tt.status || r.Error() != tt.message {
			t.Errorf("%s: %d %q, want %d %q", tt.name, r.Status, r.Error(), tt.status,
				tt.message)
		}
	}
	// Nothing refused was recorded.
	certs, err := e.Store.List(context.Background(), store.Filter{Issuer: e.CA.Issuing.Slug})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || certs[0].CommonName != "a1.devices.example.com" {
		t.Fatalf("stored %d certificates, want only a1", len(certs))
	}
}

func TestCompatErrors(t *testing.T) {
	e := apitest.NewWith(t, apitest.Options{Policy: &profile.Policy{
		ExtensionAllowlist: []string{"1.2.3.4"}}})
	tok := e.Tokens[store.RoleIssuer]

	tampered := func() string {
		csr := apitest.CSR(t, apitest.Key(t), "t.example.com")
		block, _ := pem.Decode(csr)
		block.Bytes[len(block.Bytes)-3] ^= 0x40 // inside the signature
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(block))
	}
	rsaCSR := func(bits int) string {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(apitest.CSR(t, k, "rsa.example.com"))
	}
	noCN := func() string {
		der, err := x509.CreateCertificateRequest(rand.Reader,
			&x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"X"}}},
			apitest.Key(t))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	used := apitest.Request(t, "used.example.com", nil)
	mustIssue(t, e, tok, used)

	tests := []struct {
		name   string
		body   any
		status int
		want   string // exact message, or a prefix when it ends in "..."
	}{
		{"tampered CSR", map[string]any{"common_name": "t.example.com",
			"base64_csr_data": tampered()}, 422,
			"base64_csr_data: the CSR signature does not verify..."},
		{"RSA-1024", map[string]any{"common_name": "rsa.example.com",
			"base64_csr_data": rsaCSR(1024)}, 422, "base64_csr_data: ..."},
		{"3-letter country", apitest.Request(t, "c.example.com",
			map[string]any{"country": "USA"}), 422, `country must be exactly 2 letters, not "USA"`},
		{"lifetime 0", apitest.Request(t, "l.example.com", map[string]any{"lifetime": 0}), 422,
			"0 is too short"},
		{"lifetime -5", apitest.Request(t, "l.example.com", map[string]any{"lifetime": -5}), 422,
			"-5 is too short"},
		{"no common name", map[string]any{"base64_csr_data": noCN()}, 422,
			"CSR must include a Common Name"},
		{"key reuse", used, 422, "Private key has already been used for a certificate"},
		{"extension without oid", apitest.Request(t, "x.example.com", map[string]any{
			"extensions": []any{map[string]any{"value_b64": "AAA="}}}), 422,
			"Custom extension is missing required field 'oid'"},
		{"reserved extension", apitest.Request(t, "x.example.com", map[string]any{
			"extensions": []any{map[string]any{"oid": "2.5.29.17", "value_b64": "AAA="}}}), 422,
			"Custom extension OID 2.5.29.17 is reserved and cannot be set by callers"},
		{"extension not allowlisted", apitest.Request(t, "x.example.com", map[string]any{
			"extensions": []any{map[string]any{"oid": "1.2.3.5", "value_b64": "AAA="}}}), 422,
			"Custom extension OID 1.2.3.5 is not in the configured allowlist"},
		{"extension bad base64", apitest.Request(t, "x.example.com", map[string]any{
			"extensions": []any{map[string]any{"oid": "1.2.3.4", "value_b64": "@@"}}}), 422,
			"Custom extension OID 1.2.3.4 has an invalid base64 value"},
		{"extension without value", apitest.Request(t, "x.example.com", map[string]any{
			"extensions": []any{map[string]any{"oid": "1.2.3.4"}}}), 422,
			"Custom extension OID 1.2.3.4 is missing required field 'value_b64'"},
		{"extension twice", apitest.Request(t, "x.example.com", map[string]any{
			"extensions": []any{map[string]any{"oid": "1.2.3.4", "value_b64": "AAA="},
				map[string]any{"oid": "1.2.3.4", "value_b64": "AAA="}}}), 422,
			"Custom extension OID 1.2.3.4 is specified more than once"},
		{"no CSR", map[string]any{"common_name": "x.example.com"}, 422, "base64_csr_data..."},
		{"lifetime string", apitest.Request(t, "x.example.com", map[string]any{"lifetime": "30"}),
			400, "lifetime..."},
		{"not JSON", "{not json", 400, "request is not valid JSON..."},
		{"array", "[]", 400, "request must be a JSON object"},
		{"empty", "", 400, "request is empty"},
	}
	for _, tt := range tests {
		r := e.Do("POST", "/v1/certificates", tok, tt.body)
		msg := r.Error()
		ok := msg == tt.want
		if p, cut := strings.CutSuffix(tt.want, "..."); cut {
			ok = strings.HasPrefix(msg, p) && len(msg) > len(p)
		}
		if r.Status != tt.status || !ok {
			t.Errorf("%s: %d %q, want %d %q", tt.name, r.Status, msg, tt.status, tt.want)
		}
	}
}

func TestCAChainOnly(t *testing.T) {
	e := apitest.New(t)
	r := issue(e, e.Tokens[store.RoleIssuer], map[string]any{"ca_chain_only": true})
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var raw map[string]any
	r.JSON(t, &raw)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"Base64CaChain", "Base64IssuingCaCertificate", "Base64RootCaCertificate"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
}

func TestRevoke(t *testing.T) {
	e := apitest.New(t)
	resp := mustIssue(t, e, e.Tokens[store.RoleIssuer], apitest.Request(t, "r.example.com", nil))
	serial := resp.CertificateInfo.SerialNumber
	path := "/v1/certificates/" + serial + "/revoke"
	body := map[string]string{"reason": "keyCompromise"}

	if r := e.Do("POST", path, e.Tokens[store.RoleIssuer], body); r.Status != 403 {
		t.Fatalf("issuer revoked: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", path, e.Tokens[store.RoleRevoker], body)
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	var first api.Revocation
	r.JSON(t, &first)
	if first.Serial != serial || !first.Changed || first.Reason != "keyCompromise" ||
		first.CommonName != "r.example.com" {
		t.Fatalf("revocation %+v", first)
	}
	// Idempotent: the second call changes nothing and reports the first.
	r = e.Do("POST", path, e.Tokens[store.RoleAdmin], map[string]string{"reason": "superseded"})
	var second api.Revocation
	r.JSON(t, &second)
	if r.Status != 200 || second.Changed || second.Reason != "keyCompromise" ||
		!second.RevokedAt.Equal(first.RevokedAt) {
		t.Fatalf("second revoke: %d %+v", r.Status, second)
	}

	g := e.Do("GET", "/v1/certificates/"+serial, e.Tokens[store.RoleReader], nil)
	var got api.Certificate
	g.JSON(t, &got)
	if got.Status != "revoked" || got.Reason != "keyCompromise" || got.RevokedAt == nil {
		t.Fatalf("after revoke: %+v", got)
	}

	tests := []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		{"unknown serial", "/v1/certificates/12345/revoke", nil, 404,
			"certificate 12345 not found"},
		{"not decimal", "/v1/certificates/0x10/revoke", nil, 400,
			`serial: "0x10" is not a decimal serial number`},
		{"zero", "/v1/certificates/0/revoke", nil, 400,
			`serial: "0" is not a positive serial number below 2^160`},
		{"bad reason", path, map[string]string{"reason": "certificateHold"}, 400,
			`reason: reason "certificateHold" is not supported: Anchor has no certificate holds`},
		{"unknown key", path, map[string]string{"reasons": "x"}, 400,
			`request body: json: unknown field "reasons"`},
		{"trailing data", path, `{"reason":"superseded"} {}`, 400,
			"request body has data after the JSON value"},
		{"CA certificate", "/v1/certificates/" + e.CA.Issuing.Cert.SerialNumber.String() +
			"/revoke", nil, 422, "certificate " + e.CA.Issuing.Cert.SerialNumber.String() +
			" was issued by " + e.CA.Root.Slug + ", not by the issuing CA " +
			e.CA.Issuing.Slug + "; revoke CA certificates with revoked_root in /v1/apply"},
	}
	for _, tt := range tests {
		r := e.Do("POST", tt.path, e.Tokens[store.RoleRevoker], tt.body)
		if r.Status != tt.status || r.Error() != tt.want {
			t.Errorf("%s: %d %q, want %d %q", tt.name, r.Status, r.Error(), tt.status, tt.want)
		}
	}
	// An empty body means unspecified.
	other := mustIssue(t, e, e.Tokens[store.RoleIssuer], apitest.Request(t, "o.example.com", nil))
	r = e.Do("POST", "/v1/certificates/"+other.CertificateInfo.SerialNumber+"/revoke",
		e.Tokens[store.RoleRevoker], nil)
	var rev api.Revocation
	r.JSON(t, &rev)
	if r.Status != 200 || rev.Reason != "unspecified" {
		t.Fatalf("empty body: %d %s", r.Status, r.Body)
	}
}

func TestListFilters(t *testing.T) {
	e := apitest.New(t)
	tok := e.Tokens[store.RoleIssuer]
	serials := map[string]string{}
	for _, x := range []struct {
		cn       string
		lifetime int
	}{{"a.example.com", 1}, {"b.example.com", 30}, {"c.example.com", 30}, {"a.example.com", 30}} {
		resp := mustIssue(t, e, tok, apitest.Request(t, x.cn,
			map[string]any{"lifetime": x.lifetime}))
		serials[resp.CertificateInfo.SerialNumber] = x.cn
	}
	var revoked string
	for s, cn := range serials {
		if cn == "b.example.com" {
			revoked = s
		}
	}
	if r := e.Do("POST", "/v1/certificates/"+revoked+"/revoke", e.Tokens[store.RoleRevoker],
		nil); r.Status != 200 {
		t.Fatal(r.Status)
	}

	list := func(query string) (*api.CertificateList, *apitest.Response) {
		r := e.Do("GET", "/v1/certificates"+query, e.Tokens[store.RoleReader], nil)
		var out api.CertificateList
		if r.Status == 200 {
			r.JSON(t, &out)
		}
		return &out, r
	}
	iss := "issuer=" + e.CA.Issuing.Slug
	soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		query string
		want  []string // common names, in any order
	}{
		{"?" + iss, []string{"a.example.com", "a.example.com", "b.example.com", "c.example.com"}},
		{"?cn=a.example.com", []string{"a.example.com", "a.example.com"}},
		{"?status=revoked", []string{"b.example.com"}},
		{"?status=valid&" + iss, []string{"a.example.com", "a.example.com", "c.example.com"}},
		{"?status=expired", nil},
		{"?expiring_before=" + soon, []string{"a.example.com"}},
		{"?cn=c.example.com&status=revoked", nil},
	}
	for _, tt := range tests {
		out, r := list(tt.query)
		if r.Status != 200 {
			t.Errorf("%s: %d %s", tt.query, r.Status, r.Body)
			continue
		}
		var got []string
		for _, c := range out.Certificates {
			got = append(got, c.CommonName)
			if c.PEM != "" {
				t.Errorf("%s: list carries PEM", tt.query)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}

	// Pages of two cover everything once, in serial order.
	all, _ := list("")
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		out, r := list(q)
		if r.Status != 200 || len(out.Certificates) > 2 || pages > 10 {
			t.Fatalf("page %d: %d %s", pages, r.Status, r.Body)
		}
		for _, c := range out.Certificates {
			paged = append(paged, c.Serial)
		}
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
	}
	var whole []string
	for _, c := range all.Certificates {
		whole = append(whole, c.Serial)
	}
	if len(whole) != 6 || !slices.Equal(paged, whole) { // 4 leaves, root and issuing
		t.Fatalf("paged %v, whole %v", paged, whole)
	}

	bad := []struct{ query, want string }{
		{"?status=gone", `status: "gone" is not one of valid, revoked, expired`},
		{"?expiring_before=tomorrow",
			`expiring_before: "tomorrow" is neither an RFC 3339 time nor a date (2006-01-02)`},
		{"?limit=0", `limit: "0" is not a number from 1 to 1000`},
		{"?limit=1001", `limit: "1001" is not a number from 1 to 1000`},
		{"?cursor=abc", "cursor: not a cursor this server handed out"},
		{"?state=valid", `unknown query parameter "state" (known: cn, status, ` +
			`expiring_before, issuer, limit, cursor)`},
	}
	for _, tt := range bad {
		_, r := list(tt.query)
		if r.Status != 400 || r.Error() != tt.want {
			t.Errorf("%s: %d %q, want 400 %q", tt.query, r.Status, r.Error(), tt.want)
		}
	}
	// A date works as well as a timestamp.
	out, _ := list("?expiring_before=" + time.Now().AddDate(0, 0, 2).UTC().Format(time.DateOnly) +
		"&" + iss)
	if len(out.Certificates) > 1 {
		t.Fatalf("date filter: %d certificates", len(out.Certificates))
	}
}

func TestGetCertificate(t *testing.T) {
	e := apitest.New(t)
	resp := mustIssue(t, e, e.Tokens[store.RoleIssuer], apitest.Request(t, "g.example.com", nil))
	r := e.Do("GET", "/v1/certificates/"+resp.CertificateInfo.SerialNumber,
		e.Tokens[store.RoleReader], nil)
	var got api.Certificate
	r.JSON(t, &got)
	leaf := leafOf(t, resp)
	block, _ := pem.Decode([]byte(got.PEM))
	if r.Status != 200 || block == nil || string(block.Bytes) != string(leaf.Raw) {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	if got.Status != "valid" || got.Issuer != e.CA.Issuing.Slug || got.Source != "api" ||
		!got.NotAfter.Equal(leaf.NotAfter) || got.Subject != "CN=g.example.com" {
		t.Fatalf("get: %+v", got)
	}
	if r := e.Do("GET", "/v1/certificates/99", e.Tokens[store.RoleReader], nil); r.Status != 404 {
		t.Fatalf("unknown: %d", r.Status)
	}
}

func TestCAInfo(t *testing.T) {
	e := apitest.New(t)
	r := e.Do("GET", "/v1/ca", e.Tokens[store.RoleReader], nil)
	var info api.CAInfo
	r.JSON(t, &info)
	root, issuing := string(e.CA.Root.PEM()), string(e.CA.Issuing.PEM())
	if r.Status != 200 || info.Root.PEM != root || info.Issuing.PEM != issuing ||
		info.ChainPEM != issuing+root || info.BundlePEM != root+issuing ||
		info.Root.Slug != e.CA.Root.Slug || info.Issuing.Slug != e.CA.Issuing.Slug {
		t.Fatalf("ca: %d %+v", r.Status, info)
	}
}

func TestPublishCRL(t *testing.T) {
	e := apitest.New(t)
	if r := e.Do("POST", "/v1/crl", e.Tokens[store.RoleIssuer], nil); r.Status != 403 {
		t.Fatalf("issuer published: %d", r.Status)
	}
	var numbers []string
	for range 2 {
		r := e.Do("POST", "/v1/crl", e.Tokens[store.RoleRevoker], "{}")
		var res api.CRLResult
		r.JSON(t, &res)
		if r.Status != 200 || len(res.CRLs) != 2 || res.CRLs[0].Issuer != e.CA.Root.Slug ||
			res.CRLs[1].Issuer != e.CA.Issuing.Slug {
			t.Fatalf("crl: %d %s", r.Status, r.Body)
		}
		numbers = append(numbers, res.CRLs[1].Number)
	}
	if numbers[0] == numbers[1] {
		t.Fatalf("CRL numbers did not advance: %v", numbers)
	}
	if r := e.Do("POST", "/v1/crl", e.Tokens[store.RoleRevoker], `{"now":true}`); r.Status != 400 {
		t.Fatalf("unknown key: %d", r.Status)
	}
}

func TestApply(t *testing.T) {
	e := apitest.New(t)
	admin := e.Tokens[store.RoleAdmin]
	key := apitest.Key(t)
	body := map[string]any{
		"tls": []any{map[string]any{"common_name": "web.example.com", "csr_file": "web.csr",
			"lifetime": 10, "unknown_key_is_fine": 1}},
		"csrs": map[string]string{"web.csr": string(apitest.CSR(t, key, "web.example.com"))},
	}
	count := func() int {
		certs, err := e.Store.List(context.Background(), store.Filter{Issuer: e.CA.Issuing.Slug})
		if err != nil {
			t.Fatal(err)
		}
		return len(certs)
	}

	if r := e.Do("POST", "/v1/apply", e.Tokens[store.RoleRevoker], body); r.Status != 403 {
		t.Fatalf("revoker applied: %d", r.Status)
	}
	r := e.Do("POST", "/v1/apply?dry_run=true", admin, body)
	var plan api.ApplyResult
	r.JSON(t, &plan)
	if r.Status != 200 || !plan.DryRun || plan.Changes != 1 || len(plan.Steps) != 1 ||
		plan.Steps[0].Action != "issue" || plan.Steps[0].Done || count() != 0 {
		t.Fatalf("dry run: %d %s (stored %d)", r.Status, r.Body, count())
	}

	r = e.Do("POST", "/v1/apply", admin, body)
	var done api.ApplyResult
	r.JSON(t, &done)
	if r.Status != 200 || done.Changes != 1 || !done.Steps[0].Done || done.Steps[0].Serial == "" ||
		count() != 1 {
		t.Fatalf("apply: %d %s", r.Status, r.Body)
	}
	serial := done.Steps[0].Serial
	rec, err := e.Store.Certificate(context.Background(), mustSerial(t, serial))
	if err != nil || rec.Source != store.SourceGitOps {
		t.Fatalf("stored: %v %+v", err, rec)
	}

	// Again, with a revocation: the request is already issued, the
	// revocation is carried out.
	body["revoked"] = []any{map[string]any{"common_name": "web.example.com",
		"serial_number": serial, "reason": "superseded"}}
	r = e.Do("POST", "/v1/apply", admin, body)
	var again api.ApplyResult
	r.JSON(t, &again)
	if r.Status != 200 || len(again.Steps) != 2 || again.Steps[0].Action != "already issued" ||
		again.Steps[1].Action != "revoke" || !again.Steps[1].Done {
		t.Fatalf("second apply: %d %s", r.Status, r.Body)
	}

	bad := []struct {
		name   string
		query  string
		body   any
		status int
		want   string
	}{
		{"unknown top-level key", "", map[string]any{"tlss": []any{}}, 400,
			`request body: json: unknown field "tlss"`},
		{"missing CSR file", "", map[string]any{"tls": []any{map[string]any{
			"common_name": "x.example.com", "csr_file": "x.csr"}}}, 400,
			"tls.json[0]: csr_file csrs/x.csr: not in csrs"},
		{"escaping csr_file", "", map[string]any{"tls": []any{map[string]any{
			"common_name": "x.example.com", "csr_file": "../x.csr"}}}, 400,
			`tls.json[0]: csr_file: "../x.csr" must name a file under csrs/`},
		{"bad serial", "", map[string]any{"revoked": []any{map[string]any{
			"common_name": "x", "serial_number": "x1"}}}, 400,
			"revoked.json[0]: serial_number: \"x1\" is not a positive decimal serial number"},
		{"rejected request", "", map[string]any{"tls": []any{map[string]any{
			"common_name": "z.example.com", "csr_file": "z.csr", "lifetime": 0}},
			"csrs": map[string]string{"z.csr": string(apitest.CSR(t, apitest.Key(t), "z"))}},
			422, "1 request(s) rejected, nothing applied"},
		{"bad dry_run", "?dry_run=maybe", body, 400, `dry_run: "maybe" is not true or false`},
		{"empty body", "", "", 400, "request body is empty"},
	}
	for _, tt := range bad {
		r := e.Do("POST", "/v1/apply"+tt.query, admin, tt.body)
		if r.Status != tt.status || r.Error() != tt.want {
			t.Errorf("%s: %d %q, want %d %q", tt.name, r.Status, r.Error(), tt.status, tt.want)
		}
		if tt.status == 422 {
			var e api.Error
			r.JSON(t, &e)
			want := []string{"tls.json[0] (z.example.com): 0 is too short"}
			if !slices.Equal(e.Rejections, want) {
				t.Errorf("%s: rejections %q, want %q", tt.name, e.Rejections, want)
			}
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := apitest.New(t)
	const size = 5 << 20

	// Over the network: refused with 413.
	r := e.Do("POST", "/v1/certificates", e.Tokens[store.RoleIssuer],
		strings.Repeat(" ", size))
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("5 MiB body: %d %s", r.Status, r.Body)
	}

	// Without a Content-Length (chunked), the handler reads at most the limit
	// and one byte more; with one, it reads nothing.
	for _, declared := range []bool{false, true} {
		for _, path := range []string{"/v1/certificates", "/v1/apply"} {
			body := &countingReader{left: size}
			req := httptest.NewRequest("POST", path, body)
			req.ContentLength = -1
			if declared {
				req.ContentLength = size
			}
			req.Header.Set("Authorization", "Bearer "+e.Tokens[store.RoleAdmin])
			rec := httptest.NewRecorder()
			e.API.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s declared=%v: %d %s", path, declared, rec.Code, rec.Body)
			}
			limit := int64(api.MaxBodySize + 1)
			if declared {
				limit = 0
			}
			if body.read > limit {
				t.Errorf("%s declared=%v: read %d bytes, want at most %d", path, declared,
					body.read, limit)
			}
		}
	}
}

// countingReader yields left bytes of spaces and counts what was read.
type countingReader struct {
	left, read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, c.left)
	for i := range n {
		p[i] = ' '
	}
	c.left -= n
	c.read += n
	return int(n), nil
}

func TestOpenAPICoverage(t *testing.T) {
	e := apitest.New(t)
	r := e.Do("GET", "/v1/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi: %d", r.Status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.JSON(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	routes := api.Routes()
	slices.Sort(routes)
	if !slices.Equal(documented, routes) {
		t.Fatalf("documented %v\nserved %v", documented, routes)
	}

	// Each documented operation reaches a handler: without a token it gets
	// 401 (or 200 for the public document), never the mux's 404 or 405.
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{serial}", "1", "{name}", "x").Replace(path)
		r := e.Do(method, path, "", nil)
		want := http.StatusUnauthorized
		if path == "/v1/openapi.json" {
			want = http.StatusOK
		}
		if r.Status != want {
			t.Errorf("%s: status %d, want %d", op, r.Status, want)
		}
	}
	// An undocumented path or method is not served, and says so in JSON.
	r = e.Do("GET", "/v1/nothing", e.Tokens[store.RoleAdmin], nil)
	if r.Status != 404 || r.Error() != "no endpoint GET /v1/nothing" {
		t.Errorf("undocumented path: %d %s", r.Status, r.Body)
	}
	r = e.Do("DELETE", "/v1/certificates/12", e.Tokens[store.RoleAdmin], nil)
	if r.Status != 405 || r.Header.Get("Allow") != "GET" ||
		r.Error() != "DELETE /v1/certificates/12 is not served; use GET" {
		t.Errorf("wrong method: %d %s", r.Status, r.Body)
	}
	r = e.Do("PUT", "/v1/certificates", "", nil)
	if r.Status != 405 || r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("wrong method: %d %s %v", r.Status, r.Body, r.Header)
	}
}

func TestMetrics(t *testing.T) {
	e := apitest.New(t)
	mustIssue(t, e, e.Tokens[store.RoleIssuer], apitest.Request(t, "m1.example.com", nil))
	resp := mustIssue(t, e, e.Tokens[store.RoleIssuer], apitest.Request(t, "m2.example.com", nil))
	e.Do("POST", "/v1/certificates/"+resp.CertificateInfo.SerialNumber+"/revoke",
		e.Tokens[store.RoleRevoker], nil)
	issue(e, e.Tokens[store.RoleReader], apitest.Request(t, "m3.example.com", nil))
	issue(e, e.Tokens[store.RoleIssuer], apitest.Request(t, "m4.example.com",
		map[string]any{"lifetime": 0}))
	e.Do("GET", "/v1/ca", "", nil)
	r := e.Do("POST", "/v1/crl", e.Tokens[store.RoleRevoker], nil)
	var crls api.CRLResult
	r.JSON(t, &crls)

	m := e.Do("GET", "/metrics", "", nil)
	if m.Status != 200 || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", m.Status, m.Header.Get("Content-Type"))
	}
	text := string(m.Body)
	issuing := e.CA.Issuing.Slug
	want := []string{
		"# TYPE anchor_certificates_issued_total counter",
		"anchor_certificates_issued_total 2",
		"# TYPE anchor_certificates_revoked_total counter",
		"anchor_certificates_revoked_total 1",
		"# TYPE anchor_requests_rejected_total counter",
		`anchor_requests_rejected_total{reason="forbidden"} 1`,
		`anchor_requests_rejected_total{reason="profile"} 1`,
		`anchor_requests_rejected_total{reason="unauthenticated"} 1`,
		"# TYPE anchor_crl_number gauge",
		fmt.Sprintf(`anchor_crl_number{issuer=%q} %s`, issuing, crls.CRLs[1].Number),
		"# TYPE anchor_crl_age_seconds gauge",
		"# TYPE anchor_crl_next_update_seconds gauge",
		"# TYPE anchor_crl_entries gauge",
		fmt.Sprintf(`anchor_crl_entries{issuer=%q} 1`, issuing),
		"# TYPE anchor_http_request_duration_seconds histogram",
		`anchor_http_request_duration_seconds_count{route="POST /v1/certificates",code="201"} 2`,
		`anchor_http_request_duration_seconds_bucket{route="POST /v1/certificates",` +
			`code="201",le="+Inf"} 2`,
		`anchor_http_request_duration_seconds_count{route="POST /v1/certificates",code="403"} 1`,
		`anchor_http_request_duration_seconds_count{route="POST /v1/certificates",code="422"} 1`,
	}
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("metrics lack %q", w)
		}
	}
	// The gauges are computed at scrape time: nextUpdate is about a day and
	// ten minutes away, thisUpdate just past.
	re := regexp.MustCompile(`anchor_crl_next_update_seconds\{issuer="` + issuing +
		`"\} ([0-9.]+)`)
	mm := re.FindStringSubmatch(text)
	if mm == nil {
		t.Fatal("no next update gauge")
	}
	var secs float64
	fmt.Sscan(mm[1], &secs)
	if secs < 86400 || secs > 87000 {
		t.Errorf("next update in %v s, want about 87000", secs)
	}

	// Every sample line is well-formed text exposition.
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? ` +
		`-?[0-9.]+(e[-+][0-9]+)?$`)
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			continue
		}
		if !sample.MatchString(line) {
			t.Errorf("malformed sample %q", line)
		}
	}
}

func TestRequestIDsAndLogs(t *testing.T) {
	e := apitest.New(t)
	tok := e.Tokens[store.RoleIssuer]
	r := e.DoWith(e.Server.Client(), "POST", "/v1/certificates", tok,
		apitest.Request(t, "id.example.com", nil), http.Header{"X-Request-Id": {"build-42.7"}})
	if r.Status != 201 || r.Header.Get("X-Request-Id") != "build-42.7" {
		t.Fatalf("kept id: %d %q", r.Status, r.Header.Get("X-Request-Id"))
	}
	var resp ca.Response
	r.JSON(t, &resp)
	r2 := e.DoWith(e.Server.Client(), "GET", "/v1/ca", "", nil,
		http.Header{"X-Request-Id": {"bad id with spaces"}})
	gen := r2.Header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(gen) {
		t.Fatalf("generated id %q", gen)
	}
	if r3 := e.Do("GET", "/metrics", "", nil); r3.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id on /metrics")
	}

	// Every log line has a request id; one line per request names the
	// token; no secret appears.
	var reqLines int
	sc := bufio.NewScanner(strings.NewReader(e.Logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["request_id"] == nil || line["request_id"] == "" {
			t.Errorf("log line without request_id: %s", sc.Text())
		}
		if line["msg"] == "request" && line["request_id"] == "build-42.7" {
			reqLines++
			if line["token"] != "issuer" || line["method"] != "POST" ||
				line["path"] != "/v1/certificates" || line["status"] != float64(201) ||
				line["duration"] == nil {
				t.Errorf("request line %s", sc.Text())
			}
		}
	}
	if reqLines != 1 {
		t.Errorf("%d request lines for build-42.7, want 1", reqLines)
	}
	for _, secret := range e.Tokens {
		if strings.Contains(e.Logs.String(), secret) {
			t.Fatal("a token secret is in the logs")
		}
	}

	// The audit trail has the issuance with actor, serial and request id.
	a := e.Do("GET", "/v1/audit?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		e.Tokens[store.RoleAdmin], nil)
	var trail api.AuditList
	a.JSON(t, &trail)
	found := false
	for _, rec := range trail.Records {
		if rec.Action == "issue" && rec.RequestID == "build-42.7" && rec.Actor == "issuer" &&
			rec.Serial == resp.CertificateInfo.SerialNumber {
			found = true
		}
	}
	if a.Status != 200 || !found {
		t.Fatalf("audit: %d, no issue record in %s", a.Status, a.Body)
	}
	if r := e.Do("GET", "/v1/audit", e.Tokens[store.RoleRevoker], nil); r.Status != 403 {
		t.Fatalf("revoker read the audit trail: %d", r.Status)
	}
}

func TestAuditTrail(t *testing.T) {
	e := apitest.New(t)
	resp := mustIssue(t, e, e.Tokens[store.RoleIssuer], apitest.Request(t, "au.example.com", nil))
	serial := resp.CertificateInfo.SerialNumber
	issue(e, e.Tokens[store.RoleIssuer], apitest.Request(t, "au.example.com",
		map[string]any{"lifetime": 0}))
	e.Do("POST", "/v1/certificates/"+serial+"/revoke", e.Tokens[store.RoleRevoker], nil)
	e.Do("GET", "/v1/ca", e.Tokens[store.RoleReader], nil)
	e.Do("GET", "/v1/ca", "anc_unknown", nil)
	issue(e, e.Tokens[store.RoleReader], apitest.Request(t, "no.example.com", nil))

	r := e.Do("GET", "/v1/audit", e.Tokens[store.RoleAdmin], nil)
	var trail api.AuditList
	r.JSON(t, &trail)
	var got []string
	for _, rec := range trail.Records {
		if rec.RequestID == "" && rec.Actor != "cli" {
			t.Errorf("record without request id: %+v", rec)
		}
		got = append(got, rec.Actor+" "+rec.Action+" "+rec.Serial)
	}
	want := []string{
		"cli token.create ", "cli token.create ", "cli token.create ", "cli token.create ",
		"issuer issue " + serial,
		"issuer reject ",
		"revoker revoke " + serial,
		"reader token.use ",
		" auth.reject ",
		"reader deny ",
		"admin audit.read ",
	}
	// Token creation by the CLI has no request id; compare the rest.
	if len(got) != len(want) {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestTokenEndpoints(t *testing.T) {
	e := apitest.New(t)
	admin := e.Tokens[store.RoleAdmin]
	r := e.Do("POST", "/v1/tokens", admin, api.TokenRequest{Name: "robot", Role: "issuer",
		AllowCN: []string{"*.robots.example.com"}, MaxLifetimeDays: 3})
	var nt api.NewToken
	r.JSON(t, &nt)
	if r.Status != 201 || !strings.HasPrefix(nt.Token, api.TokenPrefix) ||
		nt.Info.Name != "robot" || nt.Info.MaxLifetimeDays != 3 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := issue(e, nt.Token, apitest.Request(t, "r1.robots.example.com",
		map[string]any{"lifetime": 3})); r.Status != 201 {
		t.Fatalf("robot issue: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/v1/tokens", admin, api.TokenRequest{Name: "robot",
		Role: "reader"}); r.Status != 409 {
		t.Fatalf("duplicate: %d %s", r.Status, r.Body)
	}
	r = e.Do("POST", "/v1/tokens", admin, map[string]any{"name": "x", "role": "god"})
	if r.Status != 400 ||
		r.Error() != `role: "god" is not one of reader, issuer, revoker, admin` {
		t.Fatalf("bad role: %d %s", r.Status, r.Body)
	}
	l := e.Do("GET", "/v1/tokens", admin, nil)
	var list api.TokenList
	l.JSON(t, &list)
	if len(list.Tokens) != 5 || strings.Contains(string(l.Body), nt.Token) {
		t.Fatalf("list: %s", l.Body)
	}
	if r := e.Do("POST", "/v1/tokens/robot/revoke", admin, nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/v1/ca", nt.Token, nil); r.Status != 401 {
		t.Fatalf("revoked robot: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/tokens/ghost/revoke", admin, nil); r.Status != 404 {
		t.Fatalf("revoke unknown: %d", r.Status)
	}
}

func TestReady(t *testing.T) {
	e := apitest.New(t)
	r := e.Do("GET", "/readyz", "", nil)
	if r.Status != 200 || string(r.Body) != "ready\n" {
		t.Fatalf("ready: %d %q", r.Status, r.Body)
	}
	e.Store.Close()
	r = e.Do("GET", "/readyz", "", nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("closed store: %d %q", r.Status, r.Body)
	}
}

func TestMTLS(t *testing.T) {
	e := apitest.NewWith(t, apitest.Options{MTLSRoles: map[string]store.Role{
		"ops-robot": store.RoleRevoker,
		"Readers":   store.RoleReader, // an OU
	}})
	ctx := context.Background()
	clientFor := func(cn string, extra map[string]any) (*http.Client, string) {
		key := apitest.Key(t)
		req := map[string]any{"common_name": cn,
			"base64_csr_data": base64.StdEncoding.EncodeToString(apitest.CSR(t, key, cn))}
		for k, v := range extra {
			req[k] = v
		}
		resp := mustIssue(t, e, e.Tokens[store.RoleIssuer], req)
		leaf := leafOf(t, resp)
		hc := e.Server.Client()
		tr := hc.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{{
			Certificate: [][]byte{leaf.Raw, e.CA.Issuing.Cert.Raw}, PrivateKey: key}}
		return &http.Client{Transport: tr}, resp.CertificateInfo.SerialNumber
	}

	robot, robotSerial := clientFor("ops-robot", nil)
	if r := e.DoWith(robot, "POST", "/v1/crl", "", nil, nil); r.Status != 200 {
		t.Fatalf("robot publishes CRLs: %d %s", r.Status, r.Body)
	}
	if r := e.DoWith(robot, "POST", "/v1/apply", "", "{}", nil); r.Status != 403 ||
		r.Error() != "mtls:ops-robot has role revoker; POST /v1/apply needs admin" {
		t.Fatalf("robot applies: %d %s", r.Status, r.Body)
	}
	reader, _ := clientFor("someone", map[string]any{"organizational_unit": "Readers"})
	if r := e.DoWith(reader, "GET", "/v1/ca", "", nil, nil); r.Status != 200 {
		t.Fatalf("OU reader: %d %s", r.Status, r.Body)
	}
	stranger, _ := clientFor("stranger", nil)
	if r := e.DoWith(stranger, "GET", "/v1/ca", "", nil, nil); r.Status != 401 ||
		r.Error() != `client certificate "stranger" maps to no role` {
		t.Fatalf("stranger: %d %s", r.Status, r.Body)
	}
	// A certificate for server_auth only does not authenticate a client.
	serverOnly, _ := clientFor("ops-robot", map[string]any{"purposes": []string{"server_auth"}})
	if r := e.DoWith(serverOnly, "GET", "/v1/ca", "", nil, nil); r.Status != 401 {
		t.Fatalf("server-only certificate: %d %s", r.Status, r.Body)
	}
	// Revoked: refused at once.
	_, _, err := e.CA.Revoke(ctx, mustSerial(t, robotSerial), store.ReasonKeyCompromise)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.DoWith(robot, "GET", "/v1/ca", "", nil, nil); r.Status != 401 ||
		r.Error() != "client certificate "+robotSerial+" is revoked" {
		t.Fatalf("revoked robot: %d %s", r.Status, r.Body)
	}
	// A token still wins over the certificate.
	if r := e.DoWith(robot, "GET", "/v1/ca", e.Tokens[store.RoleReader], nil, nil); r.Status != 200 {
		t.Fatalf("token over revoked cert: %d %s", r.Status, r.Body)
	}
}

func mustSerial(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("serial %q", s)
	}
	return n
}
