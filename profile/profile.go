// Package profile turns a certificate request into a validated template that
// the CA can sign without further checks.
//
// # Model
//
// A request arrives as the JSON of the serverless CA's tls_cert Lambda (its
// snake_case keys are kept for compatibility, see Parse). Parse only decodes:
// it checks JSON types and nothing else. Evaluate then holds the decoded
// Request, the subscriber's CSR and the store's key history to the issuing
// policy and returns a Template: the subject as DER in Anchor's attribute order,
// the key usage, the lifetime and the extensions, in the order the CA adds them.
// The CA copies these into an x509.Certificate as they are; nothing in a
// Template comes from the request without having been validated here.
//
// # Promises
//
//   - No input makes Parse or Evaluate panic. Every refusal is a *Rejection
//     whose Message is the text shown to the requester; the messages that the
//     serverless CA's users script against keep their exact wording.
//   - Evaluate reports the first failed check only, in the documented order
//     (see Evaluate), so a request gets the same message from Anchor as it got
//     from the serverless CA.
//   - A Template always carries a CSR whose signature verified (proof of
//     possession) and whose key meets signer.CheckPublicKey.
//   - Invalid SANs never fail a request: they are dropped and listed in
//     Template.DroppedSANs with the reason, for the caller to log. This package
//     does no logging.
//
// # Differences from the serverless CA
//
// Anchor verifies the CSR signature, applies a key policy, refuses a country
// that is not two letters and any key that was already certified under any
// common name (not only the same one), accepts spiffe:// and urn: URIs, and
// sets keyEncipherment only for RSA keys unless Policy.LegacyKeyEncipherment.
package profile

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"
)

// Request is the certificate request JSON of the serverless CA (snake_case keys,
// unknown keys ignored). Fields that may be absent are pointers; see Parse for
// the defaults it fills in.
type Request struct {
	// CommonName is the subject CN; empty means "take the CSR's CN".
	CommonName string
	// Subject overrides; nil (or an empty string) keeps the CSR's value.
	Country            *string
	Locality           *string
	Organization       *string
	OrganizationalUnit *string
	State              *string
	EmailAddress       *string
	Lifetime           int // days; 30 when absent
	// Purposes is nil when absent; Evaluate then uses client_auth.
	Purposes          []string
	ExtendedKeyUsages []string
	SANs              []SAN // already decoded from any of the accepted forms
	Extensions        []CustomExtension
	// CSRFile names the CSR under csrs/ in GitOps; the caller reads the file
	// and puts its contents (PEM text is fine) in Base64CSRData.
	CSRFile       string
	Base64CSRData string
	ForceIssue    bool
	CertBundle    bool
	// CAChainOnly asks for the CA chain only; callers answer it without
	// calling Evaluate, since no CSR is needed.
	CAChainOnly  bool
	NotifyIssued *bool
	NotifyExpiry *bool
}

// SANValues returns the requested SAN values in request order, as the
// rejection event's CSRInfo.SANs lists them.
func (r *Request) SANValues() []string {
	out := make([]string, len(r.SANs))
	for i, s := range r.SANs {
		out[i] = s.Value
	}
	return out
}

// SAN is one subject alternative name, before validation in a Request and
// normalised (trimmed, IP addresses in canonical form) in a Template.
type SAN struct {
	Type  string // DNS_NAME, IP_ADDRESS, EMAIL_ADDRESS, URL, DN (upper-cased)
	Value string
}

// The SAN types a request may use. Any other type is dropped.
const (
	SANDNSName      = "DNS_NAME"
	SANIPAddress    = "IP_ADDRESS"
	SANEmailAddress = "EMAIL_ADDRESS"
	SANURL          = "URL"
	SANDN           = "DN"
)

// DroppedSAN is a requested SAN that Evaluate left out, with the reason.
type DroppedSAN struct {
	SAN    SAN
	Reason string
}

// CustomExtension is one entry of the request's "extensions" list. OID and
// ValueB64 are nil when absent, so that Evaluate can name the missing field.
type CustomExtension struct {
	OID      *string
	ValueB64 *string
	Critical bool
}

