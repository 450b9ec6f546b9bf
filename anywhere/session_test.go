package anywhere

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	ratypes "github.com/aws/aws-sdk-go-v2/service/rolesanywhere/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestCreateSessionThenSTS(t *testing.T) {
	e := newEnv(t, Config{})
	l := e.ca.leaf(t, leafOpts{})

	status, code, body := e.createSession(sessionReq{leaf: l})
	if status != 201 {
		t.Fatalf("status %d %s %s", status, code, body)
	}
	// Exact shape: the keys at every level.
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(raw); !reflect.DeepEqual(got, []string{"credentialSet",
		"subjectArn"}) {
		t.Fatalf("top-level keys %v", got)
	}
	item := raw["credentialSet"].([]any)[0].(map[string]any)
	if got := sortedKeys(item); !reflect.DeepEqual(got, []string{"assumedRoleUser",
		"credentials", "packedPolicySize", "roleArn", "sourceIdentity"}) {
		t.Fatalf("credentialSet keys %v", got)
	}
	creds := item["credentials"].(map[string]any)
	if got := sortedKeys(creds); !reflect.DeepEqual(got, []string{"accessKeyId",
		"expiration", "secretAccessKey", "sessionToken"}) {
		t.Fatalf("credentials keys %v", got)
	}

	var out sessionOutput
	json.Unmarshal(body, &out)
	cs := out.CredentialSet[0]
	serialHex := l.cert.SerialNumber.Text(16)
	wantArn := "arn:aws:sts::123456789012:assumed-role/BackupWriter/" + serialHex
	if cs.AssumedRoleUser.Arn != wantArn {
		t.Errorf("assumed role arn %q, want %q", cs.AssumedRoleUser.Arn, wantArn)
	}
	if !strings.HasSuffix(cs.AssumedRoleUser.AssumedRoleID, ":"+serialHex) ||
		!strings.HasPrefix(cs.AssumedRoleUser.AssumedRoleID, "AROA") {
		t.Errorf("assumedRoleId %q", cs.AssumedRoleUser.AssumedRoleID)
	}
	if cs.SourceIdentity != "CN=backup-01.example.net" {
		t.Errorf("sourceIdentity %q", cs.SourceIdentity)
	}
	if cs.RoleArn != e.roleArn || cs.PackedPolicySize != 0 {
		t.Errorf("roleArn %q packedPolicySize %d", cs.RoleArn, cs.PackedPolicySize)
	}
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(cs.Credentials.AccessKeyID) {
		t.Errorf("accessKeyId %q", cs.Credentials.AccessKeyID)
	}
	exp, err := time.Parse(time.RFC3339, cs.Credentials.Expiration)
	if err != nil || !strings.HasSuffix(cs.Credentials.Expiration, "Z") {
		t.Fatalf("expiration %q: %v", cs.Credentials.Expiration, err)
	}
	if d := time.Until(exp); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expiration in %v, want about 1h", d)
	}
	if !regexp.MustCompile(`^arn:aws:rolesanywhere:us-east-1:000000000000:subject/` +
		`[0-9a-f-]{36}$`).MatchString(out.SubjectArn) {
		t.Errorf("subjectArn %q", out.SubjectArn)
	}

	e.srv.Flush() // the session now comes back from the store, not memory
	if n := len(e.srv.pending); n != 0 {
		t.Fatalf("%d sessions pending after Flush", n)
	}
	c := stsClient(e.ts.URL, cs.Credentials.AccessKeyID, cs.Credentials.SecretAccessKey,
		cs.Credentials.SessionToken)
	id, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *id.Arn != wantArn || *id.Account != "123456789012" ||
		*id.UserId != cs.AssumedRoleUser.AssumedRoleID {
		t.Errorf("GetCallerIdentity = %s %s %s", *id.Arn, *id.Account, *id.UserId)
	}

	// A wrong token is refused.
	bad := stsClient(e.ts.URL, cs.Credentials.AccessKeyID, cs.Credentials.SecretAccessKey,
		cs.Credentials.SessionToken+"x")
	if _, err := bad.GetCallerIdentity(context.Background(),
		&sts.GetCallerIdentityInput{}); err == nil ||
		!strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("wrong token: %v", err)
	}
	// A wrong secret is refused.
	bad = stsClient(e.ts.URL, cs.Credentials.AccessKeyID, "x"+cs.Credentials.SecretAccessKey,
		cs.Credentials.SessionToken)
	if _, err := bad.GetCallerIdentity(context.Background(),
		&sts.GetCallerIdentityInput{}); err == nil ||
		!strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %v", err)
	}
}

