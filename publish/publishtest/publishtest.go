// Package publishtest checks that a publish.Publisher behaves as package
// publish promises, and makes the realistic objects those checks publish.
// Every implementation runs Run in its tests.
package publishtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/anchorpki/anchor/publish"
)

// Lifetime is the nextUpdate of the CRLs made by Objects, counted from
// thisUpdate: Anchor's default of one day plus 600 seconds.
const Lifetime = 24*time.Hour + 600*time.Second

// Fixture is a two-tier hierarchy and its CRLs, as Anchor publishes them.
type Fixture struct {
	Root, Issuing *x509.Certificate
	// NextUpdate is the nextUpdate of both CRLs, in UTC whole seconds.
	NextUpdate time.Time

	rootKey, issuingKey *ecdsa.PrivateKey
}

// NewFixture makes a root CA, an issuing CA signed by it, and fixes the CRLs'
// thisUpdate at now (truncated to seconds).
func NewFixture(t testing.TB, now time.Time) *Fixture {
	t.Helper()
	now = now.UTC().Truncate(time.Second)
	f := &Fixture{NextUpdate: now.Add(Lifetime)}
	f.rootKey, f.Root = makeCA(t, "publishtest root", nil, nil)
	f.issuingKey, f.Issuing = makeCA(t, "publishtest issuing", f.Root, f.rootKey)
	return f
}

func makeCA(t testing.TB, cn string, parent *x509.Certificate,
	parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Anchor"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// CRL returns a DER CRL of the issuing CA with number n, the given revoked
// serials, and the fixture's nextUpdate.
func (f *Fixture) CRL(t testing.TB, n int64, revoked ...int64) []byte {
	t.Helper()
	thisUpdate := f.NextUpdate.Add(-Lifetime)
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(n),
		ThisUpdate: thisUpdate,
		NextUpdate: f.NextUpdate,
	}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, f.Issuing, f.issuingKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Objects returns the eleven objects Anchor publishes for project "anchor"
// and environment "dev": for the root and the issuing CA, the CRL in DER and
// PEM and the certificate in DER and PEM, and the CA bundle. ContentType is
// set with publish.ContentTypeFor and Expires to the CRLs' nextUpdate.
func (f *Fixture) Objects(t testing.TB) []publish.Object {
	t.Helper()
	rootCRL := f.rootCRL(t)
	issuingCRL := f.CRL(t, 7, 1001, 1002, 1003)
	bundle := append(pemOf("CERTIFICATE", f.Root.Raw), pemOf("CERTIFICATE", f.Issuing.Raw)...)

	var objs []publish.Object
	add := func(name string, data []byte, expires time.Time) {
		objs = append(objs, publish.Object{
			Name:        name,
			ContentType: publish.ContentTypeFor(name),
			Data:        data,
			Expires:     expires,
		})
	}
	for _, ca := range []struct {
		slug string
		cert *x509.Certificate
		crl  []byte
	}{
		{"anchor-root-ca-dev", f.Root, rootCRL},
		{"anchor-issuing-ca-dev", f.Issuing, issuingCRL},
	} {
		add(ca.slug+".crl", ca.crl, f.NextUpdate)
		add(ca.slug+".crl.pem", pemOf("X509 CRL", ca.crl), f.NextUpdate)
		add(ca.slug+".crt", ca.cert.Raw, time.Time{})
		add(ca.slug+".pem", pemOf("CERTIFICATE", ca.cert.Raw), time.Time{})
	}
	add("anchor-ca-bundle-dev.pem", bundle, time.Time{})
	return objs
}

func (f *Fixture) rootCRL(t testing.TB) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: f.NextUpdate.Add(-Lifetime),
		NextUpdate: f.NextUpdate,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, f.Root, f.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// uniqueName returns a name no earlier run used, so that Run can be pointed
// at a bucket that outlives the test.
func uniqueName(t testing.TB, stem, suffix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "publishtest-" + stem + "-" + hex.EncodeToString(b) + suffix
}

// Run checks the behaviour every Publisher promises: round trips of all
// object kinds, replacement, ErrNotFound, refusal of invalid names and
// objects with nothing of the call published, and cancellation. It
// overwrites the objects named by Objects.
func Run(t *testing.T, pub publish.Publisher) {
	f := NewFixture(t, time.Now())

	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, pub, f) })
	t.Run("Replace", func(t *testing.T) { testReplace(t, pub, f) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, pub) })
	t.Run("InvalidName", func(t *testing.T) { testInvalidName(t, pub, f) })
	t.Run("InvalidObject", func(t *testing.T) { testInvalidObject(t, pub, f) })
	t.Run("Canceled", func(t *testing.T) { testCanceled(t, pub, f) })
}

