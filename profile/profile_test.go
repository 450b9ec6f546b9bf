package profile

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The SAN examples that the serverless CA's tests pin down.
func TestSANFiltering(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{
		"common_name": "x.example.com",
		"sans": []string{"test1.example.com", "test2.example.com", "*.example.com",
			"*.com", "invalid DNS name"},
	}), Policy{})

	wantDNS := []string{"test1.example.com", "test2.example.com", "*.example.com"}
	cert := sign(t, tmpl)
	if !reflect.DeepEqual(cert.DNSNames, wantDNS) {
		t.Errorf("DNSNames = %q, want %q", cert.DNSNames, wantDNS)
	}
	wantSANs := []string{"DNS:test1.example.com", "DNS:test2.example.com", "DNS:*.example.com"}
	if got := tmpl.SANStrings(); !reflect.DeepEqual(got, wantSANs) {
		t.Errorf("SANStrings = %q, want %q", got, wantSANs)
	}
	wantDropped := []DroppedSAN{
		{SAN{SANDNSName, "*.com"}, "not a valid DNS name"},
		{SAN{SANDNSName, "invalid DNS name"}, "not a valid DNS name"},
	}
	if !reflect.DeepEqual(tmpl.DroppedSANs, wantDropped) {
		t.Errorf("DroppedSANs = %q, want %q", tmpl.DroppedSANs, wantDropped)
	}
}

func TestSANMapForm(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	data := []byte(`{"common_name": "x.example.com", "base64_csr_data": "` + csr + `",
		"sans": {"DNS_NAME": ["map1.example.com", "map2.example.com"],
		"IP_ADDRESS": "172.16.0.1"}}`)
	cert := sign(t, mustEvaluate(t, data, Policy{}))
	if want := []string{"map1.example.com", "map2.example.com"}; !reflect.DeepEqual(
		cert.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", cert.DNSNames, want)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("172.16.0.1")) {
		t.Errorf("IPAddresses = %v, want [172.16.0.1]", cert.IPAddresses)
	}
}

func TestSANListOfObjects(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	data := []byte(`{"common_name": "x.example.com", "base64_csr_data": "` + csr + `",
		"sans": [{"type": "DNS_NAME", "value": "valid.example.com"},
		{"type": "IP_ADDRESS", "value": "not-an-ip-address"},
		{"type": "EMAIL_ADDRESS", "value": "not-an-email"},
		{"type": "IP_ADDRESS", "value": "10.20.30.40"}]}`)
	tmpl := mustEvaluate(t, data, Policy{})
	cert := sign(t, tmpl)
	if want := []string{"valid.example.com"}; !reflect.DeepEqual(cert.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", cert.DNSNames, want)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("10.20.30.40")) {
		t.Errorf("IPAddresses = %v, want [10.20.30.40]", cert.IPAddresses)
	}
	if len(cert.EmailAddresses) != 0 {
		t.Errorf("EmailAddresses = %q, want none", cert.EmailAddresses)
	}
	if len(tmpl.DroppedSANs) != 2 {
		t.Errorf("DroppedSANs = %q, want 2 entries", tmpl.DroppedSANs)
	}
}

func TestSANFallbackToCN(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("csr.example.com"))
	tests := []struct {
		name   string
		fields map[string]any
		want   []string // DNS names; nil means no SAN extension
	}{
		{"no sans", map[string]any{"common_name": "x.example.com"},
			[]string{"x.example.com"}},
		{"empty list", map[string]any{"common_name": "x.example.com", "sans": []string{}},
			[]string{"x.example.com"}},
		{"all invalid", map[string]any{"common_name": "x.example.com",
			"sans": []string{"*.com", "no dots"}}, []string{"x.example.com"}},
		{"CN from the CSR", map[string]any{}, []string{"csr.example.com"}},
		{"CN not a DNS name", map[string]any{"common_name": "This is not a valid DNS name"},
			nil},
		{"CN not a DNS name, invalid sans", map[string]any{
			"common_name": "This is not a valid DNS name", "sans": "bad_name.example.com"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := mustEvaluate(t, requestJSON(t, csr, tt.fields), Policy{})
			_, hasSAN := findExt(tmpl.Extensions, oidExtSubjectAltName)
			if tt.want == nil {
				if hasSAN || len(tmpl.SANs) != 0 {
					t.Fatalf("SAN extension present (%q), want none", tmpl.SANs)
				}
				return
			}
			cert := sign(t, tmpl)
			if !reflect.DeepEqual(cert.DNSNames, tt.want) {
				t.Fatalf("DNSNames = %q, want %q", cert.DNSNames, tt.want)
			}
		})
	}
}