func sortedKeys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func TestCreateSessionRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	other := newRootCA(t, "Other Root")
	good := e.ca.leaf(t, leafOpts{})

	// A disabled trust anchor and a disabled profile, each alone.
	ca2 := newRootCA(t, "Disabled Root")
	ta2, err := e.ra.CreateTrustAnchor(ctx, newAnchorInput(t, "disabled", ca2, false))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.ra.CreateProfile(ctx, &rolesanywhere.CreateProfileInput{
		Name: aws.String("off"), RoleArns: []string{e.roleArn}, Enabled: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	p900, err := e.ra.CreateProfile(ctx, &rolesanywhere.CreateProfileInput{
		Name: aws.String("short"), RoleArns: []string{e.roleArn}, Enabled: aws.Bool(true),
		DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		req    sessionReq
		status int
		code   string
		msg    string
	}{
		{"expired leaf", sessionReq{leaf: e.ca.leaf(t, leafOpts{
			notBefore: time.Now().Add(-48 * time.Hour),
			notAfter:  time.Now().Add(-24 * time.Hour)})},
			403, codeAccessDenied, "certificate has expired"},
		{"no digitalSignature", sessionReq{leaf: e.ca.leaf(t, leafOpts{
			keyUsage: x509.KeyUsageKeyEncipherment})},
			403, codeAccessDenied, "lacks digitalSignature"},
		{"SHA-1 signed leaf", sessionReq{leaf: e.ca.leaf(t, leafOpts{
			sigAlg: x509.ECDSAWithSHA1})},
			403, codeAccessDenied, "ECDSA-SHA1 is not allowed"},
		{"leaf of another CA", sessionReq{leaf: other.leaf(t, leafOpts{})},
			403, codeAccessDenied, "does not chain to trust anchor"},
		{"disabled trust anchor", sessionReq{leaf: ca2.leaf(t, leafOpts{}),
			taArn: *ta2.TrustAnchor.TrustAnchorArn},
			403, codeAccessDenied, "is disabled"},
		{"disabled profile", sessionReq{leaf: good,
			profileArn: *p2.Profile.ProfileArn},
			403, codeAccessDenied, "profile " + *p2.Profile.ProfileId + " is disabled"},
		{"unknown profile", sessionReq{leaf: good,
			profileArn: "arn:aws:rolesanywhere:us-east-1:000000000000:profile/" +
				"00000000-0000-4000-8000-000000000000"},
			404, codeNotFound, "not found"},
		{"role not in profile", sessionReq{leaf: good,
			roleArn: "arn:aws:iam::123456789012:role/Admin"},
			403, codeAccessDenied, "is not in profile"},
		{"duration 899", sessionReq{leaf: good, body: `{"durationSeconds":899}`},
			400, codeValidation, "durationSeconds: 899 is outside 900..43200"},
		{"duration 43201", sessionReq{leaf: good, body: `{"durationSeconds":43201}`},
			400, codeValidation, "durationSeconds: 43201 is outside 900..43200"},
		{"flipped signature byte", sessionReq{leaf: good, tamper: flipSignature},
			403, codeAccessDenied, "signature does not match"},
		{"date 6 minutes behind", sessionReq{leaf: good,
			sign: signOpts{at: time.Now().Add(-6 * time.Minute)}},
			403, codeAccessDenied, "more than 5 minutes"},
		{"date 6 minutes ahead", sessionReq{leaf: good,
			sign: signOpts{at: time.Now().Add(6 * time.Minute)}},
			403, codeAccessDenied, "more than 5 minutes"},
		{"serial mismatch", sessionReq{leaf: good, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"),
				"Credential="+good.cert.SerialNumber.String(), "Credential=12345", 1))
		}}, 403, codeAccessDenied, "serial does not match"},
		{"unsigned x-amz-x509", sessionReq{leaf: good, tamper: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", strings.Replace(a, ";x-amz-x509,", ",", 1))
		}}, 403, codeAccessDenied, `"x-amz-x509" must be signed`},
		{"body changed after signing", sessionReq{leaf: good, tamper: func(r *http.Request) {
			r.Body = http.NoBody
			r.ContentLength = 0
		}}, 403, codeAccessDenied, "signature does not match"},
		{"session name not accepted", sessionReq{leaf: good,
			profileArn: *p900.Profile.ProfileArn,
			body:       `{"durationSeconds":900,"roleSessionName":"alice"}`},
			400, codeValidation, "roleSessionName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := e.createSession(tc.req)
			var msg struct{ Message string }
			json.Unmarshal(body, &msg)
			if status != tc.status || code != tc.code ||
				!strings.Contains(msg.Message, tc.msg) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", status, code,
					msg.Message, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func newAnchorInput(t *testing.T, name string, ca *testCA,
	enabled bool) *rolesanywhere.CreateTrustAnchorInput {
	return &rolesanywhere.CreateTrustAnchorInput{
		Name: aws.String(name), Enabled: aws.Bool(enabled),
		Source: &ratypes.Source{SourceType: ratypes.TrustAnchorTypeCertificateBundle,
			SourceData: &ratypes.SourceDataMemberX509CertificateData{Value: ca.pem()}},
	}
}

func flipSignature(r *http.Request) {
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Signature=") + len("Signature=") + 10
	c := byte('0')
	if a[i] == '0' {
		c = '1'
	}
	r.Header.Set("Authorization", a[:i]+string(c)+a[i+1:])
}

func TestCreateSessionAccepts(t *testing.T) {
	e := newEnv(t, Config{})
	inter := e.ca.intermediate(t, "Anchor Test Issuing")

	tests := []struct {
		name    string
		req     sessionReq
		wantExp time.Duration
		wantSN  string
	}{
		{"RSA-2048 client", sessionReq{leaf: e.ca.leaf(t, leafOpts{keyKind: "rsa2048"})},
			time.Hour, ""},
		{"P-384 client", sessionReq{leaf: e.ca.leaf(t, leafOpts{keyKind: "p384"})},
			time.Hour, ""},
		{"endpoint with a path prefix", sessionReq{leaf: e.ca.leaf(t, leafOpts{}),
			pathPrefix: "/roles/anywhere"}, time.Hour, ""},
		{"duration capped by profile", sessionReq{leaf: e.ca.leaf(t, leafOpts{}),
			body: `{"durationSeconds":43200}`}, time.Hour, ""},
		{"duration capped at notAfter", sessionReq{leaf: e.ca.leaf(t, leafOpts{
			notAfter: time.Now().Add(20 * time.Minute)}),
			body: `{"durationSeconds":3600}`}, 20 * time.Minute, ""},
		{"role session name", sessionReq{leaf: e.ca.leaf(t, leafOpts{}),
			body: `{"durationSeconds":900,"roleSessionName":"nightly-backup"}`},
			15 * time.Minute, "nightly-backup"},
		{"intermediate via unordered chain with leaf and root", sessionReq{},
			time.Hour, ""},
	}
	il := inter.leaf(t, leafOpts{})
	tests[len(tests)-1].req = sessionReq{leaf: il, sign: signOpts{
		chain: []*x509.Certificate{e.ca.cert, il.cert, inter.cert}}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := e.createSession(tc.req)
			if status != 201 {
				t.Fatalf("status %d %s %s", status, code, body)
			}
			var out sessionOutput
			json.Unmarshal(body, &out)
			exp, _ := time.Parse(time.RFC3339, out.CredentialSet[0].Credentials.Expiration)
			if d := time.Until(exp); d > tc.wantExp+5*time.Second ||
				d < tc.wantExp-time.Minute {
				t.Errorf("expires in %v, want %v", d, tc.wantExp)
			}
			sn := tc.wantSN
			if sn == "" {
				sn = tc.req.leaf.cert.SerialNumber.Text(16)
			}
			if a := out.CredentialSet[0].AssumedRoleUser.Arn; !strings.HasSuffix(a, "/"+sn) {
				t.Errorf("assumed role %q, want session name %q", a, sn)
			}
		})
	}
}

