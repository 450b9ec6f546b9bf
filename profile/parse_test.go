package profile

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestParseDefaults(t *testing.T) {
	req, err := Parse([]byte(`{"common_name": "x.example.com", "unknown_key": [1, {}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Request{CommonName: "x.example.com", Lifetime: 30}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("Parse = %+v, want %+v", req, want)
	}
}

func TestParseAllFields(t *testing.T) {
	data := `{
		"common_name": "x.example.com", "country": "US", "locality": "New York",
		"organization": "Serverless Inc", "organizational_unit": "DevOps",
		"state": "New York", "email_address": "a@example.com", "lifetime": 90,
		"purposes": ["server_auth"], "extended_key_usages": ["CODE_SIGNING"],
		"sans": ["a.example.com"],
		"extensions": [{"oid": "1.2.3.4", "value_b64": "BQA=", "critical": true}, {}],
		"csr_file": "x.csr", "base64_csr_data": "QUJD", "force_issue": true,
		"cert_bundle": true, "ca_chain_only": true, "notify_issued": false,
		"notify_expiry": true
	}`
	req, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := &Request{
		CommonName: "x.example.com", Country: ptr("US"), Locality: ptr("New York"),
		Organization: ptr("Serverless Inc"), OrganizationalUnit: ptr("DevOps"),
		State: ptr("New York"), EmailAddress: ptr("a@example.com"), Lifetime: 90,
		Purposes: []string{"server_auth"}, ExtendedKeyUsages: []string{"CODE_SIGNING"},
		SANs: []SAN{{SANDNSName, "a.example.com"}},
		Extensions: []CustomExtension{
			{OID: ptr("1.2.3.4"), ValueB64: ptr("BQA="), Critical: true}, {}},
		CSRFile: "x.csr", Base64CSRData: "QUJD", ForceIssue: true, CertBundle: true,
		CAChainOnly: true, NotifyIssued: ptr(false), NotifyExpiry: ptr(true),
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", req, want)
	}
}

func TestParseNulls(t *testing.T) {
	req, err := Parse([]byte(`{"common_name": null, "country": null, "lifetime": null,
		"purposes": null, "sans": null, "extensions": null, "force_issue": null,
		"notify_issued": null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Request{Lifetime: 30}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("Parse = %+v, want %+v", req, want)
	}
}

func TestParseLifetime(t *testing.T) {
	tests := []struct {
		json    string
		want    int
		wantErr string
	}{
		{`{}`, 30, ""},
		{`{"lifetime": 1}`, 1, ""},
		{`{"lifetime": 500}`, 500, ""},
		{`{"lifetime": 0}`, 0, ""},
		{`{"lifetime": -3}`, -3, ""},
		{`{"lifetime": "30"}`, 0, "lifetime must be a whole number of days, not a string"},
		{`{"lifetime": 1.5}`, 0, "lifetime must be a whole number of days, not 1.5"},
		{`{"lifetime": 1.0}`, 0, "lifetime must be a whole number of days, not 1.0"},
		{`{"lifetime": 1e2}`, 0, "lifetime must be a whole number of days, not 1e2"},
		{`{"lifetime": true}`, 0, "lifetime must be a whole number of days, not a boolean"},
		{`{"lifetime": [30]}`, 0, "lifetime must be a whole number of days, not a list"},
		{`{"lifetime": {}}`, 0, "lifetime must be a whole number of days, not an object"},
		{`{"lifetime": 99999999999999999999}`, 0,
			"lifetime 99999999999999999999 is out of range"},
	}
	for _, tt := range tests {
		req, err := Parse([]byte(tt.json))
		if tt.wantErr != "" {
			wantRejection(t, err, tt.wantErr)
			continue
		}
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.json, err)
			continue
		}
		if req.Lifetime != tt.want {
			t.Errorf("Parse(%s).Lifetime = %d, want %d", tt.json, req.Lifetime, tt.want)
		}
	}
}