func TestSANTypes(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	data := []byte(`{"common_name": "x.example.com", "base64_csr_data": "` + csr + `",
		"sans": {"URL": ["spiffe://example.org/ns/prod/sa/backup",
		"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		"https://svc.example.com:8443/path?q=1", "ldap:///dc=example,dc=com",
		"spiffe://Example.org/x", "spiffe://example.org/a//b", "spiffe://example.org:80/x",
		"urn:x", "urn://x:y", "gopher://example.com/", "https://", "https://a..b/",
		"http://exa mple.com/"],
		"EMAIL_ADDRESS": ["user@example.com", "User <user@example.com>", "<u@example.com>",
		"üser@example.com"],
		"IP_ADDRESS": ["::1", "2001:db8::1", "fe80::1%eth0", "010.1.1.1"],
		"DN": ["CN=Partner,O=Org,C=US", "X=1", "C=USA", "CN=a+O=b"],
		"OTHER_NAME": "x"}}`)
	tmpl := mustEvaluate(t, data, Policy{})
	cert := sign(t, tmpl)

	wantURIs := []string{"spiffe://example.org/ns/prod/sa/backup",
		"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		"https://svc.example.com:8443/path?q=1", "ldap:///dc=example,dc=com"}
	var gotURIs []string
	for _, u := range cert.URIs {
		gotURIs = append(gotURIs, u.String())
	}
	if !reflect.DeepEqual(gotURIs, wantURIs) {
		t.Errorf("URIs = %q, want %q", gotURIs, wantURIs)
	}
	if want := []string{"user@example.com"}; !reflect.DeepEqual(cert.EmailAddresses, want) {
		t.Errorf("EmailAddresses = %q, want %q", cert.EmailAddresses, want)
	}
	if len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.IPv6loopback) ||
		!cert.IPAddresses[1].Equal(net.ParseIP("2001:db8::1")) {
		t.Errorf("IPAddresses = %v, want [::1 2001:db8::1]", cert.IPAddresses)
	}
	if len(cert.DNSNames) != 0 {
		t.Errorf("DNSNames = %q, want none (explicit SANs suppress the CN fallback)",
			cert.DNSNames)
	}

	wantSANs := []string{
		"URI:spiffe://example.org/ns/prod/sa/backup",
		"URI:urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		"URI:https://svc.example.com:8443/path?q=1",
		"URI:ldap:///dc=example,dc=com",
		"email:user@example.com",
		"IP:::1", "IP:2001:db8::1",
		"DirName:CN=Partner,O=Org,C=US",
	}
	if got := tmpl.SANStrings(); !reflect.DeepEqual(got, wantSANs) {
		t.Errorf("SANStrings =\n%q\nwant\n%q", got, wantSANs)
	}
	wantDropped := map[string]string{
		"spiffe://Example.org/x": "SPIFFE trust domain must be lower-case letters, " +
			"digits, '.', '-' or '_'",
		"spiffe://example.org/a//b": "SPIFFE ID path has an empty, '.' or '..' segment",
		"spiffe://example.org:80/x": "SPIFFE ID must not have user info, a port, " +
			"a query or a fragment",
		"urn:x":     "URN must have the form urn:NID:NSS",
		"urn://x:y": "URN namespace must be 2 to 32 letters, digits or inner hyphens",
		"gopher://example.com/": `URL scheme "gopher" is not allowed (want http, https, ` +
			"ftp, ftps, ldap, ldaps, spiffe or urn)",
		"https://":             "URL has no host",
		"https://a..b/":        "URL host is not a valid host name or IP address",
		"http://exa mple.com/": "URL contains a space, a control or a non-ASCII character",
		"User <user@example.com>": "not a valid email address (want local@domain, ASCII, " +
			"without a display name)",
		"<u@example.com>": "not a valid email address (want local@domain, ASCII, " +
			"without a display name)",
		"üser@example.com": "not a valid email address (want local@domain, ASCII, " +
			"without a display name)",
		"fe80::1%eth0": "not a valid IP address",
		"010.1.1.1":    "not a valid IP address",
		"X=1":          `DN attribute "X" is not one of CN, O, OU, C, ST, L, E, DC`,
		"C=USA":        "DN attribute C must be exactly 2 letters",
		"CN=a+O=b": `DN has an unescaped "+" (multi-valued RDNs and quoting are ` +
			"not supported)",
		"x": `unknown SAN type "OTHER_NAME" (want DNS_NAME, IP_ADDRESS, EMAIL_ADDRESS, ` +
			"URL or DN)",
	}
	got := map[string]string{}
	for _, d := range tmpl.DroppedSANs {
		got[d.SAN.Value] = d.Reason
	}
	if !reflect.DeepEqual(got, wantDropped) {
		for k, v := range got {
			if wantDropped[k] != v {
				t.Errorf("dropped %q: %q, want %q", k, v, wantDropped[k])
			}
		}
		for k := range wantDropped {
			if _, ok := got[k]; !ok {
				t.Errorf("%q was not dropped", k)
			}
		}
	}
}

// TestDNSANEncoding reads the directoryName back from the DER.
func TestDNSANEncoding(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{
		"sans": map[string]any{"DN": `cn=Partner\, Ltd , O=Org,C=US,DC=example,E=a@example.com`},
	}), Policy{})
	ext, ok := findExt(tmpl.Extensions, oidExtSubjectAltName)
	if !ok {
		t.Fatal("no SAN extension")
	}
	if ext.Critical {
		t.Error("SAN extension is critical with a non-empty subject")
	}
	var names []asn1.RawValue
	if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Class != asn1.ClassContextSpecific ||
		names[0].Tag != tagDirectoryName || !names[0].IsCompound {
		t.Fatalf("GeneralNames = %+v, want one directoryName", names)
	}
	got, err := SubjectString(names[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// Rendering gives the written order back (escapes normalised).
	want := `CN=Partner\, Ltd,O=Org,C=US,DC=example,` +
		`1.2.840.113549.1.9.1=#160d61406578616d706c652e636f6d`
	if got != want {
		t.Errorf("directoryName = %q, want %q", got, want)
	}
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(names[0].Bytes, &seq); err != nil {
		t.Fatal(err)
	}
	// ASN.1 order is the string reversed: most general first.
	wantTypes := []string{"1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.25",
		"2.5.4.6", "2.5.4.10", "2.5.4.3"}
	var gotTypes []string
	for _, rdn := range seq {
		gotTypes = append(gotTypes, rdn[0].Type.String())
	}
	if !reflect.DeepEqual(gotTypes, wantTypes) {
		t.Errorf("RDN types = %q, want %q", gotTypes, wantTypes)
	}
	sign(t, tmpl) // crypto/x509 must read it back
}

func TestSANCriticalWhenSubjectEmpty(t *testing.T) {
	names := []asn1.RawValue{ia5Name(tagDNSName, "x.example.com")}
	for _, empty := range []bool{true, false} {
		ext, err := sanExtension(names, empty)
		if err != nil {
			t.Fatal(err)
		}
		if ext.Critical != empty {
			t.Errorf("sanExtension(empty subject %v).Critical = %v", empty, ext.Critical)
		}
	}
}

func TestSANDuplicates(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{
		"sans": []string{"a.example.com", "A.example.com", " a.example.com "},
	}), Policy{})
	if want := []string{"DNS:a.example.com"}; !reflect.DeepEqual(tmpl.SANStrings(), want) {
		t.Errorf("SANStrings = %q, want %q", tmpl.SANStrings(), want)
	}
	if len(tmpl.DroppedSANs) != 2 || tmpl.DroppedSANs[0].Reason != "repeats an earlier SAN" {
		t.Errorf("DroppedSANs = %q", tmpl.DroppedSANs)
	}
}

