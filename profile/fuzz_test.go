package profile

import (
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/anchorpki/anchor/signer"
)

// fuzzPolicy allows two custom extensions and adds a policy OID, so that
// every extension path is reachable.
var fuzzPolicy = Policy{
	ExtensionAllowlist: []string{"1.2.3.4", "1.3.6.1.4.1.99999.1", "1.2.03"},
	PolicyOIDs:         []asn1.ObjectIdentifier{{2, 23, 140, 1, 2, 1}},
}

// fuzzHistory says a key was used for used.example.com when the request names
// csr_file "used.csr", so that the history checks are reachable and the
// outcome depends only on the input.
func fuzzHistory(req *Request) KeyHistory {
	return func([32]byte) ([]string, error) {
		if req.CSRFile == "used.csr" {
			return []string{"used.example.com"}, nil
		}
		return nil, nil
	}
}

// FuzzParseEvaluate feeds request JSON and CSR bytes (DER or PEM; empty keeps
// the JSON's base64_csr_data) through Parse and Evaluate. Nothing may panic,
// every refusal must be a *Rejection, and every template must hold a CSR
// whose signature verifies and which crypto/x509 can sign and read back.
func FuzzParseEvaluate(f *testing.F) {
	p256 := testKey(f, "p256")
	csr := func(kind string, subject pkix.Name) []byte {
		return csrDER(f, testKey(f, kind), subject)
	}
	xDER := csr("p256", cnSubject("x.example.com"))
	xPEM := csrPEM(f, p256, cnSubject("x.example.com"))
	noCN := csr("p256", pkix.Name{Organization: []string{"Org"}})
	usCSR := csr("p256", pkix.Name{CommonName: "x.example.com", Country: []string{"USA"},
		Organization: []string{"Other"}, SerialNumber: "1"})

	seeds := []struct {
		json string
		csr  []byte
	}{
		{`{"common_name": "x.example.com", "sans": ["test1.example.com", ` +
			`"test2.example.com", "*.example.com", "*.com", "invalid DNS name"]}`, xDER},
		{`{"sans": {"DNS_NAME": ["map1.example.com", "map2.example.com"], ` +
			`"IP_ADDRESS": "172.16.0.1"}}`, xDER},
		{`{"sans": [{"type": "DNS_NAME", "value": "valid.example.com"}, ` +
			`{"type": "IP_ADDRESS", "value": "not-an-ip-address"}, ` +
			`{"type": "EMAIL_ADDRESS", "value": "not-an-email"}, ` +
			`{"type": "IP_ADDRESS", "value": "10.20.30.40"}]}`, xPEM},
		{`{"common_name": "x.example.com"}`, xDER},
		{`{"common_name": "This is not a valid DNS name"}`, xDER},
		{`{"purposes": ["server_auth"], "extended_key_usages": ["CODE_SIGNING", ` +
			`"1.3.6.1.5.5.7.3.1", "NONE", "ANY", "UNKNOWN", "1.2.3.4"]}`, xDER},
		{`{"extended_key_usages": ["1.3.abc"]}`, xDER},
		{`{"lifetime": 1}`, xDER},
		{`{"lifetime": 500}`, xDER},
		{`{"lifetime": 0}`, xDER},
		{`{"lifetime": 1.5}`, xDER},
		{`{"lifetime": "30"}`, xDER},
		{`{"common_name": "", "country": "US", "locality": "New York", ` +
			`"organization": "Serverless Inc", "organizational_unit": "DevOps", ` +
			`"state": "New York", "email_address": "a@example.com"}`, usCSR},
		{`{"country": "USA"}`, xDER},
		{`{}`, usCSR},
		{`{"extensions": [{}]}`, xDER},
		{`{"extensions": [{"oid": "1.2.3.4", "value_b64": "BQA="}, ` +
			`{"oid": "1.2.3.4", "value_b64": "BQA="}]}`, xDER},
		{`{"extensions": [{"oid": "2.5.29.17", "value_b64": "BQA="}]}`, xDER},
		{`{"extensions": [{"oid": "1.2.9", "value_b64": "BQA="}]}`, xDER},
		{`{"extensions": [{"oid": "1.2.03", "value_b64": "BQA="}]}`, xDER},
		{`{"extensions": [{"oid": "1.2.3.4"}]}`, xDER},
		{`{"extensions": [{"oid": "1.2.3.4", "value_b64": "!!"}]}`, xDER},
		{`{"extensions": [{"oid": "1.3.6.1.4.1.99999.1", "value_b64": "BQA=", ` +
			`"critical": true}]}`, xDER},
		{`{"csr_file": "used.csr"}`, xDER},
		{`{"csr_file": "used.csr", "common_name": "used.example.com"}`, xDER},
		{`{"csr_file": "used.csr", "force_issue": true}`, xDER},
		{`{}`, noCN},
		{`{"common_name": "x.example.com"}`, tamperBytes(xDER)},
		{`{}`, csr("rsa1024", cnSubject("x.example.com"))},
		{`{}`, csr("p224", cnSubject("x.example.com"))},
		{`{}`, csr("rsa2048", cnSubject("x.example.com"))},
		{`{}`, csr("ed25519", cnSubject("x.example.com"))},
		{`{"sans": {"URL": ["spiffe://example.org/ns/a", "urn:uuid:6e8bc430-9c3a-11d9", ` +
			`"https://a.example.com/"], "DN": "CN=Partner,O=Org,C=US", ` +
			`"EMAIL_ADDRESS": "u@example.com"}}`, xDER},
		{`{"base64_csr_data": "` + base64.StdEncoding.EncodeToString(xPEM) + `"}`, nil},
		{`{"base64_csr_data": "not base64"}`, nil},
		{`{"notify_issued": null, "notify_expiry": false, "cert_bundle": true}`, xDER},
		{`[]`, nil},
		{``, nil},
	}
	for _, s := range seeds {
		f.Add([]byte(s.json), s.csr)
	}

	f.Fuzz(func(t *testing.T, reqJSON, csrBytes []byte) {
		req, err := Parse(reqJSON)
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Message == "" {
				t.Fatalf("Parse error %v (%T) is not a *Rejection with a message", err, err)
			}
			return
		}
		if len(csrBytes) > 0 {
			req.Base64CSRData = base64.StdEncoding.EncodeToString(csrBytes)
		}
		gitops := req.CSRFile != ""
		tmpl, err := Evaluate(req, fuzzPolicy, fuzzHistory(req), gitops)
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Message == "" {
				t.Fatalf("Evaluate error %v (%T) is not a *Rejection with a message", err, err)
			}
			if rej.AlreadyIssued && rej.Message != "Certificate already issued" {
				t.Fatalf("AlreadyIssued set on %q", rej.Message)
			}
			return
		}

		if err := tmpl.CSR.CheckSignature(); err != nil {
			t.Fatalf("template CSR does not verify: %v", err)
		}
		if err := signer.CheckPublicKey(tmpl.CSR.PublicKey); err != nil {
			t.Fatalf("template key breaks the policy: %v", err)
		}
		if tmpl.KeyHash != sha256.Sum256(tmpl.CSR.RawSubjectPublicKeyInfo) {
			t.Fatal("KeyHash is not the SHA-256 of the SubjectPublicKeyInfo")
		}
		if tmpl.CommonName == "" {
			t.Fatal("template without a common name")
		}
		if tmpl.LifetimeDays < 1 || tmpl.LifetimeDays > DefaultMaxLifetimeDays ||
			tmpl.Lifetime != time.Duration(tmpl.LifetimeDays)*24*time.Hour {
			t.Fatalf("lifetime %d days / %v out of bounds", tmpl.LifetimeDays, tmpl.Lifetime)
		}
		if len(tmpl.Extensions) == 0 || !tmpl.Extensions[0].Id.Equal(oidExtExtKeyUsage) {
			t.Fatal("first extension is not the EKU")
		}
		if _, err := SubjectString(tmpl.RawSubject); err != nil {
			t.Fatalf("SubjectString: %v", err)
		}

		cert := sign(t, tmpl)
		n := len(cert.DNSNames) + len(cert.IPAddresses) + len(cert.EmailAddresses) +
			len(cert.URIs)
		want := 0
		for _, s := range tmpl.SANs {
			if s.Type != SANDN {
				want++
			}
		}
		if n != want {
			t.Fatalf("certificate has %d SANs, template %d (%q)", n, want, tmpl.SANStrings())
		}
	})
}

// tamperBytes flips a bit in the last byte, which is part of the signature.
func tamperBytes(der []byte) []byte {
	out := append([]byte(nil), der...)
	out[len(out)-1] ^= 0x01
	return out
}

// BenchmarkParseEvaluate measures one API request with a P-256 CSR: parsing
// the JSON, decoding the CSR, verifying its signature and building the
// template.
func BenchmarkParseEvaluate(b *testing.B) {
	csr := b64CSR(b, testKey(b, "p256"), pkix.Name{CommonName: "bench.example.com",
		Organization: []string{"Org"}})
	data := requestJSON(b, csr, map[string]any{
		"lifetime": 90, "purposes": []string{"server_auth", "client_auth"},
		"sans": []string{"bench.example.com", "www.bench.example.com"},
	})
	b.ReportAllocs()
	for b.Loop() {
		req, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Evaluate(req, Policy{}, nil, false); err != nil {
			b.Fatal(err)
		}
	}
}