func TestRevokedByImportedCRL(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	l := e.ca.leaf(t, leafOpts{})
	keep := e.ca.leaf(t, leafOpts{})

	status, _, body := e.createSession(sessionReq{leaf: l})
	if status != 201 {
		t.Fatalf("before revocation: %d %s", status, body)
	}
	var out sessionOutput
	json.Unmarshal(body, &out)
	cs := out.CredentialSet[0].Credentials
	stc := stsClient(e.ts.URL, cs.AccessKeyID, cs.SecretAccessKey, cs.SessionToken)
	if _, err := stc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}

	crl, err := e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("root-crl"), CrlData: crlPEM(e.ca.crl(t, 1, l.cert.SerialNumber)),
		TrustAnchorArn: aws.String(e.taArn)})
	if err != nil {
		t.Fatal(err)
	}
	if *crl.Crl.Enabled {
		t.Fatal("imported CRL enabled without being asked")
	}
	// Imported but not enabled: still accepted.
	if status, _, body := e.createSession(sessionReq{leaf: l}); status != 201 {
		t.Fatalf("disabled CRL must not apply: %d %s", status, body)
	}
	if _, err := e.ra.EnableCrl(ctx, &rolesanywhere.EnableCrlInput{
		CrlId: crl.Crl.CrlId}); err != nil {
		t.Fatal(err)
	}
	status, code, body := e.createSession(sessionReq{leaf: l})
	if status != 403 || code != codeAccessDenied ||
		string(body) != "{\"message\":\"Certificate revoked\"}\n" {
		t.Fatalf("revoked: %d %s %s", status, code, body)
	}
	if status, _, body := e.createSession(sessionReq{leaf: keep}); status != 201 {
		t.Fatalf("unrevoked certificate refused: %d %s", status, body)
	}
	// The session issued before the revocation stops working too.
	_, err = stc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil || !strings.Contains(err.Error(), "Certificate revoked") {
		t.Fatalf("STS after revocation: %v", err)
	}

	// A CRL signed by another CA under this CA's name is refused at import.
	forger := &testCA{cert: e.ca.cert, key: newKey(t, "p256")}
	_, err = e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("forged"), CrlData: forger.crl(t, 2, keep.cert.SerialNumber),
		TrustAnchorArn: aws.String(e.taArn)})
	if err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("forged CRL: %v", err)
	}
}