func TestValidDNSName(t *testing.T) {
	tests := map[string]bool{
		"example.com":                    true,
		"a.b-c.example.com":              true,
		"*.example.com":                  true,
		"xn--p1ai.xn--p1ai":              true,
		"123.example.com":                true,
		"EXAMPLE.COM":                    true,
		"*.com":                          false,
		"*":                              false,
		"com":                            false,
		"a.*.example.com":                false,
		"**.example.com":                 false,
		"example.com.":                   false,
		".example.com":                   false,
		"a..example.com":                 false,
		"-a.example.com":                 false,
		"a-.example.com":                 false,
		"a_b.example.com":                false,
		"example.123":                    false,
		"1.2.3.4":                        false,
		"example.c0m":                    true, // the spec only asks the last character
		"example.c0":                     false,
		"exa mple.com":                   false,
		"":                               false,
		strings.Repeat("a", 64) + ".com": false,
		strings.Repeat("a", 63) + ".com": true,
		strings.Repeat(strings.Repeat("a", 63)+".", 4) + "com": false, // 259 characters
	}
	for name, want := range tests {
		if got := validDNSName(name); got != want {
			t.Errorf("validDNSName(%q) = %v, want %v", name, got, want)
		}
	}
}

var (
	ekuServer   = "1.3.6.1.5.5.7.3.1"
	ekuClient   = "1.3.6.1.5.5.7.3.2"
	ekuCode     = "1.3.6.1.5.5.7.3.3"
	ekuEmail    = "1.3.6.1.5.5.7.3.4"
	ekuIPsecES  = "1.3.6.1.5.5.7.3.5"
	ekuIPsecT   = "1.3.6.1.5.5.7.3.6"
	ekuIPsecU   = "1.3.6.1.5.5.7.3.7"
	ekuTime     = "1.3.6.1.5.5.7.3.8"
	ekuOCSP     = "1.3.6.1.5.5.7.3.9"
	ekuAny      = "2.5.29.37.0"
	allEKUNames = []string{"TLS_WEB_SERVER_AUTHENTICATION", "TLS_WEB_CLIENT_AUTHENTICATION",
		"CODE_SIGNING", "EMAIL_PROTECTION", "IPSEC_END_SYSTEM", "IPSEC_TUNNEL", "IPSEC_USER",
		"TIME_STAMPING", "OCSP_SIGNING", "ANY", "NONE"}
)

func TestEKU(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tests := []struct {
		name        string
		purposes    any // nil: absent
		ekus        any
		want        []string
		wantDropped []string
	}{
		{"defaults", nil, nil, []string{ekuClient}, nil},
		{"server only", []string{"server_auth"}, nil, []string{ekuServer}, nil},
		{"server, client", []string{"server_auth", "client_auth"}, nil,
			[]string{ekuServer, ekuClient}, nil},
		{"client, server", []string{"client_auth", "server_auth"}, nil,
			[]string{ekuClient, ekuServer}, nil},
		{"empty purposes", []string{}, nil, []string{ekuClient}, nil},
		{"unknown purpose only", []string{"code_signing"}, nil, []string{ekuClient}, nil},
		{"purposes repeated, any case", []string{"SERVER_AUTH", "server_auth", "bogus"}, nil,
			[]string{ekuServer}, nil},
		{"eku names repeat purposes", nil,
			[]string{"TLS_WEB_CLIENT_AUTHENTICATION", "TLS_WEB_SERVER_AUTHENTICATION"},
			[]string{ekuClient, ekuServer}, nil},
		{"every name", []string{"server_auth"}, allEKUNames,
			[]string{ekuServer, ekuClient, ekuCode, ekuEmail, ekuIPsecES, ekuIPsecT,
				ekuIPsecU, ekuTime, ekuOCSP, ekuAny}, nil},
		{"OIDs, unknown names and NONE", []string{"server_auth"},
			[]string{"CODE_SIGNING", "1.3.6.1.5.5.7.3.1", "NONE", "ANY", "UNKNOWN_THING",
				"1.2.3.4", "code_signing", "0.1.2"},
			[]string{ekuServer, ekuCode, ekuAny, "1.2.3.4"}, []string{"UNKNOWN_THING", "0.1.2"}},
		{"NONE only", nil, []string{"NONE"}, []string{ekuClient}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := map[string]any{}
			if tt.purposes != nil {
				fields["purposes"] = tt.purposes
			}
			if tt.ekus != nil {
				fields["extended_key_usages"] = tt.ekus
			}
			tmpl := mustEvaluate(t, requestJSON(t, csr, fields), Policy{})
			got := oidStrings(decodeEKU(t, tmpl))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EKU = %q, want %q", got, tt.want)
			}
			if !reflect.DeepEqual(oidStrings(tmpl.ExtKeyUsages), tt.want) {
				t.Errorf("ExtKeyUsages = %q, want %q", tmpl.ExtKeyUsages, tt.want)
			}
			if !reflect.DeepEqual(tmpl.DroppedExtKeyUsages, tt.wantDropped) {
				t.Errorf("DroppedExtKeyUsages = %q, want %q", tmpl.DroppedExtKeyUsages,
					tt.wantDropped)
			}
			if !tmpl.Extensions[0].Id.Equal(oidExtExtKeyUsage) {
				t.Errorf("first extension is %v, want EKU", tmpl.Extensions[0].Id)
			}
			sign(t, tmpl)
		})
	}
}

