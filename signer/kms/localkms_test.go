package kms

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"go/build"
	"io"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/anchorpki/anchor/signer"
)

const localKMSInstall = "go install " +
	"github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6"

// localKMSPath finds the local-kms binary on PATH or in Go's bin folder.
func localKMSPath() (string, bool) {
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p, true
	}
	dirs := []string{os.Getenv("GOBIN")}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "local-kms")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// lockedBuffer collects a child process's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var startedRE = regexp.MustCompile(`Local KMS started on [0-9.]+:(\d+)`)

// startLocalKMS runs local-kms on a port the kernel picks, with its data in a
// temporary folder, and returns a KMS client pointed at it over loopback.
func startLocalKMS(t testing.TB) *awskms.Client {
	t.Helper()
	bin, ok := localKMSPath()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("local-kms is not installed; install it with: %s", localKMSInstall)
		}
		t.Skipf("local-kms is not installed (install it with: %s)", localKMSInstall)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PORT=0", // the kernel picks a free port; local-kms logs it
		"KMS_DATA_PATH=" + filepath.Join(dir, "data"),
		"KMS_SEED_PATH=" + filepath.Join(dir, "no-seed.yaml"),
		"KMS_REGION=us-east-1",
		"KMS_ACCOUNT_ID=111122223333",
		"HOME=" + dir,
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start local-kms: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	var log lockedBuffer
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(&log, sc.Text())
			if m := startedRE.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var p string
	select {
	case p = <-port:
	case <-exited:
		t.Fatalf("local-kms exited before it listened:\n%s", log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("local-kms did not say it listened within 60 s:\n%s", log.String())
	}

	return awskms.New(awskms.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "secret", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:" + p),
	})
}

func TestLocalKMS(t *testing.T) {
	client := startLocalKMS(t)
	ctx := context.Background()

	tests := []struct {
		kt      signer.KeyType
		spec    types.KeySpec
		hash    crypto.Hash
		sigAlg  x509.SignatureAlgorithm
		describ string
	}{
		{signer.ECDSAP256, types.KeySpecEccNistP256, crypto.SHA256, x509.ECDSAWithSHA256,
			"ECDSA P-256"},
		{signer.ECDSAP384, types.KeySpecEccNistP384, crypto.SHA384, x509.ECDSAWithSHA384,
			"ECDSA P-384"},
		{signer.ECDSAP521, types.KeySpecEccNistP521, crypto.SHA512, x509.ECDSAWithSHA512,
			"ECDSA P-521"},
		{signer.RSA2048, types.KeySpecRsa2048, crypto.SHA256, x509.SHA256WithRSA, "RSA 2048"},
	}
	for _, tc := range tests {
		t.Run(string(tc.kt), func(t *testing.T) {
			alias := "anchor-test/" + string(tc.kt)
			s, err := Create(ctx, client, tc.kt, alias)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyType() != tc.kt || s.spec != tc.spec {
				t.Errorf("key type %s, spec %s; want %s, %s", s.KeyType(), s.spec, tc.kt, tc.spec)
			}
			if got := signer.Describe(s.Public()); got != tc.describ {
				t.Errorf("public key is %s, want %s", got, tc.describ)
			}
			if !strings.HasPrefix(s.KeyARN(), "arn:aws:kms:us-east-1:111122223333:key/") {
				t.Errorf("KeyARN() = %q, want a key ARN", s.KeyARN())
			}

			// The alias finds the same key, and a second Create refuses it.
			again, err := New(ctx, client, "alias/"+alias)
			if err != nil {
				t.Fatal(err)
			}
			if again.KeyARN() != s.KeyARN() || !publicEqual(again.Public(), s.Public()) {
				t.Fatal("New by alias found a different key")
			}
			_, err = Create(ctx, client, tc.kt, alias)
			if !errors.Is(err, ErrAliasExists) || !errors.Is(err, fs.ErrExist) {
				t.Fatalf("second Create: err = %v, want ErrAliasExists", err)
			}

			h := tc.hash.New()
			h.Write([]byte("tbsCertificate"))
			digest := h.Sum(nil)
			sig, err := s.Sign(rand.Reader, digest, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, s.Public(), tc.hash, digest, sig)

			checkCertificate(t, s, tc.sigAlg)
			checkLargeCRL(t, s)
		})
	}
}

