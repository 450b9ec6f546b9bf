package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/sqlite"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

type fixture struct {
	cfg   *config.Config
	store store.Store
	keys  ca.Keys
	ca    *ca.CA
	obs   *recorder
}

// newFixture makes a hierarchy in a temporary home with the default config.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, config.Default())
}

func newFixtureWith(t testing.TB, cfg *config.Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "anchor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.BaseURL = "http://pki.example.com"
	keys := ca.FileKeys{Dir: filepath.Join(dir, "keys")}
	res, err := ca.Init(context.Background(), cfg, st, keys)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{cfg: cfg, store: st, keys: keys, obs: &recorder{}}
	f.ca = &ca.CA{
		Root: res.Root, Issuing: res.Issuing, Store: st,
		Policy:   profile.Policy{MaxLifetimeDays: cfg.MaxLifetimeDays},
		BaseURL:  cfg.PublicBaseURL(),
		Observer: f.obs,
	}
	return f
}

// recorder is an Observer that remembers what it heard.
type recorder struct {
	mu                        sync.Mutex
	issued, rejected, revoked []string
}

func (r *recorder) Issued(_ context.Context, c *store.Certificate, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.issued = append(r.issued, c.Serial.String())
}

func (r *recorder) Rejected(_ context.Context, _ *profile.Request, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected = append(r.rejected, reason)
}

func (r *recorder) Revoked(_ context.Context, c *store.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked = append(r.revoked, c.Serial.String())
}

func csrPEM(t testing.TB, key crypto.Signer, cn string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func p256(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fixture) issue(t testing.TB, key crypto.Signer, cn string, lifetime int) *ca.Issued {
	t.Helper()
	req := &profile.Request{CommonName: cn, Lifetime: lifetime, Base64CSRData: csrPEM(t, key, cn)}
	iss, err := f.ca.Issue(context.Background(), req, store.SourceAPI)
	if err != nil {
		t.Fatalf("issue %s: %v", cn, err)
	}
	return iss
}

func TestInitIsIdempotent(t *testing.T) {
	f := newFixture(t)
	again, err := ca.Init(context.Background(), f.cfg, f.store, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created {
		t.Error("second Init reports Created")
	}
	if again.Root.Cert.SerialNumber.Cmp(f.ca.Root.Cert.SerialNumber) != 0 ||
		again.Issuing.Cert.SerialNumber.Cmp(f.ca.Issuing.Cert.SerialNumber) != 0 {
		t.Error("second Init changed the CA serials")
	}
	root, issuing, err := ca.Load(context.Background(), f.cfg, f.store, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	if !root.Cert.Equal(f.ca.Root.Cert) || !issuing.Cert.Equal(f.ca.Issuing.Cert) {
		t.Error("Load returned other certificates than Init")
	}
}

func TestCAProfiles(t *testing.T) {
	f := newFixture(t)
	root, issuing := f.ca.Root.Cert, f.ca.Issuing.Cert

	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if err := issuing.CheckSignatureFrom(root); err != nil {
		t.Errorf("issuing CA not signed by root: %v", err)
	}
	wantKU := x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	for _, c := range []struct {
		cert    *x509.Certificate
		pathLen int
		days    int
		sig     x509.SignatureAlgorithm
		curve   elliptic.Curve
	}{
		{root, 1, 7300, x509.ECDSAWithSHA384, elliptic.P384()},
		{issuing, 0, 3650, x509.ECDSAWithSHA384, elliptic.P256()},
	} {
		name := c.cert.Subject.CommonName
		if !c.cert.IsCA || c.cert.MaxPathLen != c.pathLen || c.cert.KeyUsage != wantKU {
			t.Errorf("%s: IsCA=%v pathLen=%d ku=%v", name, c.cert.IsCA, c.cert.MaxPathLen,
				c.cert.KeyUsage)
		}
		if c.cert.SignatureAlgorithm != c.sig {
			t.Errorf("%s: signature %v, want %v", name, c.cert.SignatureAlgorithm, c.sig)
		}
		if pub := c.cert.PublicKey.(*ecdsa.PublicKey); pub.Curve != c.curve {
			t.Errorf("%s: curve %s", name, pub.Curve.Params().Name)
		}
		if got := c.cert.NotAfter.Sub(c.cert.NotBefore); got != time.Duration(c.days)*24*time.Hour {
			t.Errorf("%s: validity %v, want %d days", name, got, c.days)
		}
		if len(c.cert.SubjectKeyId) != 20 {
			t.Errorf("%s: SKI %x", name, c.cert.SubjectKeyId)
		}
	}
	if string(root.AuthorityKeyId) != string(root.SubjectKeyId) {
		t.Error("root AKI differs from its SKI")
	}
	if string(issuing.AuthorityKeyId) != string(root.SubjectKeyId) {
		t.Error("issuing AKI is not the root's SKI")
	}
	want := "http://pki.example.com/anchor-root-ca-dev.crl"
	if len(issuing.CRLDistributionPoints) != 1 || issuing.CRLDistributionPoints[0] != want {
		t.Errorf("issuing CDP %v, want %s", issuing.CRLDistributionPoints, want)
	}
	want = "http://pki.example.com/anchor-root-ca-dev.crt"
	if len(issuing.IssuingCertificateURL) != 1 || issuing.IssuingCertificateURL[0] != want {
		t.Errorf("issuing AIA %v, want %s", issuing.IssuingCertificateURL, want)
	}
}

func TestLeafProfile(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		lifetime int
		want     time.Duration
	}{
		{1, 24*time.Hour + 5*time.Minute},
		{500, 365*24*time.Hour + 5*time.Minute},
	} {
		iss := f.issue(t, p256(t), "device-001.example.com", tc.lifetime)
		leaf, err := x509.ParseCertificate(iss.Certificate.DER)
		if err != nil {
			t.Fatal(err)
		}
		if got := leaf.NotAfter.Sub(leaf.NotBefore); got != tc.want {
			t.Errorf("lifetime %d: spans %v, want %v", tc.lifetime, got, tc.want)
		}
		if leaf.IsCA || !leaf.BasicConstraintsValid {
			t.Error("leaf must carry basicConstraints CA:FALSE")
		}
		if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("EC leaf key usage %v, want digitalSignature only", leaf.KeyUsage)
		}
		if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
			t.Errorf("EKU %v, want clientAuth", leaf.ExtKeyUsage)
		}
		if string(leaf.AuthorityKeyId) != string(f.ca.Issuing.Cert.SubjectKeyId) {
			t.Error("leaf AKI is not the issuing CA's SKI")
		}
		if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "device-001.example.com" {
			t.Errorf("SANs %v, want the CN as the only DNS name", leaf.DNSNames)
		}
		if got := leaf.CRLDistributionPoints; len(got) != 1 ||
			got[0] != "http://pki.example.com/anchor-issuing-ca-dev.crl" {
			t.Errorf("CDP %v", got)
		}
		if got := leaf.IssuingCertificateURL; len(got) != 1 ||
			got[0] != "http://pki.example.com/anchor-issuing-ca-dev.crt" {
			t.Errorf("AIA %v", got)
		}
		if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 159 {
			t.Errorf("serial %x out of range", leaf.SerialNumber)
		}
		pool := x509.NewCertPool()
		pool.AddCert(f.ca.Root.Cert)
		inter := x509.NewCertPool()
		inter.AddCert(f.ca.Issuing.Cert)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("leaf does not verify: %v", err)
		}
		// Recorded before returned.
		rec, err := f.store.Certificate(context.Background(), leaf.SerialNumber)
		if err != nil || string(rec.DER) != string(leaf.Raw) {
			t.Errorf("issued certificate not in the store: %v", err)
		}
		if iss.Response.CertificateInfo.SerialNumber != leaf.SerialNumber.String() {
			t.Error("response serial differs from the certificate's")
		}
	}
}