func TestEKUCheckedByCryptoX509(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{
		"purposes": []string{"server_auth", "client_auth"},
	}), Policy{})
	cert := sign(t, tmpl)
	want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if !reflect.DeepEqual(cert.ExtKeyUsage, want) {
		t.Errorf("ExtKeyUsage = %v, want %v", cert.ExtKeyUsage, want)
	}
}

func TestLifetime(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tests := []struct {
		lifetime any // nil: absent
		max      int
		wantDays int
	}{
		{1, 0, 1},
		{500, 0, 365},
		{365, 0, 365},
		{366, 0, 365},
		{nil, 0, 30},
		{500, 1000, 500},
		{90, 60, 60},
		{1 << 40, 1 << 40, maxLifetimeDays},
	}
	for _, tt := range tests {
		fields := map[string]any{}
		if tt.lifetime != nil {
			fields["lifetime"] = tt.lifetime
		}
		tmpl := mustEvaluate(t, requestJSON(t, csr, fields), Policy{MaxLifetimeDays: tt.max})
		if tmpl.LifetimeDays != tt.wantDays {
			t.Errorf("lifetime %v, max %d: LifetimeDays = %d, want %d", tt.lifetime, tt.max,
				tmpl.LifetimeDays, tt.wantDays)
		}
		if want := time.Duration(tt.wantDays) * 24 * time.Hour; tmpl.Lifetime != want {
			t.Errorf("lifetime %v, max %d: Lifetime = %v, want %v", tt.lifetime, tt.max,
				tmpl.Lifetime, want)
		}
	}
	if tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{"lifetime": 1}),
		Policy{}); tmpl.Lifetime != 24*time.Hour {
		t.Errorf("1 day: Lifetime = %v, want 24h", tmpl.Lifetime)
	}
	if tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{"lifetime": 500}),
		Policy{}); tmpl.Lifetime != 365*24*time.Hour {
		t.Errorf("500 days: Lifetime = %v, want 8760h", tmpl.Lifetime)
	}

	for lifetime, want := range map[int]string{0: "0 is too short", -5: "-5 is too short"} {
		_, err := evaluate(t, requestJSON(t, csr, map[string]any{"lifetime": lifetime}),
			Policy{})
		wantRejection(t, err, want)
	}
}

func TestSubjectOverrides(t *testing.T) {
	csrSubject := pkix.Name{
		CommonName:    "x.example.com",
		Country:       []string{"DE"},
		Organization:  []string{"Other"},
		SerialNumber:  "12345",
		StreetAddress: []string{"1 Main St"},
		PostalCode:    []string{"10001"},
	}
	csr := b64CSR(t, testKey(t, "p256"), csrSubject)
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{
		"common_name": "", "country": "US", "locality": "New York",
		"organization": "Serverless Inc", "organizational_unit": "DevOps",
		"state": "New York",
	}), Policy{})

	got, err := SubjectString(tmpl.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	want := "ST=New York,OU=DevOps,O=Serverless Inc,L=New York,C=US,CN=x.example.com"
	if got != want {
		t.Errorf("SubjectString = %q, want %q", got, want)
	}
	if tmpl.CommonName != "x.example.com" || tmpl.Subject.CommonName != "x.example.com" {
		t.Errorf("CommonName = %q, Subject.CommonName = %q", tmpl.CommonName,
			tmpl.Subject.CommonName)
	}
	// pkix.Name.String re-sorts the attributes, so the issued certificate is
	// rendered from its raw subject.
	cert := sign(t, tmpl)
	if s, err := SubjectString(cert.RawSubject); err != nil || s != want {
		t.Errorf("issued subject = %q, %v, want %q", s, err, want)
	}
	if o := tmpl.Subject.Organization; len(o) != 1 || o[0] != "Serverless Inc" {
		t.Errorf("Subject.Organization = %q", o)
	}

	// Every value here is a PrintableString, one RDN per attribute.
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(tmpl.RawSubject, &seq); err != nil {
		t.Fatal(err)
	}
	raw := rawSubjectTags(t, tmpl.RawSubject)
	wantTags := []string{"2.5.4.3/19", "2.5.4.6/19", "2.5.4.7/19", "2.5.4.10/19",
		"2.5.4.11/19", "2.5.4.8/19"}
	if !reflect.DeepEqual(raw, wantTags) {
		t.Errorf("subject types/tags = %q, want %q", raw, wantTags)
	}
}

