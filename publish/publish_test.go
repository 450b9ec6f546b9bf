package publish_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anchorpki/anchor/publish"
	"github.com/anchorpki/anchor/publish/publishtest"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"anchor-issuing-ca-dev.crl", true},
		{"anchor-issuing-ca-dev.crl.pem", true},
		{"anchor-root-ca.crt", true},
		{"anchor-root-ca-dev.pem", true},
		{"anchor-ca-bundle-dev.pem", true},
		{"Serverless_Root-CA.v2.crt", true},
		{"9.crl", true},
		{strings.Repeat("a", publish.MaxNameLen-4) + ".crl", true},
		{strings.Repeat("a", publish.MaxNameLen-3) + ".crl", false},
		{"", false},
		{".crl", false},
		{"-x.crl", false},
		{"_x.crl", false},
		{"a/b.crl", false},
		{"a\\b.crl", false},
		{"../a.crl", false},
		{"a..crl", false},
		{"a.crl.", false},
		{"a.CRL", false},
		{"a.der", false},
		{"a.crl.txt", false},
		{"a b.crl", false},
		{"a%2f.crl", false},
		{"a\x00.crl", false},
		{"a\n.crl", false},
		{"é.crl", false},
	}
	for _, tt := range tests {
		err := publish.ValidName(tt.name)
		if tt.ok && err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, publish.ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v, want an error wrapping ErrInvalidName", tt.name, err)
		}
	}
}

func TestValidNameMessage(t *testing.T) {
	err := publish.ValidName("dir/x.crl")
	want := `publish: invalid object name "dir/x.crl": byte '/' not allowed; ` +
		`use letters, digits, '.', '-' and '_'`
	if err == nil || err.Error() != want {
		t.Errorf("ValidName error = %v, want %s", err, want)
	}
}