func TestParseWrongTypes(t *testing.T) {
	tests := []struct{ json, want string }{
		{``, "request is empty"},
		{`   `, "request is empty"},
		{`[]`, "request must be a JSON object"},
		{`"x"`, "request must be a JSON object"},
		{`null`, "request must be a JSON object"},
		{`{"a": 1} {}`, "request has data after the JSON object"},
		{`{"common_name": 5}`, "common_name must be a string, not a number"},
		{`{"country": ["US"]}`, "country must be a string, not a list"},
		{`{"email_address": true}`, "email_address must be a string, not a boolean"},
		{`{"base64_csr_data": {}}`, "base64_csr_data must be a string, not an object"},
		{`{"csr_file": 1}`, "csr_file must be a string, not a number"},
		{`{"force_issue": "yes"}`, "force_issue must be true or false, not a string"},
		{`{"cert_bundle": 1}`, "cert_bundle must be true or false, not a number"},
		{`{"ca_chain_only": []}`, "ca_chain_only must be true or false, not a list"},
		{`{"notify_issued": "true"}`, "notify_issued must be true or false, not a string"},
		{`{"notify_expiry": 0}`, "notify_expiry must be true or false, not a number"},
		{`{"purposes": "client_auth"}`, "purposes must be a list of strings, not a string"},
		{`{"purposes": [1]}`, "purposes[0] must be a string, not a number"},
		{`{"purposes": ["a", null]}`, "purposes[1] must be a string, not null"},
		{`{"extended_key_usages": {}}`,
			"extended_key_usages must be a list of strings, not an object"},
		{`{"sans": 5}`, "sans must be a string, a list or an object, not a number"},
		{`{"sans": true}`, "sans must be a string, a list or an object, not a boolean"},
		{`{"sans": ["a.example.com", 5]}`,
			`sans[1] must be a string or a {"type", "value"} object, not a number`},
		{`{"sans": [{"type": 1, "value": "x"}]}`, "sans[0].type must be a string, not a number"},
		{`{"sans": [{"type": "DNS_NAME", "value": ["x"]}]}`,
			"sans[0].value must be a string, not a list"},
		{`{"sans": {"DNS_NAME": 5}}`,
			"sans.DNS_NAME must be a string or a list of strings, not a number"},
		{`{"sans": {"DNS_NAME": ["a", {}]}}`,
			"sans.DNS_NAME[1] must be a string, not an object"},
		{`{"extensions": {}}`, "extensions must be a list of objects, not an object"},
		{`{"extensions": [1]}`, "extensions[0] must be an object, not a number"},
		{`{"extensions": [{"oid": 1}]}`, "extensions[0].oid must be a string, not a number"},
		{`{"extensions": [{"oid": "1.2", "value_b64": 1}]}`,
			"extensions[0].value_b64 must be a string, not a number"},
		{`{"extensions": [{"oid": "1.2", "critical": "yes"}]}`,
			"extensions[0].critical must be true or false, not a string"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.json))
		wantRejection(t, err, tt.want)
	}
}

func TestParseInvalidJSON(t *testing.T) {
	for _, in := range []string{`{`, `{"a": }`, `{"a": 1,}`, `{"lifetime": 01}`} {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("Parse(%s) succeeded, want an error", in)
			continue
		}
		wantRejectionPrefix(t, err, "request is not valid JSON: ")
	}
}

func wantRejectionPrefix(t *testing.T, err error, prefix string) *Rejection {
	t.Helper()
	rej, ok := err.(*Rejection)
	if !ok {
		t.Fatalf("error = %v (%T), want *Rejection", err, err)
	}
	if !strings.HasPrefix(rej.Message, prefix) {
		t.Fatalf("rejection = %q, want prefix %q", rej.Message, prefix)
	}
	return rej
}

func TestParseTooLarge(t *testing.T) {
	pad := bytes.Repeat([]byte(" "), MaxRequestSize)
	data := append([]byte(`{"common_name": "x"}`), pad...)
	_, err := Parse(data)
	wantRejection(t, err, "request is larger than 1 MiB")

	// Exactly at the limit is fine.
	_, err = Parse(data[:MaxRequestSize])
	if err != nil {
		t.Fatalf("Parse of %d bytes: %v", MaxRequestSize, err)
	}
}

func TestParseSANForms(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []SAN
	}{
		{"string", `"a.example.com"`, []SAN{{"DNS_NAME", "a.example.com"}}},
		{"empty list", `[]`, []SAN{}},
		{"list of strings", `["a.example.com", "b.example.com"]`,
			[]SAN{{"DNS_NAME", "a.example.com"}, {"DNS_NAME", "b.example.com"}}},
		{"list of objects", `[{"type": "dns_name", "value": "valid.example.com"},
			{"type": "IP_ADDRESS", "value": "not-an-ip-address"},
			{"type": "Email_Address", "value": "not-an-email"},
			{"type": "IP_ADDRESS", "value": "10.20.30.40"}]`,
			[]SAN{{"DNS_NAME", "valid.example.com"}, {"IP_ADDRESS", "not-an-ip-address"},
				{"EMAIL_ADDRESS", "not-an-email"}, {"IP_ADDRESS", "10.20.30.40"}}},
		{"mixed list", `["a.example.com", {"type": "URL", "value": "urn:x:y"}, {}]`,
			[]SAN{{"DNS_NAME", "a.example.com"}, {"URL", "urn:x:y"}, {"", ""}}},
		// The map keeps document order, types upper-cased, null skipped.
		{"map", `{"IP_ADDRESS": "172.16.0.1", "dns_name": ["map1.example.com",
			"map2.example.com"], "URL": null, "EMAIL_ADDRESS": []}`,
			[]SAN{{"IP_ADDRESS", "172.16.0.1"}, {"DNS_NAME", "map1.example.com"},
				{"DNS_NAME", "map2.example.com"}}},
		{"map, other order", `{"DNS_NAME": ["map1.example.com", "map2.example.com"],
			"IP_ADDRESS": "172.16.0.1"}`,
			[]SAN{{"DNS_NAME", "map1.example.com"}, {"DNS_NAME", "map2.example.com"},
				{"IP_ADDRESS", "172.16.0.1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse([]byte(`{"sans": ` + tt.json + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(req.SANs) != len(tt.want) || (len(tt.want) > 0 &&
				!reflect.DeepEqual(req.SANs, tt.want)) {
				t.Fatalf("SANs = %q, want %q", req.SANs, tt.want)
			}
		})
	}
}

func TestRequestSANValues(t *testing.T) {
	req, err := Parse([]byte(`{"sans": {"DNS_NAME": "a.example.com", "IP_ADDRESS": "::1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := req.SANValues()
	want := []string{"a.example.com", "::1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SANValues = %q, want %q", got, want)
	}
}