// rawSubjectTags lists "oid/tag" for each attribute in ASN.1 order.
func rawSubjectTags(t *testing.T, der []byte) []string {
	t.Helper()
	var seq rawRDNSequence
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rdn := range seq {
		if len(rdn) != 1 {
			t.Fatalf("RDN with %d attributes, want 1", len(rdn))
		}
		out = append(out, rdn[0].Type.String()+"/"+itoa(rdn[0].Value.Tag))
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestSubjectFromCSR(t *testing.T) {
	// The CSR's attributes come out in Anchor's order, whatever the CSR's order;
	// several values of one type are all kept.
	csrSubject := pkix.Name{
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidState, Value: "Bayern"},
			{Type: oidOrganizationalUnit, Value: "Team A"},
			{Type: oidEmailAddress, Value: "ops@example.com"},
			{Type: oidOrganization, Value: "Zürich AG"},
			{Type: oidOrganizationalUnit, Value: "Team B"},
			{Type: oidLocality, Value: "München"},
			{Type: oidCountry, Value: "DE"},
			{Type: oidCommonName, Value: "csr.example.com"},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 12}, Value: "Title"}, // dropped
		},
	}
	csr := b64CSR(t, testKey(t, "p256"), csrSubject)
	tmpl := mustEvaluate(t, requestJSON(t, csr, nil), Policy{})
	got, err := SubjectString(tmpl.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	want := "ST=Bayern,OU=Team B,OU=Team A,O=Zürich AG,L=München," +
		"1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e636f6d,C=DE,CN=csr.example.com"
	if got != want {
		t.Errorf("SubjectString =\n%q\nwant\n%q", got, want)
	}
	wantTags := []string{"2.5.4.3/19", "2.5.4.6/19", "1.2.840.113549.1.9.1/22",
		"2.5.4.7/12", "2.5.4.10/12", "2.5.4.11/19", "2.5.4.11/19", "2.5.4.8/19"}
	if tags := rawSubjectTags(t, tmpl.RawSubject); !reflect.DeepEqual(tags, wantTags) {
		t.Errorf("subject types/tags = %q, want %q", tags, wantTags)
	}
	if tmpl.CommonName != "csr.example.com" {
		t.Errorf("CommonName = %q", tmpl.CommonName)
	}
	sign(t, tmpl)
}

func TestSubjectEmailOverride(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("csr.example.com"))
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{
		"common_name": "x.example.com", "email_address": "a@example.com", "country": "US",
	}), Policy{})
	got, err := SubjectString(tmpl.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	want := "1.2.840.113549.1.9.1=#160d61406578616d706c652e636f6d,C=US,CN=x.example.com"
	if got != want {
		t.Errorf("SubjectString = %q, want %q", got, want)
	}
	if tmpl.CommonName != "x.example.com" {
		t.Errorf("CommonName = %q, want the request's", tmpl.CommonName)
	}
}

func TestSubjectString(t *testing.T) {
	name := pkix.Name{
		CommonName:   `a,b+c"d\e<f>g;h`,
		Organization: []string{" leading and trailing "},
		Locality:     []string{"#hash"},
		Country:      []string{"US"},
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidDomainComponent, Value: "example"},
		},
	}
	der, err := asn1.Marshal(name.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	got, err := SubjectString(der)
	if err != nil {
		t.Fatal(err)
	}
	want := `DC=example,CN=a\,b\+c\"d\\e\<f\>g\;h,O=\ leading and trailing\ ,L=\#hash,C=US`
	if got != want {
		t.Errorf("SubjectString = %q, want %q", got, want)
	}

	if _, err := SubjectString([]byte{0x30, 0x03, 0x31}); err == nil {
		t.Error("SubjectString accepted truncated DER")
	}
	if _, err := SubjectString(append(der, 0)); err == nil {
		t.Error("SubjectString accepted trailing data")
	}
	if s, err := SubjectString([]byte{0x30, 0x00}); err != nil || s != "" {
		t.Errorf("SubjectString(empty name) = %q, %v", s, err)
	}
}

func TestSubjectChecks(t *testing.T) {
	key := testKey(t, "p256")
	long := strings.Repeat("x", 65)
	tests := []struct {
		name    string
		subject pkix.Name
		fields  map[string]any
		want    string
	}{
		{"request country 3 letters", cnSubject("x.example.com"),
			map[string]any{"country": "USA"}, `country must be exactly 2 letters, not "USA"`},
		{"request country digits", cnSubject("x.example.com"),
			map[string]any{"country": "U1"}, `country must be exactly 2 letters, not "U1"`},
		{"CSR country 3 letters",
			pkix.Name{CommonName: "x.example.com", Country: []string{"USA"}}, nil,
			`the CSR's country (C; set country to override it) must be exactly 2 ` +
				`letters, not "USA"`},
		{"request CN too long", cnSubject("x.example.com"),
			map[string]any{"common_name": long}, "common_name is longer than 64 characters"},
		{"CSR CN too long", cnSubject(long), nil,
			"the CSR's common name (CN; set common_name to override it) is longer than " +
				"64 characters"},
		{"email not ASCII", cnSubject("x.example.com"),
			map[string]any{"email_address": "ü@example.com"}, "email_address must be ASCII"},
		{"organization too long", cnSubject("x.example.com"),
			map[string]any{"organization": long}, "organization is longer than 64 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evaluate(t, requestJSON(t, b64CSR(t, key, tt.subject), tt.fields),
				Policy{})
			wantRejection(t, err, tt.want)
		})
	}

	// A request override replaces a bad CSR value.
	csr := b64CSR(t, key, pkix.Name{CommonName: "x.example.com", Country: []string{"USA"}})
	mustEvaluate(t, requestJSON(t, csr, map[string]any{"country": "US"}), Policy{})
}

func TestCommonNameRequired(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), pkix.Name{Organization: []string{"Org"}})
	for _, fields := range []map[string]any{nil, {"common_name": ""}} {
		_, err := evaluate(t, requestJSON(t, csr, fields), Policy{})
		wantRejection(t, err, "CSR must include a Common Name")
	}
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{"common_name": "r.example.com"}),
		Policy{})
	if tmpl.CommonName != "r.example.com" {
		t.Errorf("CommonName = %q, want r.example.com", tmpl.CommonName)
	}
}