func TestRSALeafHasKeyEncipherment(t *testing.T) {
	f := newFixture(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := f.issue(t, key, "rsa.example.com", 30)
	leaf, _ := x509.ParseCertificate(iss.Certificate.DER)
	want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if leaf.KeyUsage != want {
		t.Errorf("RSA leaf key usage %v, want %v", leaf.KeyUsage, want)
	}
}

func TestRejectionRecordsNothing(t *testing.T) {
	f := newFixture(t)
	key := p256(t)
	f.issue(t, key, "first.example.com", 30)
	before, _ := f.store.List(context.Background(), store.Filter{})

	req := &profile.Request{CommonName: "second.example.com", Lifetime: 30,
		Base64CSRData: csrPEM(t, key, "second.example.com")}
	_, err := f.ca.Issue(context.Background(), req, store.SourceAPI)
	var rej *profile.Rejection
	if !errors.As(err, &rej) ||
		rej.Message != "Private key has already been used for a certificate" {
		t.Fatalf("key reuse: got %v", err)
	}
	after, _ := f.store.List(context.Background(), store.Filter{})
	if len(after) != len(before) {
		t.Errorf("a rejected request recorded a certificate: %d -> %d", len(before), len(after))
	}
	if len(f.obs.rejected) != 1 || f.obs.rejected[0] != rej.Message {
		t.Errorf("observer heard rejections %v", f.obs.rejected)
	}
}

func TestRevokeOnceAndCRL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.issue(t, p256(t), "a.example.com", 30).Certificate
	b := f.issue(t, p256(t), "b.example.com", 30).Certificate

	for i := 0; i < 2; i++ {
		_, changed, err := f.ca.Revoke(ctx, a.Serial, store.ReasonKeyCompromise)
		if err != nil || changed != (i == 0) {
			t.Fatalf("revoke #%d: changed=%v err=%v", i+1, changed, err)
		}
	}
	if len(f.obs.revoked) != 1 {
		t.Errorf("revocation announced %d times, want once", len(f.obs.revoked))
	}
	if _, _, err := f.ca.Revoke(ctx, big.NewInt(12345), 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown serial: %v, want ErrNotFound", err)
	}

	c1, err := f.ca.IssueCRL(ctx, f.ca.Issuing, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(c1.DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(f.ca.Issuing.Cert); err != nil {
		t.Fatal(err)
	}
	if string(rl.RawIssuer) != string(f.ca.Issuing.Cert.RawSubject) {
		t.Error("CRL issuer is not the CA certificate's subject bytes")
	}
	if len(rl.RevokedCertificateEntries) != 1 ||
		rl.RevokedCertificateEntries[0].SerialNumber.Cmp(a.Serial) != 0 ||
		rl.RevokedCertificateEntries[0].ReasonCode != int(store.ReasonKeyCompromise) {
		t.Errorf("CRL entries %+v, want only %s with keyCompromise",
			rl.RevokedCertificateEntries, a.Serial)
	}
	_ = b

	c2, err := f.ca.IssueCRL(ctx, f.ca.Issuing, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Record.Number.Cmp(c1.Record.Number) <= 0 {
		t.Errorf("CRL number %s after %s", c2.Record.Number, c1.Record.Number)
	}
}

// TestExpiredEntryLeavesAfterOneCRL checks RFC 5280's rule as Anchor applies
// it: a revoked certificate stays on the first CRL issued after its notAfter
// and is dropped from the one after that.
func TestExpiredEntryLeavesAfterOneCRL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now()
	f.ca.Now = func() time.Time { return now }
	c := f.issue(t, p256(t), "short.example.com", 1).Certificate
	if _, _, err := f.ca.Revoke(ctx, c.Serial, store.ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	entries := func() int {
		t.Helper()
		crl, err := f.ca.IssueCRL(ctx, f.ca.Issuing, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return crl.Entries
	}
	if n := entries(); n != 1 {
		t.Fatalf("before expiry: %d entries, want 1", n)
	}
	now = c.NotAfter.Add(time.Hour) // first CRL after expiry keeps it
	if n := entries(); n != 1 {
		t.Errorf("first CRL after expiry: %d entries, want 1", n)
	}
	now = now.Add(time.Hour) // the next one drops it
	if n := entries(); n != 0 {
		t.Errorf("second CRL after expiry: %d entries, want 0", n)
	}
}

// TestZlint lints the root, the issuing CA and a leaf. No lint may report an
// error or worse.
//
// The hierarchy names a country, as a real organisation's would: the CA/B
// Forum lint e_ca_country_name_missing is an error for CA subjects without C,
// and the default subject has none because Anchor cannot guess it.
//
// One warning remains by design: w_root_ca_basic_constraints_path_len_
// constraint_field_present. The serverless CA gives its root pathLen 1 and
// Anchor keeps that profile; the constraint is harmless and makes a third tier
// impossible to add by mistake.
func TestZlint(t *testing.T) {
	cfg := config.Default()
	cfg.Root.Subject.Country = "GB"
	cfg.Issuing.Subject.Country = "GB"
	f := newFixtureWith(t, cfg)
	leaf := f.issue(t, p256(t), "device-001.example.com", 30).Certificate
	for name, der := range map[string][]byte{
		"root": f.ca.Root.Cert.Raw, "issuing": f.ca.Issuing.Cert.Raw, "leaf": leaf.DER,
	} {
		c, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res := zlint.LintCertificate(c)
		for lintName, r := range res.Results {
			switch {
			case r.Status >= lint.Error:
				t.Errorf("%s: %s: %s %s", name, lintName, r.Status, r.Details)
			case r.Status == lint.Warn:
				t.Logf("%s: %s: warning %s", name, lintName, r.Details)
			}
		}
	}
}

// TestZlintCRLs lints the root and issuing CRLs that the CA issues, with and
// without entries. No lint may report an error or worse.
//
// The entries use the reasons operators use day to day. The CA/B Forum lint
// e_cab_crl_has_valid_reason_code also flags cACompromise and aACompromise,
// which RFC 5280 allows and a private CA may need; package crl's own zlint
// test pins that exception down.
func TestZlintCRLs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lintCRL := func(name string, der []byte) {
		t.Helper()
		rl, err := zx509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for lintName, r := range zlint.LintRevocationList(rl).Results {
			if r.Status >= lint.Warn {
				t.Errorf("%s: %s: %s %s", name, lintName, r.Status, r.Details)
			}
		}
	}
	for _, withEntries := range []bool{false, true} {
		if withEntries {
			for _, reason := range []store.Reason{store.ReasonUnspecified,
				store.ReasonKeyCompromise, store.ReasonSuperseded} {
				c := f.issue(t, p256(t), "lint.example.com", 30).Certificate
				if _, _, err := f.ca.Revoke(ctx, c.Serial, reason); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := f.ca.Revoke(ctx, f.ca.Issuing.Cert.SerialNumber,
				store.ReasonSuperseded); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range []*ca.Authority{f.ca.Root, f.ca.Issuing} {
			c, err := f.ca.IssueCRL(ctx, a, 24*time.Hour+10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if withEntries && c.Entries == 0 {
				t.Errorf("%s: no entries", a.Slug)
			}
			lintCRL(fmt.Sprintf("%s (entries: %v)", a.Slug, withEntries), c.DER)
		}
	}
}