func TestContentTypeFor(t *testing.T) {
	tests := []struct{ name, want string }{
		{"anchor-root-ca-dev.crl", "application/pkix-crl"},
		{"anchor-root-ca-dev.crl.pem", "application/x-pem-file"},
		{"anchor-root-ca-dev.crt", "application/pkix-cert"},
		{"anchor-root-ca-dev.pem", "application/x-pem-file"},
		{"anchor-ca-bundle-dev.pem", "application/x-pem-file"},
		{"anchor-root-ca-dev.crt.pem", "application/x-pem-file"},
		{"anchor-root-ca-dev.der", ""},
		{"crl", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := publish.ContentTypeFor(tt.name); got != tt.want {
			t.Errorf("ContentTypeFor(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestETag(t *testing.T) {
	tests := []struct{ data, want string }{
		{"", `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`},
		{"abc", `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
	}
	for _, tt := range tests {
		if got := publish.ETag([]byte(tt.data)); got != tt.want {
			t.Errorf("ETag(%q) = %s, want %s", tt.data, got, tt.want)
		}
	}
}

func TestCacheControl(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	crl := func(name string, left time.Duration) publish.Object {
		return publish.Object{Name: name, Expires: now.Add(left)}
	}
	tests := []struct {
		obj  publish.Object
		want string
	}{
		{crl("a.crl", 24*time.Hour), "public, max-age=60"},
		{crl("a.crl.pem", 24*time.Hour), "public, max-age=60"},
		{crl("a.crl", 61*time.Second), "public, max-age=60"},
		{crl("a.crl", time.Minute), "public, max-age=60"},
		{crl("a.crl", 30*time.Second), "public, max-age=30"},
		{crl("a.crl", 30*time.Second+900*time.Millisecond), "public, max-age=30"},
		{crl("a.crl.pem", time.Second), "public, max-age=1"},
		{crl("a.crl", 999*time.Millisecond), "no-cache"},
		{crl("a.crl", 0), "no-cache"},
		{crl("a.crl", -time.Hour), "no-cache"},
		{publish.Object{Name: "a.crl"}, "no-cache"},
		{publish.Object{Name: "a.crt"}, "public, max-age=3600"},
		{publish.Object{Name: "a.pem"}, "public, max-age=3600"},
		{publish.Object{Name: "anchor-ca-bundle-dev.pem"}, "public, max-age=3600"},
		{crl("a.crt", time.Second), "public, max-age=3600"},
		{publish.Object{Name: "../a.crt"}, "no-cache"},
		{publish.Object{Name: "a.txt"}, "no-cache"},
	}
	for _, tt := range tests {
		got := publish.CacheControl(tt.obj, now)
		if got != tt.want {
			t.Errorf("CacheControl(%s, expires in %v) = %q, want %q",
				tt.obj.Name, tt.obj.Expires.Sub(now), got, tt.want)
		}
	}
}

func TestNewObject(t *testing.T) {
	f := publishtest.NewFixture(t, time.Now())
	for _, want := range f.Objects(t) {
		got, err := publish.NewObject(want.Name, want.Data)
		if err != nil {
			t.Errorf("NewObject(%q): %v", want.Name, err)
			continue
		}
		if got.ContentType != want.ContentType {
			t.Errorf("%s: ContentType = %q, want %q", want.Name, got.ContentType, want.ContentType)
		}
		if !got.Expires.Equal(want.Expires) {
			t.Errorf("%s: Expires = %v, want %v", want.Name, got.Expires, want.Expires)
		}
		if got.ETag != publish.ETag(want.Data) {
			t.Errorf("%s: ETag = %s", want.Name, got.ETag)
		}
	}
}

func TestPrepareErrors(t *testing.T) {
	f := publishtest.NewFixture(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	crl := f.CRL(t, 1)
	tests := []struct {
		obj  publish.Object
		want string
	}{
		{publish.Object{Name: "a.crt", ContentType: "text/plain", Data: f.Root.Raw},
			`publish: object "a.crt": content type "text/plain", want "application/pkix-cert"`},
		{publish.Object{Name: "a.crl", Data: crl, Expires: f.NextUpdate.Add(time.Hour)},
			`publish: object "a.crl": expires 2026-03-02T13:10:00Z differs from ` +
				`the CRL's nextUpdate 2026-03-02T12:10:00Z`},
		{publish.Object{Name: "a.crt", Data: f.Root.Raw, Expires: f.NextUpdate},
			`publish: object "a.crt": expires: must be zero for a certificate`},
		{publish.Object{Name: "a.crt"}, `publish: object "a.crt": data: empty`},
		{publish.Object{Name: "a.crl", Data: []byte("-----BEGIN X509 CRL-----")},
			`publish: object "a.crl": data: not a DER CRL: no CertificateList SEQUENCE`},
		{publish.Object{Name: "a.crl.pem", Data: pemOf("CERTIFICATE", f.Root.Raw)},
			`publish: object "a.crl.pem": data: PEM block 1 is "CERTIFICATE", want "X509 CRL"`},
		{publish.Object{Name: "a.crl.pem", Data: append(pemOf("X509 CRL", crl),
			pemOf("X509 CRL", crl)...)},
			`publish: object "a.crl.pem": data: 2 X509 CRL blocks, want 1`},
		{publish.Object{Name: "a.pem", Data: []byte("hello")},
			`publish: object "a.pem": data: no "CERTIFICATE" PEM block`},
		{publish.Object{Name: "a.pem", Data: append(pemOf("CERTIFICATE", f.Root.Raw),
			"-----BEGIN CERTIFICATE-----\nAAAA"...)},
			`publish: object "a.pem": data: malformed PEM block after block 1`},
	}
	for _, tt := range tests {
		_, err := publish.Prepare(tt.obj)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Prepare(%s) = %v,\nwant %s", tt.obj.Name, err, tt.want)
		}
	}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// rawCRL builds an unsigned CertificateList by hand, to reach shapes that
// x509.CreateRevocationList does not make.
func rawCRL(t *testing.T, version bool, this time.Time, next *time.Time, revoked bool) []byte {
	t.Helper()
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	issuer, err := asn1.Marshal(pkix.Name{CommonName: "x"}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	var fields []any
	if version {
		fields = append(fields, 1)
	}
	fields = append(fields, alg, asn1.RawValue{FullBytes: issuer}, this)
	if next != nil {
		fields = append(fields, *next)
	}
	if revoked {
		entry := []any{42, this}
		fields = append(fields, []any{entry})
	}
	tbs := marshalSeq(t, fields...)
	return marshalSeq(t, asn1.RawValue{FullBytes: tbs}, alg,
		asn1.BitString{Bytes: []byte{1, 2, 3}, BitLength: 24})
}

func marshalSeq(t *testing.T, fields ...any) []byte {
	t.Helper()
	var body []byte
	for _, f := range fields {
		b, err := asn1.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, b...)
	}
	b, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCRLNextUpdateShapes(t *testing.T) {
	this := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	next := this.Add(25 * time.Hour)
	far := time.Date(2061, 1, 2, 3, 4, 5, 0, time.UTC) // GeneralizedTime
	tests := []struct {
		what string
		der  []byte
		want time.Time
	}{
		{"v2 with nextUpdate and entries", rawCRL(t, true, this, &next, true), next},
		{"v1 with nextUpdate", rawCRL(t, false, this, &next, false), next},
		{"GeneralizedTime nextUpdate", rawCRL(t, true, this, &far, true), far},
		{"no nextUpdate, entries", rawCRL(t, true, this, nil, true), time.Time{}},
		{"no nextUpdate, nothing else", rawCRL(t, true, this, nil, false), time.Time{}},
	}
	for _, tt := range tests {
		for _, o := range []publish.Object{
			{Name: "a.crl", Data: tt.der},
			{Name: "a.crl.pem", Data: pemOf("X509 CRL", tt.der)},
		} {
			got, err := publish.Prepare(o)
			if err != nil {
				t.Errorf("%s, %s: %v", tt.what, o.Name, err)
				continue
			}
			if !got.Expires.Equal(tt.want) {
				t.Errorf("%s, %s: Expires = %v, want %v", tt.what, o.Name, got.Expires, tt.want)
			}
		}
	}
}

func TestStoredObject(t *testing.T) {
	f := publishtest.NewFixture(t, time.Now())
	crl := f.CRL(t, 1)
	mod := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	got := publish.StoredObject("a.crl", "application/pkix-crl", crl, mod)
	if !got.Expires.Equal(f.NextUpdate) || got.ETag != publish.ETag(crl) ||
		!got.ModTime.Equal(mod) || got.ContentType != "application/pkix-crl" {
		t.Errorf("StoredObject(CRL) = %+v", got)
	}

	// A damaged CRL is returned as it is, without nextUpdate.
	damaged := publish.StoredObject("a.crl", "application/pkix-crl", crl[:10], mod)
	if !damaged.Expires.IsZero() || len(damaged.Data) != 10 {
		t.Errorf("StoredObject(damaged CRL) = %+v", damaged)
	}
	if cc := publish.CacheControl(*damaged, mod); cc != "no-cache" {
		t.Errorf("CacheControl(damaged CRL) = %q, want no-cache", cc)
	}
}

func FuzzPrepare(f *testing.F) {
	fx := publishtest.NewFixture(f, time.Now())
	for _, o := range fx.Objects(f) {
		f.Add(o.Name, o.Data)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		got, err := publish.Prepare(publish.Object{Name: name, Data: data})
		stored := publish.StoredObject(name, publish.ContentTypeFor(name), data, time.Time{})
		if err == nil && !got.Expires.Equal(stored.Expires) {
			t.Errorf("Prepare and StoredObject disagree on Expires: %v, %v",
				got.Expires, stored.Expires)
		}
		_ = publish.CacheControl(*stored, time.Now())
	})
}

func BenchmarkNewObjectCRL(b *testing.B) {
	f := publishtest.NewFixture(b, time.Now())
	for _, n := range []int{10, 100000} {
		serials := make([]int64, n)
		for i := range serials {
			serials[i] = int64(1000 + i)
		}
		der := f.CRL(b, 1, serials...)
		b.Run(strconv.Itoa(n)+"-entries", func(b *testing.B) {
			b.SetBytes(int64(len(der)))
			for b.Loop() {
				if _, err := publish.NewObject("a.crl", der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