func TestCustomExtensions(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	pol := Policy{ExtensionAllowlist: []string{"1.2.3.4", "1.2.3.5", "2.5.29.17", "1.2.03.4"}}
	type ext = map[string]any
	tests := []struct {
		name string
		exts []ext
		want string
	}{
		{"missing oid", []ext{{"value_b64": "BQA="}},
			"Custom extension is missing required field 'oid'"},
		{"empty oid", []ext{{"oid": "", "value_b64": "BQA="}},
			"Custom extension is missing required field 'oid'"},
		{"twice", []ext{{"oid": "1.2.3.4", "value_b64": "BQA="},
			{"oid": "1.2.3.4", "value_b64": "BQA="}},
			"Custom extension OID 1.2.3.4 is specified more than once"},
		{"reserved even when allowlisted", []ext{{"oid": "2.5.29.17", "value_b64": "BQA="}},
			"Custom extension OID 2.5.29.17 is reserved and cannot be set by callers"},
		{"reserved AIA", []ext{{"oid": "1.3.6.1.5.5.7.1.1", "value_b64": "BQA="}},
			"Custom extension OID 1.3.6.1.5.5.7.1.1 is reserved and cannot be set by callers"},
		{"not allowlisted", []ext{{"oid": "1.2.9", "value_b64": "BQA="}},
			"Custom extension OID 1.2.9 is not in the configured allowlist"},
		{"invalid OID", []ext{{"oid": "1.2.03.4", "value_b64": "BQA="}},
			"Custom extension OID 1.2.03.4 is not a valid object identifier"},
		{"missing value", []ext{{"oid": "1.2.3.4"}},
			"Custom extension OID 1.2.3.4 is missing required field 'value_b64'"},
		{"empty value", []ext{{"oid": "1.2.3.4", "value_b64": ""}},
			"Custom extension OID 1.2.3.4 is missing required field 'value_b64'"},
		{"bad base64", []ext{{"oid": "1.2.3.4", "value_b64": "!!!"}},
			"Custom extension OID 1.2.3.4 has an invalid base64 value"},
		// Order: the first failing check of the first failing extension.
		{"missing oid before duplicate", []ext{{"oid": "1.2.3.4", "value_b64": "BQA="},
			{"oid": "1.2.3.4"}, {}},
			"Custom extension OID 1.2.3.4 is specified more than once"},
		{"reserved before allowlist", []ext{{"oid": "2.5.29.37"}},
			"Custom extension OID 2.5.29.37 is reserved and cannot be set by callers"},
		{"allowlist before validity", []ext{{"oid": "1..2"}},
			"Custom extension OID 1..2 is not in the configured allowlist"},
		{"allowlist before value", []ext{{"oid": "1.2.9"}},
			"Custom extension OID 1.2.9 is not in the configured allowlist"},
		{"validity before value", []ext{{"oid": "1.2.03.4", "value_b64": "!!!"}},
			"Custom extension OID 1.2.03.4 is not a valid object identifier"},
		{"first extension first", []ext{{"oid": "1.2.3.4", "value_b64": "!!!"}, {}},
			"Custom extension OID 1.2.3.4 has an invalid base64 value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evaluate(t, requestJSON(t, csr, map[string]any{"extensions": tt.exts}),
				pol)
			wantRejection(t, err, tt.want)
		})
	}

	// Empty allowlist: nothing passes.
	_, err := evaluate(t, requestJSON(t, csr, map[string]any{"extensions": []ext{
		{"oid": "1.2.3.4", "value_b64": "BQA="}}}), Policy{})
	wantRejection(t, err, "Custom extension OID 1.2.3.4 is not in the configured allowlist")

	// Accepted: in request order, after the policies, criticality honoured.
	pol.PolicyOIDs = []asn1.ObjectIdentifier{{2, 23, 140, 1, 2, 1}}
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{"extensions": []ext{
		{"oid": "1.2.3.5", "value_b64": "DAJoaQ==", "critical": false},
		{"oid": "1.2.3.4", "value_b64": "BQA", "critical": true},
	}}), pol)
	var got []string
	for _, e := range tmpl.Extensions {
		got = append(got, e.Id.String()+"/"+map[bool]string{true: "crit", false: ""}[e.Critical]+
			"/"+base64.StdEncoding.EncodeToString(e.Value))
	}
	want := []string{
		"2.5.29.37//MAoGCCsGAQUFBwMC",
		"2.5.29.17//MA+CDXguZXhhbXBsZS5jb20=",
		"2.5.29.32//MAowCAYGZ4EMAQIB",
		"1.2.3.5//DAJoaQ==",
		"1.2.3.4/crit/BQA=",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Extensions =\n%q\nwant\n%q", got, want)
	}
	cert := sign(t, tmpl)
	if len(cert.PolicyIdentifiers) != 1 ||
		!cert.PolicyIdentifiers[0].Equal(asn1.ObjectIdentifier{2, 23, 140, 1, 2, 1}) {
		t.Errorf("PolicyIdentifiers = %v", cert.PolicyIdentifiers)
	}
	if len(cert.UnhandledCriticalExtensions) != 1 ||
		!cert.UnhandledCriticalExtensions[0].Equal(asn1.ObjectIdentifier{1, 2, 3, 4}) {
		t.Errorf("UnhandledCriticalExtensions = %v", cert.UnhandledCriticalExtensions)
	}
}

func TestParseOID(t *testing.T) {
	tests := map[string]bool{
		"1.2":                 true,
		"2.5.29.37.0":         true,
		"1.3.6.1.4.1.99999.1": true,
		"2.999.1":             true,
		"0.39":                true,
		"2147483647.1":        false,
		"1.2147483647":        false,
		"2.2147483567":        true,
		"2.2147483568":        false,
		"1.2.2147483647":      true,
		"1.2.2147483648":      false,
		"1":                   false,
		"":                    false,
		"1.":                  false,
		".1":                  false,
		"1..2":                false,
		"1.02":                false,
		"3.1":                 false,
		"1.40":                false,
		"0.40":                false,
		"1.a":                 false,
		"1.+2":                false,
		" 1.2":                false,
		"1.99999999999":       false,
	}
	for s, want := range tests {
		_, ok := parseOID(s)
		if ok != want {
			t.Errorf("parseOID(%q) ok = %v, want %v", s, ok, want)
		}
	}
	if oid, _ := parseOID("1.3.6.1.4.1.99999.1"); oid.String() != "1.3.6.1.4.1.99999.1" {
		t.Errorf("parseOID round trip = %v", oid)
	}
}

