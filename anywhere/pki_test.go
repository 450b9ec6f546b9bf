package anywhere

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	ratypes "github.com/aws/aws-sdk-go-v2/service/rolesanywhere/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// testCA is a CA made directly with crypto/x509.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serialCounter atomic.Int64

func nextSerial() *big.Int {
	// Large, positive serials like a real CA's, unique per test run.
	n := new(big.Int).Lsh(big.NewInt(time.Now().UnixNano()), 16)
	return n.Add(n, big.NewInt(serialCounter.Add(1)))
}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "rsa2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRootCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t, "p256")
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Anchor Test"}},
		NotBefore:             time.Now().Add(-30 * 24 * time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

// intermediate makes a CA certificate signed by ca.
func (ca *testCA) intermediate(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t, "p256")
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-30 * 24 * time.Hour),
		NotAfter:              time.Now().Add(5 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

func (ca *testCA) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

// leafOpts adjust a client certificate.
type leafOpts struct {
	keyKind   string
	keyUsage  x509.KeyUsage
	sigAlg    x509.SignatureAlgorithm
	notBefore time.Time
	notAfter  time.Time
	subject   pkix.Name
	dns       []string
}

type testLeaf struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (ca *testCA) leaf(t testing.TB, o leafOpts) *testLeaf {
	t.Helper()
	key := newKey(t, o.keyKind)
	if o.keyUsage == 0 {
		o.keyUsage = x509.KeyUsageDigitalSignature
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(30 * 24 * time.Hour)
	}
	if o.subject.CommonName == "" {
		o.subject = pkix.Name{CommonName: "backup-01.example.net",
			OrganizationalUnit: []string{"Security Operations"},
			Organization:       []string{"Example"}}
	}
	if o.dns == nil {
		o.dns = []string{o.subject.CommonName}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               o.subject,
		DNSNames:              o.dns,
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		KeyUsage:              o.keyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		SignatureAlgorithm:    o.sigAlg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testLeaf{cert: c, key: key}
}

// crl makes a CRL of ca revoking serials; number orders successive CRLs.
func (ca *testCA) crl(t testing.TB, number int64, serials ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range serials {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s,
			RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                time.Now().Add(-time.Hour + time.Duration(number)*time.Second),
		NextUpdate:                time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func crlPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// signOpts adjust the test-side SigV4-X509 signer.
type signOpts struct {
	at    time.Time
	chain []*x509.Certificate
}

// signX509 signs req (whose body is body) per the SigV4-X509 recipe,
// independently of the server's code.
func signX509(t testing.TB, req *http.Request, body []byte, l *testLeaf, o signOpts) {
	t.Helper()
	at := o.at
	if at.IsZero() {
		at = time.Now()
	}
	amzDate := at.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-X509", base64.StdEncoding.EncodeToString(l.cert.Raw))
	if len(o.chain) > 0 {
		var parts []string
		for _, c := range o.chain {
			parts = append(parts, base64.StdEncoding.EncodeToString(c.Raw))
		}
		req.Header.Set("X-Amz-X509-Chain", strings.Join(parts, ","))
	}
	names := []string{"host"}
	for k := range req.Header {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, n := range names {
		v := req.URL.Host
		if n != "host" {
			v = strings.Join(req.Header.Values(n), ",")
		}
		canon.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	query := strings.ReplaceAll(req.URL.Query().Encode(), "+", "%20")
	bodySum := sha256.Sum256(body)
	creq := "POST\n/sessions\n" + query + "\n" + canon.String() + "\n" +
		strings.Join(names, ";") + "\n" + hex.EncodeToString(bodySum[:])
	crSum := sha256.Sum256([]byte(creq))
	alg := "AWS4-X509-ECDSA-SHA256"
	if _, ok := l.key.(*rsa.PrivateKey); ok {
		alg = "AWS4-X509-RSA-SHA256"
	}
	scope := day + "/us-east-1/rolesanywhere/aws4_request"
	sts := alg + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	digest := sha256.Sum256([]byte(sts))
	sig, err := l.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", alg+" Credential="+l.cert.SerialNumber.String()+"/"+
		scope+", SignedHeaders="+strings.Join(names, ";")+", Signature="+
		hex.EncodeToString(sig))
}

// env is a running server with one trust anchor, one profile and an admin
// client.
type env struct {
	t          testing.TB
	srv        *Server
	ts         *httptest.Server
	dir        string
	key        AccessKey
	ra         *rolesanywhere.Client
	ca         *testCA
	taID       string
	taArn      string
	profileID  string
	profileArn string
	roleArn    string
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), ca: newRootCA(t, "Anchor Test Root"),
		roleArn: "arn:aws:iam::123456789012:role/backup/BackupWriter"}
	if cfg.DataDir == "" {
		cfg.DataDir = e.dir
	}
	var err error
	if e.srv, err = NewServer(cfg); err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.ts.Close()
		e.srv.Close()
	})
	if e.key, err = e.srv.CreateAdminKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.ra = raClient(e.ts.URL, e.key)

	ctx := context.Background()
	ta, err := e.ra.CreateTrustAnchor(ctx, &rolesanywhere.CreateTrustAnchorInput{
		Name:    aws.String("test-root"),
		Enabled: aws.Bool(true),
		Source: &ratypes.Source{SourceType: ratypes.TrustAnchorTypeCertificateBundle,
			SourceData: &ratypes.SourceDataMemberX509CertificateData{Value: e.ca.pem()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.taID, e.taArn = *ta.TrustAnchor.TrustAnchorId, *ta.TrustAnchor.TrustAnchorArn
	p, err := e.ra.CreateProfile(ctx, &rolesanywhere.CreateProfileInput{
		Name:                  aws.String("backup"),
		RoleArns:              []string{e.roleArn},
		Enabled:               aws.Bool(true),
		DurationSeconds:       aws.Int32(3600),
		AcceptRoleSessionName: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.profileID, e.profileArn = *p.Profile.ProfileId, *p.Profile.ProfileArn
	return e
}

func raClient(endpoint string, k AccessKey) *rolesanywhere.Client {
	return rolesanywhere.New(rolesanywhere.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID,
			k.SecretAccessKey, ""),
	})
}

func stsClient(endpoint, akid, secret, token string) *sts.Client {
	return sts.New(sts.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, token),
	})
}

// sessionReq describes a CreateSession call made with the test signer.
type sessionReq struct {
	leaf       *testLeaf
	profileArn string
	roleArn    string
	taArn      string
	body       string
	pathPrefix string
	sign       signOpts
	tamper     func(*http.Request)
}

// createSession sends a signed CreateSession and returns the status, the
// X-Amzn-ErrorType header and the body.
func (e *env) createSession(r sessionReq) (int, string, []byte) {
	e.t.Helper()
	req := e.buildSession(r)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), buf.Bytes()
}

func (e *env) buildSession(r sessionReq) *http.Request {
	e.t.Helper()
	return e.buildSessionAt(e.ts.URL, r)
}

// buildSessionAt builds a signed CreateSession request for the server at base.
func (e *env) buildSessionAt(base string, r sessionReq) *http.Request {
	e.t.Helper()
	if r.profileArn == "" {
		r.profileArn = e.profileArn
	}
	if r.roleArn == "" {
		r.roleArn = e.roleArn
	}
	if r.taArn == "" {
		r.taArn = e.taArn
	}
	if r.body == "" {
		r.body = `{"durationSeconds":3600}`
	}
	q := url.Values{"profileArn": {r.profileArn}, "roleArn": {r.roleArn},
		"trustAnchorArn": {r.taArn}}
	u := base + r.pathPrefix + "/sessions?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	signX509(e.t, req, []byte(r.body), r.leaf, r.sign)
	if r.tamper != nil {
		r.tamper(req)
	}
	return req
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func keyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func newHTTPServer(t testing.TB, s *Server) *httptest.Server {
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
