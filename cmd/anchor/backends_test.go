package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/anchorpki/anchor/crl"
	"github.com/anchorpki/anchor/signer/pkcs11"
)

// TestSoftHSMHierarchy runs a whole hierarchy with its CA keys on a PKCS#11
// token (SoftHSM2): init, issue, revoke, publish, and openssl's CRL check.
// The keys are made on the token and never leave it, so no private key may
// appear anywhere in the home; the token's keys are the certificates' keys.
func TestSoftHSMHierarchy(t *testing.T) {
	openssl := needTool(t, "openssl")
	module := startSoftHSM(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	writeConfig(t, home, fmt.Sprintf(`keys:
  backend: pkcs11
  pkcs11: {module: %q, token_label: anchor, pin_file: %q}
`, module, pinFile))

	root, issuing := keyBackendFlow(t, home, openssl)

	token, err := pkcs11.Open(pkcs11.Config{Module: module, TokenLabel: "anchor", PIN: "1234"})
	if err != nil {
		t.Fatalf("open the token from the test: %v", err)
	}
	defer token.Close()
	for _, ca := range []*x509.Certificate{root, issuing} {
		slug := slugOf(ca)
		key, err := token.Signer(slug)
		if err != nil {
			t.Fatalf("key %s on the token: %v", slug, err)
		}
		if !samePublicKey(key.Public(), ca.PublicKey) {
			t.Errorf("the token's key %s is not the key of the CA certificate", slug)
		}
	}

	// A wrong PIN is refused with an error that names the backend.
	if err := os.WriteFile(pinFile, []byte("9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := anchor(t, home, "crl", "publish")
	if r.code == 0 || !strings.Contains(r.stderr, "keys.pkcs11") ||
		strings.Contains(r.stderr, "9999") {
		t.Errorf("wrong PIN: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestLocalKMSHierarchy runs the same flow with the CA keys in local-kms, an
// implementation of the AWS KMS API, and checks that the aliases Anchor made
// point at the CA certificates' keys.
func TestLocalKMSHierarchy(t *testing.T) {
	openssl := needTool(t, "openssl")
	const region = "eu-west-2"
	endpoint := startLocalKMS(t, region)
	isolateAWS(t)
	home := t.TempDir()
	writeConfig(t, home, fmt.Sprintf(`keys:
  backend: kms
  kms: {region: %s, endpoint: %q, alias_prefix: ci/}
`, region, endpoint))

	root, issuing := keyBackendFlow(t, home, openssl)

	client := awskms.New(awskms.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDANCHORTEST", "x", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	for _, ca := range []*x509.Certificate{root, issuing} {
		alias := "alias/ci/" + slugOf(ca)
		out, err := client.GetPublicKey(context.Background(),
			&awskms.GetPublicKeyInput{KeyId: aws.String(alias)})
		if err != nil {
			t.Fatalf("GetPublicKey %s: %v", alias, err)
		}
		pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if !samePublicKey(pub, ca.PublicKey) {
			t.Errorf("%s is not the key of the CA certificate", alias)
		}
	}
}

// keyBackendFlow creates the hierarchy in home, issues two certificates,
// revokes one, publishes CRLs and has openssl check both against them. It
// returns the root and issuing CA certificates.
func keyBackendFlow(t *testing.T, home, openssl string) (root, issuing *x509.Certificate) {
	t.Helper()
	if out := mustAnchor(t, home, "init"); !strings.Contains(out, "created") {
		t.Fatalf("init: %q", out)
	}
	if out := mustAnchor(t, home, "init"); !strings.Contains(out, "nothing changed") {
		t.Fatalf("second init: %q", out)
	}
	root = parsePEMCert(t, []byte(mustAnchor(t, home, "ca", "--root")))
	issuing = parsePEMCert(t, []byte(mustAnchor(t, home, "ca", "--issuing")))
	if _, err := os.Stat(filepath.Join(home, "keys")); err == nil {
		t.Error("a keys folder was made in the home")
	}

	keptDir, _ := requestCert(t, home, "kept.example.com")
	revokedDir, victim := requestCert(t, home, "stolen.example.com")
	if out := mustAnchor(t, home, "revoke", victim, "--reason", "keyCompromise"); !strings.Contains(
		out, "revoked") {
		t.Fatalf("revoke: %q", out)
	}
	mustAnchor(t, home, "crl", "publish")

	pub := filepath.Join(home, "public")
	verify := func(dir string) (string, error) {
		return runTool(t, openssl, "verify", "-crl_check_all",
			"-CAfile", filepath.Join(pub, "anchor-root-ca-dev.pem"),
			"-untrusted", filepath.Join(dir, "chain.pem"),
			"-CRLfile", filepath.Join(pub, "anchor-issuing-ca-dev.crl.pem"),
			"-CRLfile", filepath.Join(pub, "anchor-root-ca-dev.crl.pem"),
			filepath.Join(dir, "cert.pem"))
	}
	if out, err := verify(keptDir); err != nil || !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify of the kept certificate: %v\n%s", err, out)
	}
	if out, err := verify(revokedDir); err == nil || !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify of the revoked certificate: %v\n%s", err, out)
	}

	noPrivateKeys(t, home)
	return root, issuing
}

// slugOf maps a default CA certificate to its slug.
func slugOf(c *x509.Certificate) string {
	if c.Subject.CommonName == "Anchor Root CA" {
		return "anchor-root-ca-dev"
	}
	return "anchor-issuing-ca-dev"
}

func samePublicKey(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// TestS3Publication publishes through an S3 server (gofakes3, in this
// process, on loopback) and compares what it holds with what a dir-backed
// home sharing the same store and keys publishes: the CA certificates and the
// bundle byte for byte, the CRLs by parsing and verifying them.
func TestS3Publication(t *testing.T) {
	const bucket, prefix = "anchor-pki", "pki/crl"
	s3URL := startFakeS3(t, bucket)
	isolateAWS(t)

	dirHome, s3Home := t.TempDir(), t.TempDir()
	mustAnchor(t, dirHome, "init")
	copyKeys(t, dirHome, s3Home)
	writeConfig(t, s3Home, fmt.Sprintf(`store: %q
publish:
  backend: s3
  s3: {bucket: %s, prefix: %s, region: us-east-1, endpoint: %q, path_style: true}
`, filepath.Join(dirHome, "anchor.db"), bucket, prefix, s3URL))

	_, victim := requestCert(t, dirHome, "stolen.example.com")
	mustAnchor(t, s3Home, "revoke", victim, "--reason", "keyCompromise")
	out := mustAnchor(t, s3Home, "crl", "publish")
	want := "s3://" + bucket + "/" + prefix + "/anchor-issuing-ca-dev.crl"
	if !strings.Contains(out, want) {
		t.Errorf("crl publish does not say where the CRL went (%s):\n%s", want, out)
	}
	mustAnchor(t, dirHome, "crl", "publish")
	if show := mustAnchor(t, s3Home, "crl", "show"); !strings.Contains(show, victim) {
		t.Errorf("crl show, read back from S3, lacks %s:\n%s", victim, show)
	}

	get := func(name string) ([]byte, string) {
		t.Helper()
		resp, err := http.Get(s3URL + "/" + bucket + "/" + prefix + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s from S3: %s\n%s", name, resp.Status, body)
		}
		return body, resp.Header.Get("Content-Type")
	}
	local := func(name string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dirHome, "public", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct{ name, contentType string }{
		{"anchor-root-ca-dev.crt", "application/pkix-cert"},
		{"anchor-root-ca-dev.pem", "application/x-pem-file"},
		{"anchor-issuing-ca-dev.crt", "application/pkix-cert"},
		{"anchor-issuing-ca-dev.pem", "application/x-pem-file"},
		{"anchor-ca-bundle-dev.pem", "application/x-pem-file"},
	} {
		data, ct := get(tc.name)
		if ct != tc.contentType {
			t.Errorf("%s: Content-Type %q, want %q", tc.name, ct, tc.contentType)
		}
		if !bytes.Equal(data, local(tc.name)) {
			t.Errorf("%s differs between S3 and the folder", tc.name)
		}
	}

	root := parsePEMCert(t, local("anchor-root-ca-dev.pem"))
	issuing := parsePEMCert(t, local("anchor-issuing-ca-dev.pem"))
	for _, ca := range []*x509.Certificate{root, issuing} {
		slug := slugOf(ca)
		der, ct := get(slug + ".crl")
		if ct != "application/pkix-crl" {
			t.Errorf("%s.crl: Content-Type %q", slug, ct)
		}
		pemData, ct := get(slug + ".crl.pem")
		if ct != "application/x-pem-file" {
			t.Errorf("%s.crl.pem: Content-Type %q", slug, ct)
		}
		if !bytes.Equal(pemData, crl.PEM(der)) {
			t.Errorf("%s: the PEM CRL in S3 is not the DER one", slug)
		}
		fromS3, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		fromDir, err := x509.ParseRevocationList(local(slug + ".crl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := fromS3.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: the CRL in S3 is not signed by the CA: %v", slug, err)
		}
		if !bytes.Equal(fromS3.RawIssuer, ca.RawSubject) {
			t.Errorf("%s: CRL issuer is not the CA's subject byte for byte", slug)
		}
		// The dir home published after the S3 home, from the same store.
		if fromDir.Number.Cmp(fromS3.Number) <= 0 {
			t.Errorf("%s: CRL numbers %s (S3) then %s (folder); want an increase", slug,
				fromS3.Number, fromDir.Number)
		}
		if ca == issuing && (!listed(fromS3, victim) || !listed(fromDir, victim)) {
			t.Errorf("issuing CRL: S3 lists %s: %v, folder: %v", victim,
				listed(fromS3, victim), listed(fromDir, victim))
		}
	}

	// anchor serve with the S3 publisher serves what the bucket holds.
	base := startServe(t, s3Home)
	served, h := httpGet(t, base+"/anchor-issuing-ca-dev.crl")
	inBucket, _ := get("anchor-issuing-ca-dev.crl")
	if !bytes.Equal(served, inBucket) || h.Get("Content-Type") != "application/pkix-crl" {
		t.Errorf("anchor serve on S3 serves another CRL than the bucket holds (%s)",
			h.Get("Content-Type"))
	}
}

func httpGet(t *testing.T, url string) ([]byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return body, resp.Header
}