func TestInvalidEKUOID(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	_, err := evaluate(t, requestJSON(t, csr, map[string]any{
		"extended_key_usages": []string{"CODE_SIGNING", "1.3.abc"}}), Policy{})
	wantRejection(t, err, `extended_key_usages: "1.3.abc" is not a valid object identifier`)
}

// history is a KeyHistory over a fixed table.
func history(certs map[[32]byte][]string, calls *int) KeyHistory {
	return func(h [32]byte) ([]string, error) {
		*calls++
		return certs[h], nil
	}
}

func TestKeyReuseAndAlreadyIssued(t *testing.T) {
	key := newKey(t, "p256")
	der := csrDER(t, key, cnSubject("x.example.com"))
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	b64 := base64.StdEncoding.EncodeToString(der)

	tests := []struct {
		name   string
		stored []string
		fields map[string]any
		gitops bool
		want   string // "" for success
		issued bool
	}{
		{"new key", nil, nil, false, "", false},
		{"new key, gitops", nil, nil, true, "", false},
		{"same CN, API", []string{"x.example.com"}, nil, false,
			"Private key has already been used for a certificate", false},
		{"same CN, gitops", []string{"x.example.com"}, nil, true,
			"Certificate already issued", true},
		{"same CN from the request, gitops", []string{"r.example.com"},
			map[string]any{"common_name": "r.example.com"}, true,
			"Certificate already issued", true},
		{"other CN, gitops", []string{"other.example.com"}, nil, true,
			"Private key has already been used for a certificate", false},
		{"other CN, API", []string{"other.example.com", ""}, nil, false,
			"Private key has already been used for a certificate", false},
		{"certificate without CN", []string{""}, nil, false,
			"Private key has already been used for a certificate", false},
		{"force, API", []string{"x.example.com"}, map[string]any{"force_issue": true}, false,
			"", false},
		{"force, gitops", []string{"x.example.com"}, map[string]any{"force_issue": true},
			true, "", false},
		// Already issued comes before the lifetime and extension checks.
		{"already issued before lifetime", []string{"x.example.com"},
			map[string]any{"lifetime": 0, "extensions": []any{map[string]any{}}}, true,
			"Certificate already issued", true},
		{"reuse before lifetime", []string{"x.example.com"},
			map[string]any{"lifetime": 0}, false,
			"Private key has already been used for a certificate", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(requestJSON(t, b64, tt.fields))
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			hist := history(map[[32]byte][]string{hash: tt.stored}, &calls)
			tmpl, err := Evaluate(req, Policy{}, hist, tt.gitops)
			if req.ForceIssue && calls != 0 {
				t.Errorf("force_issue looked up the key history %d times", calls)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Evaluate: %v", err)
				}
				if tmpl.KeyHash != hash {
					t.Errorf("KeyHash = %x, want %x", tmpl.KeyHash, hash)
				}
				return
			}
			rej := wantRejection(t, err, tt.want)
			if rej.AlreadyIssued != tt.issued {
				t.Errorf("AlreadyIssued = %v, want %v", rej.AlreadyIssued, tt.issued)
			}
		})
	}
}

func TestHistoryError(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	req, err := Parse(requestJSON(t, csr, nil))
	if err != nil {
		t.Fatal(err)
	}
	storeDown := errors.New("store is down")
	_, err = Evaluate(req, Policy{}, func([32]byte) ([]string, error) {
		return nil, storeDown
	}, false)
	if !errors.Is(err, storeDown) {
		t.Fatalf("error = %v, want it to wrap %v", err, storeDown)
	}
	var rej *Rejection
	if errors.As(err, &rej) {
		t.Fatalf("a store failure is reported as a rejection: %v", err)
	}
}

func TestCSRForms(t *testing.T) {
	key := testKey(t, "p256")
	der := csrDER(t, key, cnSubject("x.example.com"))
	pemText := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	csr, _ := x509.ParseCertificateRequest(der)
	want := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	wrapped := base64.StdEncoding.EncodeToString(pemText)
	wrapped = wrapped[:40] + "\n" + wrapped[40:] + "\n"

	forms := map[string]string{
		"base64 of PEM":          base64.StdEncoding.EncodeToString(pemText),
		"base64 of PEM, wrapped": wrapped,
		"base64 of DER":          base64.StdEncoding.EncodeToString(der),
		"unpadded base64 of DER": base64.RawStdEncoding.EncodeToString(der),
		"url-safe base64 of DER": base64.URLEncoding.EncodeToString(der),
		"PEM text":               string(pemText),
		"NEW CERTIFICATE REQUEST": strings.ReplaceAll(string(pemText),
			"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
	}
	for name, data := range forms {
		tmpl, err := evaluate(t, requestJSON(t, data, nil), Policy{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if tmpl.KeyHash != want {
			t.Errorf("%s: KeyHash = %x, want %x", name, tmpl.KeyHash, want)
		}
	}
}

func TestCSRErrors(t *testing.T) {
	key := testKey(t, "p256")
	der := csrDER(t, key, cnSubject("x.example.com"))
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	tests := []struct {
		name   string
		data   string
		want   string
		prefix bool
	}{
		{"missing", "", "base64_csr_data is missing: a CSR is required", false},
		{"blank", " \n", "base64_csr_data is missing: a CSR is required", false},
		{"not base64", "%%%not base64%%%", "base64_csr_data is not valid base64", false},
		{"base64 of junk", base64.StdEncoding.EncodeToString([]byte("junk")),
			"base64_csr_data is not a valid certificate signing request: ", true},
		{"truncated DER", base64.StdEncoding.EncodeToString(der[:len(der)-10]),
			"base64_csr_data is not a valid certificate signing request: ", true},
		{"wrong PEM type", base64.StdEncoding.EncodeToString(certPEM),
			`base64_csr_data holds a PEM "CERTIFICATE" block, not a CERTIFICATE REQUEST`, false},
		{"broken PEM", "-----BEGIN CERTIFICATE REQUEST-----\n!!!\n",
			"base64_csr_data holds no valid PEM block", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evaluate(t, requestJSON(t, "", map[string]any{
				"base64_csr_data": tt.data}), Policy{})
			if tt.prefix {
				wantRejectionPrefix(t, err, tt.want)
			} else {
				wantRejection(t, err, tt.want)
			}
		})
	}

	// A CSR error comes before every other check.
	_, err := evaluate(t, []byte(`{"lifetime": 0, "common_name": ""}`), Policy{})
	wantRejection(t, err, "base64_csr_data is missing: a CSR is required")
}

// tamper flips a bit in the last byte of the CSR's signature.
func tamper(t *testing.T, der []byte) []byte {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), der...)
	i := len(out) - 1
	if !strings.HasSuffix(string(out), string(csr.Signature)) {
		t.Fatal("signature is not at the end of the CSR")
	}
	out[i] ^= 0x01
	return out
}

