package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// A serial of the size Anchor issues (159 bits), shown in decimal.
const testSerial = "725732270238932467356021650679497159468001185756"

var (
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidL  = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidST = asn1.ObjectIdentifier{2, 5, 4, 8}
)

// rawSubject encodes a subject in the serverless CA's attribute order (CN, C,
// L, O, OU, ST), which pkix.Name would not keep.
func rawSubject(t *testing.T, cn string) []byte {
	t.Helper()
	var rdns pkix.RDNSequence
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   string
	}{{oidCN, cn}, {oidC, "US"}, {oidL, "New York"}, {oidO, "Serverless Inc"},
		{oidOU, "DevOps"}, {oidST, "New York"}} {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: a.oid, Value: a.v}})
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func wantSubject(cn string) string {
	return "ST=New York,OU=DevOps,O=Serverless Inc,L=New York,C=US,CN=" + cn
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCert(t *testing.T, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	serial, _ := new(big.Int).SetString(testSerial, 10)
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		RawSubject:   rawSubject(t, cn),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newCSR(t *testing.T, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{RawSubject: rawSubject(t, cn)}, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// decode unmarshals JSON into a generic map and fails on anything else.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

func wantKeySet(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s keys: got %q, want %q", what, got, want)
	}
}

// A time zone east of UTC, to check that times are shown in UTC.
var tokyo = time.FixedZone("JST", 9*3600)

var (
	notBefore = time.Date(2025, 3, 10, 21, 0, 0, 0, tokyo) // 12:00 UTC
	notAfter  = time.Date(2025, 4, 9, 12, 5, 0, 0, time.UTC)
	eventAt   = time.Date(2025, 3, 10, 21, 0, 1, 0, tokyo)
)

func certInfo(cn string) map[string]any {
	return map[string]any{
		"CommonName":   cn,
		"SerialNumber": testSerial,
		"Issued":       "2025-03-10 12:00:00",
		"Expires":      "2025-04-09 12:05:00",
	}
}

func checkEnvelope(t *testing.T, e notify.Event, subject string) {
	t.Helper()
	if e.ID == "" || e.Subject != subject {
		t.Errorf("event ID %q Subject %q, want an ID and %q", e.ID, e.Subject, subject)
	}
	if !e.At.Equal(eventAt) || e.At.Location() != time.UTC {
		t.Errorf("event At %s, want %s in UTC", e.At, eventAt.UTC())
	}
	if err := e.Validate(); err != nil {
		t.Errorf("constructed event does not validate: %v", err)
	}
}

func checkBase64Cert(t *testing.T, got any, cert *x509.Certificate) {
	t.Helper()
	s, _ := got.(string)
	p, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("Base64Certificate is not base64: %v", err)
	}
	block, rest := pem.Decode(p)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("Base64Certificate is not one PEM certificate: %q", p)
	}
	if !slices.Equal(block.Bytes, cert.Raw) {
		t.Errorf("Base64Certificate holds a different certificate")
	}
}

func TestNewIssued(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	e, err := notify.NewIssued(cert, eventAt)
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, e, "Certificate Issued")

	m := decode(t, e.Body)
	wantKeySet(t, "message", m, "CertificateInfo", "Base64Certificate", "Subject")
	if got := m["CertificateInfo"]; !reflect.DeepEqual(got, certInfo("x.example.com")) {
		t.Errorf("CertificateInfo = %v, want %v", got, certInfo("x.example.com"))
	}
	if got := m["Subject"]; got != wantSubject("x.example.com") {
		t.Errorf("Subject = %q, want %q", got, wantSubject("x.example.com"))
	}
	checkBase64Cert(t, m["Base64Certificate"], cert)
}

func TestNewExpiryWarningAndExpired(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	warn, err := notify.NewExpiryWarning(cert, 7, eventAt)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := notify.NewExpired(cert, eventAt)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		e       notify.Event
		subject string
		days    float64
	}{
		{warn, "Certificate Expiry Warning", 7},
		{expired, "Certificate Expired", 0},
	} {
		checkEnvelope(t, tc.e, tc.subject)
		m := decode(t, tc.e.Body)
		wantKeySet(t, tc.subject, m,
			"CertificateInfo", "Base64Certificate", "Subject", "DaysRemaining")
		if got := m["CertificateInfo"]; !reflect.DeepEqual(got, certInfo("x.example.com")) {
			t.Errorf("%s CertificateInfo = %v", tc.subject, got)
		}
		if m["DaysRemaining"] != tc.days {
			t.Errorf("%s DaysRemaining = %v, want %v", tc.subject, m["DaysRemaining"], tc.days)
		}
		if m["Subject"] != wantSubject("x.example.com") {
			t.Errorf("%s Subject = %v", tc.subject, m["Subject"])
		}
		checkBase64Cert(t, m["Base64Certificate"], cert)
	}

	for _, days := range []int{0, -1} {
		if _, err := notify.NewExpiryWarning(cert, days, eventAt); err == nil ||
			!strings.Contains(err.Error(), "DaysRemaining") {
			t.Errorf("NewExpiryWarning(days %d) error %v, want one naming DaysRemaining",
				days, err)
		}
	}
}