func TestPrincipalTagConditions(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/backup/BackupWriter"
	e := newEnv(t, Config{Roles: []RoleConfig{{Arn: role, Conditions: []TagCondition{
		{Tag: "x509Subject/OU", Equals: "Security Operations"},
		{Tag: "x509SAN/DNS", Like: "*.example.net"},
	}}}})
	ok := e.ca.leaf(t, leafOpts{})
	if status, _, body := e.createSession(sessionReq{leaf: ok}); status != 201 {
		t.Fatalf("matching tags refused: %d %s", status, body)
	}
	wrongOU := e.ca.leaf(t, leafOpts{subject: pkix.Name{CommonName: "a.example.net",
		OrganizationalUnit: []string{"Finance"}}})
	status, _, body := e.createSession(sessionReq{leaf: wrongOU})
	if status != 403 || !strings.Contains(string(body), "x509Subject/OU does not equal") {
		t.Fatalf("wrong OU: %d %s", status, body)
	}
	wrongDNS := e.ca.leaf(t, leafOpts{subject: pkix.Name{CommonName: "a.example.org",
		OrganizationalUnit: []string{"Security Operations"}}})
	status, _, body = e.createSession(sessionReq{leaf: wrongDNS})
	if status != 403 || !strings.Contains(string(body), "x509SAN/DNS is not like") {
		t.Fatalf("wrong DNS: %d %s", status, body)
	}
}

