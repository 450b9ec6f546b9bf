package anywhere

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAuthorization(t *testing.T) {
	good := "AWS4-X509-ECDSA-SHA256 Credential=123/20261203/us-east-1/rolesanywhere/" +
		"aws4_request, SignedHeaders=host;x-amz-date;x-amz-x509, Signature=0a1b"
	a, err := parseAuthorization(good)
	if err != nil {
		t.Fatal(err)
	}
	want := authHeader{Algorithm: algECDSA, Credential: "123", Date: "20261203",
		Region: "us-east-1", Service: "rolesanywhere",
		SignedHeaders: []string{"host", "x-amz-date", "x-amz-x509"},
		Signature:     []byte{0x0a, 0x1b}}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("got %+v", a)
	}
	bad := []struct{ in, msg string }{
		{"AWS4-X509-ECDSA-SHA256", "missing credential"},
		{strings.Replace(good, "Signature=0a1b", "Signature=0A1B", 1), "lower-case hex"},
		{strings.Replace(good, "Signature=0a1b", "Signature=zz", 1), "lower-case hex"},
		{strings.Replace(good, "host;x-amz-date", "x-amz-date;host", 1), "sorted"},
		{strings.Replace(good, "host;", "Host;", 1), "bad SignedHeaders entry"},
		{strings.Replace(good, "/aws4_request", "", 1), "malformed Credential"},
		{strings.Replace(good, ", Signature=0a1b", "", 1), "are required"},
		{good + ", Extra=1", "unknown field"},
	}
	for _, tc := range bad {
		if _, err := parseAuthorization(tc.in); err == nil ||
			!strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: err %v, want %q", tc.in, err, tc.msg)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"roleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&a=b+c", "a=b%20c&roleArn=arn%3Aaws%3A" +
			"iam%3A%3A1%3Arole%2Fx"},
		{"k=v~_.-*", "k=v~_.-%2A"},
		{"a=2&a=1", "a=1&a=2"},
	}
	for _, tc := range tests {
		got, err := canonicalQuery(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("canonicalQuery(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Agrees with the encoding the signing helper uses.
	v := url.Values{"profileArn": {"arn:aws:x y"}, "a": {"~*"}}
	helper := strings.ReplaceAll(v.Encode(), "+", "%20")
	got, _ := canonicalQuery(v.Encode())
	if got != strings.ReplaceAll(helper, "*", "%2A") {
		t.Errorf("got %q, helper %q", got, helper)
	}
}

func TestCollapseSpaces(t *testing.T) {
	for in, want := range map[string]string{
		"  a   b  ": "a b", "a b": "a b", "": "", "a  b  c": "a b c",
	} {
		if got := collapseSpaces(in); got != want {
			t.Errorf("collapseSpaces(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckDate(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a := authHeader{Date: "20261203"}
	for _, tc := range []struct {
		date string
		ok   bool
	}{
		{"20261203T120000Z", true},
		{"20261203T120459Z", true},
		{"20261203T115501Z", true},
		{"20261203T120601Z", false},
		{"20261203T115359Z", false},
		{"20261202T235959Z", false}, // scope date differs
		{"2026-12-03T12:00:00Z", false},
	} {
		_, err := checkDate(tc.date, a, now)
		if (err == nil) != tc.ok {
			t.Errorf("checkDate(%s): %v, want ok=%v", tc.date, err, tc.ok)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		ok   bool
	}{
		{"*.example.net", "a.example.net", true},
		{"*.example.net", "example.net", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"Security*", "Security Operations", true},
		{"x/[y]", "x/[y]", true},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.ok {
			t.Errorf("globMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestPrincipalTags(t *testing.T) {
	ca := newRootCA(t, "Tag Root")
	dirName, _ := asn1.Marshal(pkix.Name{CommonName: "dir-cn",
		Organization: []string{"Dir Org"}}.ToRDNSequence())
	san, err := asn1.Marshal([]asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("host.example.net")},
		{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("spiffe://example/x")},
		{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirName},
	})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t, "p256")
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject: pkix.Name{CommonName: "host", OrganizationalUnit: []string{"Ops", "Other"},
			Organization: []string{"Ex"}, Locality: []string{"Paris"},
			Province: []string{"IDF"}, Country: []string{"FR"}},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	want := map[string]string{
		"x509Subject/CN": "host", "x509Subject/OU": "Ops", "x509Subject/O": "Ex",
		"x509Subject/L": "Paris", "x509Subject/ST": "IDF", "x509Subject/C": "FR",
		"x509Issuer/CN": "Tag Root", "x509Issuer/O": "Anchor Test",
		"x509SAN/DNS": "host.example.net", "x509SAN/URI": "spiffe://example/x",
		"x509SAN/Name/CN": "dir-cn", "x509SAN/Name/O": "Dir Org",
	}
	if got := principalTags(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("principalTags =\n%v\nwant\n%v", got, want)
	}
}

func TestSealer(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	box := s.seal("AKIA1", "secret")
	if got, err := s.open("AKIA1", box); err != nil || got != "secret" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open("AKIA2", box); err == nil {
		t.Fatal("sealed value opened under another key id")
	}
	other, _ := newSealer(append(make([]byte, 31), 1))
	if _, err := other.open("AKIA1", box); err == nil {
		t.Fatal("sealed value opened with another server secret")
	}
}