// Policy is the configured limits that every request is held to.
type Policy struct {
	// MaxLifetimeDays clamps the requested lifetime; 0 or less means 365.
	MaxLifetimeDays int
	// ExtensionAllowlist holds the dotted OIDs callers may set as custom
	// extensions; empty by default, so no custom extension is accepted.
	ExtensionAllowlist []string
	// PolicyOIDs, when not empty, become a certificatePolicies extension.
	PolicyOIDs []asn1.ObjectIdentifier
	// LegacyKeyEncipherment restores the serverless CA's keyEncipherment bit
	// on non-RSA leaves.
	LegacyKeyEncipherment bool
}

// DefaultMaxLifetimeDays is the lifetime ceiling when Policy sets none.
const DefaultMaxLifetimeDays = 365

// maxLifetimeDays caps any configured maximum so that days*24h cannot
// overflow a time.Duration (which holds about 106,000 days).
const maxLifetimeDays = 100000

// Template is a validated request, ready for the CA to sign.
//
// The CA sets KeyUsage (which Go marks critical) and appends Extensions as
// ExtraExtensions unchanged; it must not set ExtKeyUsage, DNSNames or other
// SAN fields itself, since the EKU and SAN extensions are already here.
type Template struct {
	// CSR is the parsed request; its signature has been verified.
	CSR        *x509.CertificateRequest
	CommonName string
	// RawSubject is the DER subject in Anchor's attribute order.
	RawSubject []byte
	// Subject is RawSubject decoded, for display.
	Subject  pkix.Name
	Lifetime time.Duration // lifetime days, clamped, times 24h
	// LifetimeDays is the clamped lifetime in days.
	LifetimeDays int
	KeyUsage     x509.KeyUsage
	// Extensions holds, in order: EKU, SAN (if any), policies (if any), then
	// the allowlisted custom extensions.
	Extensions []pkix.Extension
	KeyHash    [32]byte // SHA-256 of the CSR's SubjectPublicKeyInfo

	// ExtKeyUsages is the content of the EKU extension, in order.
	ExtKeyUsages []asn1.ObjectIdentifier
	// Purposes is the resolved purposes list: client_auth and/or server_auth.
	Purposes []string
	// DroppedExtKeyUsages lists extended_key_usages names that were unknown
	// and therefore ignored, for the caller to log.
	DroppedExtKeyUsages []string
	// SANs is the content of the SAN extension, in order (empty when the
	// certificate has no SAN extension).
	SANs []SAN
	// DroppedSANs lists the requested SANs that were left out, with reasons.
	DroppedSANs []DroppedSAN
	// NotifyIssued and NotifyExpiry are the request's settings with null
	// resolved: true for GitOps certificates, false otherwise.
	NotifyIssued bool
	NotifyExpiry bool
	// CertBundle asks for leaf + issuing + root PEM in Base64Certificate.
	CertBundle bool
}

// SANStrings renders the SANs for people and logs, with the prefixes OpenSSL
// uses: "DNS:x.example.com", "IP:10.0.0.1", "email:a@example.com",
// "URI:spiffe://example.org/x" and "DirName:CN=Partner,O=Org,C=US".
func (t *Template) SANStrings() []string {
	out := make([]string, len(t.SANs))
	for i, s := range t.SANs {
		out[i] = sanPrefix(s.Type) + s.Value
	}
	return out
}

func sanPrefix(typ string) string {
	switch typ {
	case SANDNSName:
		return "DNS:"
	case SANIPAddress:
		return "IP:"
	case SANEmailAddress:
		return "email:"
	case SANURL:
		return "URI:"
	case SANDN:
		return "DirName:"
	}
	return typ + ":"
}

// Rejection is a request that Anchor refuses. Message is shown to the
// requester as {"error": Message}. AlreadyIssued marks "Certificate already
// issued", which is not a failure and emits no rejection event.
type Rejection struct {
	Message       string
	AlreadyIssued bool
}

// Error returns Message exactly.
func (r *Rejection) Error() string { return r.Message }

func reject(format string, args ...any) *Rejection {
	if len(args) == 0 {
		return &Rejection{Message: format}
	}
	return &Rejection{Message: fmt.Sprintf(format, args...)}
}
