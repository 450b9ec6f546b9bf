package profile

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Attribute types (RFC 5280, appendix A; PKCS #9 for emailAddress; RFC 4519
// for domainComponent).
var (
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidLocality           = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidState              = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidEmailAddress       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDomainComponent    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
)

// attrType is one subject attribute Anchor writes, with its upper bound in
// characters (RFC 5280, appendix A.1) and its ASN.1 string type.
type attrType struct {
	short string // the name people know it by
	field string // the request key that overrides it
	oid   asn1.ObjectIdentifier
	max   int
	ia5   bool // IA5String; otherwise PrintableString when possible, else UTF8String
}

// subjectOrder is the serverless CA's attribute order, which Anchor keeps:
// CN, C, emailAddress, L, O, OU, ST (ASN.1 order; the RFC 4514 string reads it
// backwards).
var subjectOrder = []attrType{
	{"CN", "common_name", oidCommonName, 64, false},
	{"C", "country", oidCountry, 2, false},
	{"emailAddress", "email_address", oidEmailAddress, 255, true},
	{"L", "locality", oidLocality, 128, false},
	{"O", "organization", oidOrganization, 64, false},
	{"OU", "organizational_unit", oidOrganizationalUnit, 64, false},
	{"ST", "state", oidState, 128, false},
}

// overrides returns the request's value for each attribute of subjectOrder.
func overrides(req *Request) []*string {
	cn := &req.CommonName
	return []*string{cn, req.Country, req.EmailAddress, req.Locality,
		req.Organization, req.OrganizationalUnit, req.State}
}

// buildSubject resolves each attribute from the request or, when the request
// leaves it out or empty, from the CSR, checks it and encodes the subject in
// subjectOrder. The CN is already resolved (request, then CSR) by the caller.
// A CSR attribute given several times (two OUs, say) keeps every value, in
// the CSR's order. Attributes of other types are dropped.
func buildSubject(req *Request, csr *x509.CertificateRequest, cn string) (
	pkix.RDNSequence, error) {
	var seq pkix.RDNSequence
	for i, over := range overrides(req) {
		at := subjectOrder[i]
		var values []string
		fromCSR := false
		switch {
		case i == 0:
			values = []string{cn}
			fromCSR = req.CommonName == ""
		case over != nil && *over != "":
			values = []string{*over}
		default:
			values = csrValues(csr, at.oid)
			fromCSR = true
		}
		for _, v := range values {
			if err := checkAttr(at, v, fromCSR); err != nil {
				return nil, err
			}
			seq = append(seq, []pkix.AttributeTypeAndValue{
				{Type: at.oid, Value: encodeString(v, at.ia5)},
			})
		}
	}
	return seq, nil
}

// csrValues returns the CSR's non-empty string values of one attribute type.
func csrValues(csr *x509.CertificateRequest, oid asn1.ObjectIdentifier) []string {
	var out []string
	for _, atv := range csr.Subject.Names {
		if !atv.Type.Equal(oid) {
			continue
		}
		if s, ok := atv.Value.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkAttr holds one subject value to the rules of its type. Messages name
// the request field, or say the value came from the CSR and which field
// overrides it.
func checkAttr(at attrType, v string, fromCSR bool) error {
	where := at.field
	if fromCSR {
		where = fmt.Sprintf("the CSR's %s (%s; set %s to override it)",
			strings.ReplaceAll(at.field, "_", " "), at.short, at.field)
	}
	switch {
	case !utf8.ValidString(v):
		return reject("%s is not valid UTF-8", where)
	case at.oid.Equal(oidCountry) && !isTwoLetters(v):
		return reject("%s must be exactly 2 letters, not %q", where, shorten(v))
	case at.ia5 && !isASCII(v):
		return reject("%s must be ASCII", where)
	case utf8.RuneCountInString(v) > at.max:
		return reject("%s is longer than %d characters", where, at.max)
	}
	return nil
}

func isTwoLetters(s string) bool {
	return len(s) == 2 && isLetter(s[0]) && isLetter(s[1])
}

func isLetter(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// encodeString picks the string type: IA5String where the attribute demands
// it, else PrintableString when every character allows it (X.680, section
// 41.4), else UTF8String.
func encodeString(s string, ia5 bool) asn1.RawValue {
	tag := asn1.TagUTF8String
	switch {
	case ia5:
		tag = asn1.TagIA5String
	case isPrintableString(s):
		tag = asn1.TagPrintableString
	}
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: []byte(s)}
}

func isPrintableString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLetter(c) || isDigit(c) || strings.IndexByte(" '()+,-./:=?", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// rawRDNSequence is pkix.RDNSequence with values kept as raw DER, so that
// SubjectString can render an attribute's exact encoding.
type rawRDNSequence []rawRDNSET

// rawRDNSET is one RDN; encoding/asn1 reads a slice type whose name ends in
// SET as a SET OF.
type rawRDNSET []rawATV

type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rfc4514Names are the attribute type names that RFC 4514 (section 3)
// defines, plus SERIALNUMBER and POSTALCODE as Go's crypto/x509 writes them.
var rfc4514Names = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.6":                    "C",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.17":                   "POSTALCODE",
}

// SubjectString renders a DER subject as an RFC 4514 string, the form of the
// response's "Subject": the last RDN first, e.g.
// "ST=New York,OU=DevOps,O=Serverless Inc,L=New York,C=US,CN=x.example.com".
//
// Attribute types without an RFC 4514 name, emailAddress among them, are
// written as the dotted OID, "#" and the hex of the value's DER, as RFC 4514
// section 2.4 requires; a@example.com becomes
//
//	1.2.840.113549.1.9.1=#160d61406578616d706c652e636f6d
//
// with the certificate's own tag (16, IA5String). Go's pkix.Name.String
// re-encodes the value and so writes tag 0c (UTF8String); the serverless CA
// writes the address as plain text after the OID.
func SubjectString(rawSubject []byte) (string, error) {
	var seq rawRDNSequence
	rest, err := asn1.Unmarshal(rawSubject, &seq)
	if err != nil {
		return "", fmt.Errorf("profile: subject is not a DER Name: %w", err)
	}
	if len(rest) > 0 {
		return "", errors.New("profile: subject has trailing data after the DER Name")
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i < len(seq)-1 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeATV(&b, atv)
		}
	}
	return b.String(), nil
}

func writeATV(b *strings.Builder, atv rawATV) {
	oid := atv.Type.String()
	if name, ok := rfc4514Names[oid]; ok {
		var s string
		if _, err := asn1.Unmarshal(atv.Value.FullBytes, &s); err == nil {
			b.WriteString(name)
			b.WriteByte('=')
			escapeValue(b, s)
			return
		}
	}
	b.WriteString(oid)
	b.WriteString("=#")
	b.WriteString(hex.EncodeToString(atv.Value.FullBytes))
}

// escapeValue writes an attribute value with the escapes of RFC 4514,
// section 2.4.
func escapeValue(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0:
			b.WriteString(`\00`)
			continue
		case strings.IndexByte(`,+"\<>;`, c) >= 0,
			i == 0 && (c == ' ' || c == '#'),
			i == len(s)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
}

// decodeSubject turns a DER subject into a pkix.Name for display.
func decodeSubject(raw []byte) (pkix.Name, error) {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return pkix.Name{}, fmt.Errorf("profile: decode subject: %w", err)
	}
	var name pkix.Name
	name.FillFromRDNSequence(&seq)
	return name, nil
}