func testRoundTrip(t *testing.T, pub publish.Publisher, f *Fixture) {
	objs := f.Objects(t)
	start := time.Now()
	if err := pub.Publish(t.Context(), objs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	for _, want := range objs {
		got, err := pub.Get(t.Context(), want.Name)
		if err != nil {
			t.Errorf("Get(%q): %v", want.Name, err)
			continue
		}
		if got.Name != want.Name {
			t.Errorf("Get(%q).Name = %q", want.Name, got.Name)
		}
		if got.ContentType != want.ContentType {
			t.Errorf("Get(%q).ContentType = %q, want %q",
				want.Name, got.ContentType, want.ContentType)
		}
		if !bytes.Equal(got.Data, want.Data) {
			t.Errorf("Get(%q).Data differs: %d bytes, want %d",
				want.Name, len(got.Data), len(want.Data))
		}
		if got.ETag != publish.ETag(want.Data) {
			t.Errorf("Get(%q).ETag = %s, want %s", want.Name, got.ETag, publish.ETag(want.Data))
		}
		if !got.Expires.Equal(want.Expires) {
			t.Errorf("Get(%q).Expires = %v, want %v", want.Name, got.Expires, want.Expires)
		}
		// Loose bounds: a remote store's clock may differ from ours.
		if got.ModTime.Before(start.Add(-time.Hour)) || got.ModTime.After(start.Add(time.Hour)) {
			t.Errorf("Get(%q).ModTime = %v, want close to %v", want.Name, got.ModTime, start)
		}
	}
}

func testReplace(t *testing.T, pub publish.Publisher, f *Fixture) {
	name := uniqueName(t, "replace", ".crl")
	v1 := f.CRL(t, 1)
	later := *f
	later.NextUpdate = f.NextUpdate.Add(time.Hour)
	v2 := later.CRL(t, 2, 42)

	for i, data := range [][]byte{v1, v2} {
		if err := pub.Publish(t.Context(), publish.Object{Name: name, Data: data}); err != nil {
			t.Fatalf("Publish version %d: %v", i+1, err)
		}
	}

	got, err := pub.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got.Data, v2) {
		t.Errorf("Get returned version 1 or other bytes after publishing version 2")
	}
	if !got.Expires.Equal(later.NextUpdate) {
		t.Errorf("Expires = %v, want the second CRL's nextUpdate %v", got.Expires, later.NextUpdate)
	}
	if got.ETag == publish.ETag(v1) || got.ETag != publish.ETag(v2) {
		t.Errorf("ETag = %s, want %s", got.ETag, publish.ETag(v2))
	}
}

func testNotFound(t *testing.T, pub publish.Publisher) {
	name := uniqueName(t, "absent", ".crl")
	obj, err := pub.Get(t.Context(), name)
	if !errors.Is(err, publish.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, %v; want an error wrapping ErrNotFound", name, obj, err)
	}
}

func testInvalidName(t *testing.T, pub publish.Publisher, f *Fixture) {
	for _, name := range []string{
		"",
		"dir/anchor-root-ca-dev.crt",
		"../anchor-root-ca-dev.crt",
		"/etc/anchor-root-ca-dev.crt",
		".anchor-root-ca-dev.crt",
		"anchor..crt",
		"anchor-root-ca-dev.txt",
		"anchor root.crt",
		"anchor\x00.crt",
		"anchor\\root.crt",
		"anchör.crt",
	} {
		obj := publish.Object{Name: name, Data: f.Root.Raw}
		if err := pub.Publish(t.Context(), obj); !errors.Is(err, publish.ErrInvalidName) {
			t.Errorf("Publish(%q) = %v, want an error wrapping ErrInvalidName", name, err)
		}
		if _, err := pub.Get(t.Context(), name); !errors.Is(err, publish.ErrInvalidName) {
			t.Errorf("Get(%q) = %v, want an error wrapping ErrInvalidName", name, err)
		}
	}
}

func testInvalidObject(t *testing.T, pub publish.Publisher, f *Fixture) {
	crl := f.CRL(t, 3)
	certPEM := pemOf("CERTIFICATE", f.Root.Raw)
	tests := []struct {
		what string
		obj  publish.Object
	}{
		{"PEM at .crl", publish.Object{Name: "x.crl", Data: pemOf("X509 CRL", crl)}},
		{"DER at .crl.pem", publish.Object{Name: "x.crl.pem", Data: crl}},
		{"certificate at .crl", publish.Object{Name: "x.crl", Data: f.Root.Raw}},
		{"CRL at .crt", publish.Object{Name: "x.crt", Data: crl}},
		{"PEM at .crt", publish.Object{Name: "x.crt", Data: certPEM}},
		{"CRL PEM at .pem", publish.Object{Name: "x.pem", Data: pemOf("X509 CRL", crl)}},
		{"empty", publish.Object{Name: "x.crt"}},
		{"truncated CRL", publish.Object{Name: "x.crl", Data: crl[:len(crl)-1]}},
		{"wrong content type", publish.Object{
			Name: "x.crt", ContentType: "application/octet-stream", Data: f.Root.Raw}},
		{"expires not nextUpdate", publish.Object{
			Name: "x.crl", Data: crl, Expires: f.NextUpdate.Add(time.Second)}},
		{"expires on certificate", publish.Object{
			Name: "x.crt", Data: f.Root.Raw, Expires: f.NextUpdate}},
	}
	for _, tt := range tests {
		first := publish.Object{Name: uniqueName(t, "first", ".crt"), Data: f.Root.Raw}
		err := pub.Publish(t.Context(), first, tt.obj)
		if err == nil {
			t.Errorf("%s: Publish succeeded, want an error", tt.what)
		}
		if _, err := pub.Get(t.Context(), first.Name); !errors.Is(err, publish.ErrNotFound) {
			t.Errorf("%s: the valid object before the invalid one was published "+
				"(Get: %v)", tt.what, err)
		}
	}
}

func testCanceled(t *testing.T, pub publish.Publisher, f *Fixture) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	obj := publish.Object{Name: uniqueName(t, "canceled", ".crt"), Data: f.Root.Raw}
	if err := pub.Publish(ctx, obj); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a canceled context = %v, want context.Canceled", err)
	}
	if _, err := pub.Get(t.Context(), obj.Name); !errors.Is(err, publish.ErrNotFound) {
		t.Errorf("object published despite the canceled context (Get: %v)", err)
	}
}