func TestInjectedClock(t *testing.T) {
	fixed := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	var useFixed atomic.Bool // set-up runs at wall-clock time, as the SDK signs
	e := newEnv(t, Config{Now: func() time.Time {
		if useFixed.Load() {
			return fixed
		}
		return time.Now()
	}})
	useFixed.Store(true)
	l := e.ca.leaf(t, leafOpts{notBefore: fixed.Add(-time.Hour)})
	// Signed at the server's (injected) time: accepted although the wall
	// clock is three days later.
	status, _, body := e.createSession(sessionReq{leaf: l, sign: signOpts{at: fixed}})
	if status != 201 {
		t.Fatalf("%d %s", status, body)
	}
	var out sessionOutput
	json.Unmarshal(body, &out)
	want := fixed.Add(time.Hour).UTC().Format(time.RFC3339)
	if got := out.CredentialSet[0].Credentials.Expiration; got != want {
		t.Errorf("expiration %s, want %s", got, want)
	}
	status, _, _ = e.createSession(sessionReq{leaf: l})
	if status != 403 {
		t.Errorf("wall-clock signature accepted by a server 3 days behind: %d", status)
	}
}

func TestSubjectsRecordAttempts(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	l := e.ca.leaf(t, leafOpts{})
	e.createSession(sessionReq{leaf: l})
	e.createSession(sessionReq{leaf: l, body: `{"durationSeconds":899}`})
	expired := e.ca.leaf(t, leafOpts{subject: pkix.Name{CommonName: "old.example.net"},
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	e.createSession(sessionReq{leaf: expired})

	subs, err := e.ra.ListSubjects(ctx, &rolesanywhere.ListSubjectsInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range subs.Subjects {
		got[*s.X509Subject] = *s.SubjectId
	}
	want := []string{"CN=backup-01.example.net,OU=Security Operations,O=Example",
		"CN=old.example.net"}
	for _, dn := range want {
		if got[dn] == "" {
			t.Fatalf("subject %q missing from %v", dn, got)
		}
	}
	d, err := e.ra.GetSubject(ctx, &rolesanywhere.GetSubjectInput{SubjectId: aws.String(
		got["CN=old.example.net"])})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Subject.Credentials) != 1 || !*d.Subject.Credentials[0].Failed ||
		*d.Subject.Credentials[0].SerialNumber != expired.cert.SerialNumber.Text(16) {
		t.Fatalf("expired subject credentials: %+v", d.Subject.Credentials)
	}
	d, _ = e.ra.GetSubject(ctx, &rolesanywhere.GetSubjectInput{SubjectId: aws.String(
		got[want[0]])})
	// The latest attempt (duration 899) failed.
	if len(d.Subject.Credentials) != 1 || !*d.Subject.Credentials[0].Failed {
		t.Fatalf("subject credentials: %+v", d.Subject.Credentials)
	}
	if !strings.Contains(*d.Subject.Credentials[0].X509CertificateData, "BEGIN CERTIFICATE") {
		t.Error("x509CertificateData is not PEM")
	}

	// Persisted: a new server on the same folder sees the subjects, and a
	// session issued before the restart still works with STS.
	status, _, body := e.createSession(sessionReq{leaf: l})
	if status != 201 {
		t.Fatal(status)
	}
	var out sessionOutput
	json.Unmarshal(body, &out)
	e.srv.Flush()
	e.ts.Close()
	e.srv.Close()
	srv2, err := NewServer(Config{DataDir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	ts2 := newHTTPServer(t, srv2)
	subs2, err := raClient(ts2.URL, e.key).ListSubjects(ctx, &rolesanywhere.ListSubjectsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs2.Subjects) != 2 {
		t.Fatalf("after restart %d subjects, want 2", len(subs2.Subjects))
	}
	cs := out.CredentialSet[0].Credentials
	if _, err := stsClient(ts2.URL, cs.AccessKeyID, cs.SecretAccessKey, cs.SessionToken).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("STS after restart: %v", err)
	}
}