func TestTamperedSignature(t *testing.T) {
	for _, kind := range []string{"p256", "rsa2048", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			der := tamper(t, csrDER(t, testKey(t, kind), cnSubject("x.example.com")))
			_, err := evaluate(t, requestJSON(t, base64.StdEncoding.EncodeToString(der),
				nil), Policy{})
			wantRejectionPrefix(t, err, "base64_csr_data: the CSR signature does not "+
				"verify, so it does not prove possession of the private key (")
		})
	}

	// A CSR whose subject was altered after signing fails the same way.
	der := csrDER(t, testKey(t, "p256"), cnSubject("a.example.com"))
	altered := []byte(strings.Replace(string(der), "a.example.com", "b.example.com", 1))
	_, err := evaluate(t, requestJSON(t, base64.StdEncoding.EncodeToString(altered), nil),
		Policy{})
	wantRejectionPrefix(t, err, "base64_csr_data: the CSR signature does not verify")
}

func TestKeyPolicy(t *testing.T) {
	tests := []struct {
		kind string
		want string
	}{
		{"rsa1024", "base64_csr_data: key does not meet the key policy: RSA key of 1024 " +
			"bits is too small (minimum 2048)"},
		{"p224", "base64_csr_data: key does not meet the key policy: ECDSA curve P-224 is " +
			"not allowed (want P-256, P-384 or P-521)"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			csr := b64CSR(t, testKey(t, tt.kind), cnSubject("x.example.com"))
			_, err := evaluate(t, requestJSON(t, csr, nil), Policy{})
			wantRejection(t, err, tt.want)

			// The spec's checks 1 to 5 come first.
			_, err = evaluate(t, requestJSON(t, csr, map[string]any{"lifetime": 0}), Policy{})
			wantRejection(t, err, "0 is too short")
			_, err = evaluate(t, requestJSON(t, csr, map[string]any{
				"extensions": []any{map[string]any{}}}), Policy{})
			wantRejection(t, err, "Custom extension is missing required field 'oid'")
		})
	}
}

func TestKeyUsage(t *testing.T) {
	tests := []struct {
		kind   string
		legacy bool
		want   x509.KeyUsage
	}{
		{"p256", false, x509.KeyUsageDigitalSignature},
		{"p384", false, x509.KeyUsageDigitalSignature},
		{"ed25519", false, x509.KeyUsageDigitalSignature},
		{"rsa2048", false, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{"p256", true, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
	}
	for _, tt := range tests {
		csr := b64CSR(t, testKey(t, tt.kind), cnSubject("x.example.com"))
		tmpl := mustEvaluate(t, requestJSON(t, csr, nil),
			Policy{LegacyKeyEncipherment: tt.legacy})
		if tmpl.KeyUsage != tt.want {
			t.Errorf("%s legacy=%v: KeyUsage = %v, want %v", tt.kind, tt.legacy,
				tmpl.KeyUsage, tt.want)
		}
		if cert := sign(t, tmpl); cert.KeyUsage != tt.want {
			t.Errorf("%s: issued KeyUsage = %v, want %v", tt.kind, cert.KeyUsage, tt.want)
		}
	}
}

func TestNotifyAndBundle(t *testing.T) {
	csr := b64CSR(t, testKey(t, "p256"), cnSubject("x.example.com"))
	tests := []struct {
		fields               map[string]any
		gitops               bool
		wantIssued, wantExpy bool
	}{
		{nil, false, false, false},
		{nil, true, true, true},
		{map[string]any{"notify_issued": nil, "notify_expiry": nil}, true, true, true},
		{map[string]any{"notify_issued": false}, true, false, true},
		{map[string]any{"notify_expiry": true}, false, false, true},
	}
	for _, tt := range tests {
		req, err := Parse(requestJSON(t, csr, tt.fields))
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := Evaluate(req, Policy{}, nil, tt.gitops)
		if err != nil {
			t.Fatal(err)
		}
		if tmpl.NotifyIssued != tt.wantIssued || tmpl.NotifyExpiry != tt.wantExpy {
			t.Errorf("%v gitops=%v: notify issued=%v expiry=%v, want %v %v", tt.fields,
				tt.gitops, tmpl.NotifyIssued, tmpl.NotifyExpiry, tt.wantIssued, tt.wantExpy)
		}
	}
	tmpl := mustEvaluate(t, requestJSON(t, csr, map[string]any{"cert_bundle": true}), Policy{})
	if !tmpl.CertBundle {
		t.Error("CertBundle = false, want true")
	}
}

func TestEvaluateNilRequest(t *testing.T) {
	_, err := Evaluate(nil, Policy{}, nil, false)
	wantRejection(t, err, "request is empty")
}