func TestLocalKMSRSAPSS(t *testing.T) {
	client := startLocalKMS(t)
	s, err := Create(context.Background(), client, signer.RSA2048, "anchor-test/pss")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		hh := h.New()
		hh.Write([]byte("message"))
		d := hh.Sum(nil)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		sig, err := s.Sign(rand.Reader, d, opts)
		if err != nil {
			t.Fatal(err)
		}
		// local-kms picks the longest salt where KMS uses the hash length, so
		// verify with any salt length.
		err = rsa.VerifyPSS(s.Public().(*rsa.PublicKey), h, d, sig,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		if err != nil {
			t.Errorf("%s: PSS signature does not verify: %v", h, err)
		}
		// And PKCS #1 v1.5 with the same hash.
		sig, err = s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, s.Public(), h, d, sig)
	}
}

func TestLocalKMSRefusals(t *testing.T) {
	client := startLocalKMS(t)
	ctx := context.Background()

	s, err := Create(ctx, client, signer.ECDSAP256, "anchor-test/refusals")
	if err != nil {
		t.Fatal(err)
	}
	d384 := make([]byte, 48)
	if _, err := s.Sign(rand.Reader, d384, crypto.SHA384); err == nil ||
		!strings.Contains(err.Error(), "KeySpec ECC_NIST_P256 cannot sign with ECDSA_SHA_384") {
		t.Errorf("P-256 with SHA-384: err = %v", err)
	}
	if _, err := s.Sign(rand.Reader, d384, crypto.SHA256); err == nil ||
		!strings.Contains(err.Error(), "digest is 48 bytes, want 32 for SHA-256") {
		t.Errorf("short digest: err = %v", err)
	}

	_, err = New(ctx, client, "alias/anchor-test/no-such-key")
	if _, ok := errors.AsType[*types.NotFoundException](err); !ok {
		t.Errorf("missing key: err = %v, want a NotFoundException", err)
	}

	sym, err := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, client, *sym.KeyMetadata.KeyId)
	if err == nil ||
		!strings.Contains(err.Error(), "KeyUsage ENCRYPT_DECRYPT (want SIGN_VERIFY)") {
		t.Errorf("symmetric key: err = %v", err)
	}

	if _, err := Create(ctx, client, signer.ECDSAP256, "alias/aws/mine"); err == nil {
		t.Error("Create made an alias under alias/aws/")
	}
}

func publicEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func verify(t *testing.T, pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) {
	t.Helper()
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
			t.Fatalf("RSA signature does not verify: %v", err)
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

// checkCertificate makes a self-signed CA certificate with the KMS key and
// checks its signature.
func checkCertificate(t *testing.T, s *Signer, want x509.SignatureAlgorithm) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "Anchor KMS test root"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SignatureAlgorithm != want {
		t.Errorf("signature algorithm %s, want %s", cert.SignatureAlgorithm, want)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Fatalf("self-signed certificate does not verify: %v", err)
	}
	if !publicEqual(cert.PublicKey, s.Public()) {
		t.Fatal("certificate holds a different public key")
	}
}

// checkLargeCRL signs a CRL far over KMS's 4096-byte limit for raw messages,
// which works only because the signer sends a digest.
func checkLargeCRL(t *testing.T, s *Signer) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Anchor KMS test CA"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		IsCA:         true, BasicConstraintsValid: true,
		SubjectKeyId: []byte{1, 2, 3, 4},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s)
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := x509.ParseCertificate(der)
	var entries []x509.RevocationListEntry
	for i := range 1000 {
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   new(big.Int).Lsh(big.NewInt(int64(i+1)), 120),
			RevocationTime: time.Now().Add(-time.Hour),
		})
	}
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(7),
		ThisUpdate:                time.Now(),
		NextUpdate:                time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, issuer, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(crlDER) < 20_000 {
		t.Fatalf("CRL is only %d bytes; the test wants one far over 4096", len(crlDER))
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature does not verify: %v", err)
	}
}

// BenchmarkLocalKMSSign measures one Sign round trip to local-kms over
// loopback: the SDK's request signing and HTTP, plus the server's ECDSA.
func BenchmarkLocalKMSSign(b *testing.B) {
	client := startLocalKMS(b)
	s, err := Create(context.Background(), client, signer.ECDSAP256, "anchor-bench/p256")
	if err != nil {
		b.Fatal(err)
	}
	digest := make([]byte, 32)
	for b.Loop() {
		if _, err := s.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