func TestNewRevoked(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	revokedAt := time.Date(2025, 3, 20, 6, 34, 4, 753865000, tokyo)
	e, err := notify.NewRevoked(cert, revokedAt, eventAt)
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, e, "Certificate Revoked")
	want := map[string]any{
		"CommonName":   "x.example.com",
		"SerialNumber": testSerial,
		"Revoked":      "2025-03-19 21:34:04",
		"Subject":      wantSubject("x.example.com"),
	}
	if got := decode(t, e.Body); !reflect.DeepEqual(got, want) {
		t.Errorf("message = %v, want %v", got, want)
	}
}

func TestNewRejected(t *testing.T) {
	csr := newCSR(t, "Cloud Architect")
	tests := []struct {
		name string
		info notify.CSRInfo
		csr  []byte
		want map[string]any
	}{{
		name: "no SANs",
		info: notify.CSRInfo{CommonName: "Cloud Architect", Lifetime: 1},
		csr:  csr,
		want: map[string]any{
			"CSRInfo": map[string]any{"CommonName": "Cloud Architect", "Lifetime": 1.0,
				"Purposes": []any{}, "SANs": []any{}},
			"Base64CSR": base64.StdEncoding.EncodeToString(csr),
			"Subject":   wantSubject("Cloud Architect"),
			"Reason":    "Private key has already been used for a certificate",
		},
	}, {
		name: "SANs and purposes",
		info: notify.CSRInfo{CommonName: "test.example.com", Lifetime: 30,
			Purposes: []string{"server_auth"},
			SANs:     []notify.SAN{{Type: "DNS_NAME", Value: "test.example.com"}}},
		csr: csr,
		want: map[string]any{
			"CSRInfo": map[string]any{"CommonName": "test.example.com", "Lifetime": 30.0,
				"Purposes": []any{"server_auth"},
				"SANs": []any{map[string]any{"type": "DNS_NAME",
					"value": "test.example.com"}}},
			"Base64CSR": base64.StdEncoding.EncodeToString(csr),
			"Subject":   wantSubject("Cloud Architect"),
			"Reason":    "Private key has already been used for a certificate",
		},
	}, {
		name: "unparsable CSR",
		info: notify.CSRInfo{CommonName: "", Lifetime: 0},
		csr:  []byte("-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n"),
		want: map[string]any{
			"CSRInfo": map[string]any{"CommonName": "", "Lifetime": 0.0,
				"Purposes": []any{}, "SANs": []any{}},
			"Base64CSR": base64.StdEncoding.EncodeToString(
				[]byte("-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n")),
			"Subject": "",
			"Reason":  "Private key has already been used for a certificate",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := notify.NewRejected(tt.info, tt.csr,
				"Private key has already been used for a certificate", eventAt)
			if err != nil {
				t.Fatal(err)
			}
			checkEnvelope(t, e, "Certificate Request Rejected")
			if got := decode(t, e.Body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("message =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestConstructorsRefuseNilCertificate(t *testing.T) {
	errs := map[string]error{}
	_, errs["NewIssued"] = notify.NewIssued(nil, eventAt)
	_, errs["NewExpired"] = notify.NewExpired(nil, eventAt)
	_, errs["NewExpiryWarning"] = notify.NewExpiryWarning(nil, 1, eventAt)
	_, errs["NewRevoked"] = notify.NewRevoked(nil, eventAt, eventAt)
	for name, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s(nil): error %v, want one about the certificate", name, err)
		}
	}
}

func TestEventEnvelope(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	e1, _ := notify.NewIssued(cert, eventAt)
	e2, _ := notify.NewIssued(cert, eventAt)
	if e1.ID == e2.ID {
		t.Errorf("two events share the ID %q", e1.ID)
	}

	b, err := json.Marshal(e1)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, b)
	wantKeySet(t, "envelope", m, "Id", "Subject", "Time", "Message")
	if m["Id"] != e1.ID || m["Subject"] != "Certificate Issued" ||
		m["Time"] != "2025-03-10T12:00:01Z" {
		t.Errorf("envelope = Id %v Subject %v Time %v", m["Id"], m["Subject"], m["Time"])
	}
	wantKeySet(t, "envelope Message", m["Message"].(map[string]any),
		"CertificateInfo", "Base64Certificate", "Subject")

	var back notify.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != e1.ID || back.Subject != e1.Subject || !back.At.Equal(e1.At) ||
		string(back.Body) != string(e1.Body) {
		t.Errorf("event did not survive a JSON round trip: %+v", back)
	}
}

func TestEventValidate(t *testing.T) {
	good := notify.Event{ID: "ev-1", Subject: notify.SubjectIssued, At: eventAt,
		Body: json.RawMessage(`{}`)}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	for _, tc := range []struct {
		spoil func(*notify.Event)
		field string
	}{
		{func(e *notify.Event) { e.ID = "" }, "ID"},
		{func(e *notify.Event) { e.Subject = "" }, "Subject"},
		{func(e *notify.Event) { e.At = time.Time{} }, "At"},
		{func(e *notify.Event) { e.Body = nil }, "Body"},
		{func(e *notify.Event) { e.Body = json.RawMessage(`{"a"`) }, "Body"},
	} {
		e := good
		tc.spoil(&e)
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("event with bad %s: error %v, want one naming %s", tc.field, err, tc.field)
		}
	}
}
