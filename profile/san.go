package profile

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// GeneralName tags (RFC 5280, section 4.2.1.6).
const (
	tagRFC822Name    = 1
	tagDNSName       = 2
	tagDirectoryName = 4
	tagURI           = 6
	tagIPAddress     = 7
)

// resolveSANs validates the requested SANs in request order and encodes the
// valid ones as GeneralNames. Invalid values, unknown types and repeats are
// dropped with a reason. When nothing valid remains, the CN becomes the only
// DNS name if it is a valid one; otherwise there are no SANs at all.
func resolveSANs(requested []SAN, cn string) (kept []SAN, names []asn1.RawValue,
	dropped []DroppedSAN) {
	seen := make(map[string]bool, len(requested))
	for _, s := range requested {
		norm, name, reason := checkSAN(s)
		if reason == "" {
			key := norm.Type + "\x00" + norm.Value
			if norm.Type == SANDNSName {
				key = strings.ToLower(key) // DNS names compare without case
			}
			if seen[key] {
				reason = "repeats an earlier SAN"
			}
			seen[key] = true
		}
		if reason != "" {
			dropped = append(dropped, DroppedSAN{SAN: s, Reason: reason})
			continue
		}
		kept = append(kept, norm)
		names = append(names, name)
	}
	if len(kept) == 0 && validDNSName(cn) {
		kept = []SAN{{Type: SANDNSName, Value: cn}}
		names = []asn1.RawValue{ia5Name(tagDNSName, cn)}
	}
	return kept, names, dropped
}

// checkSAN validates one SAN. It returns the normalised SAN and its
// GeneralName, or the reason it is refused.
func checkSAN(s SAN) (SAN, asn1.RawValue, string) {
	v := strings.TrimSpace(s.Value)
	out := SAN{Type: s.Type, Value: v}
	switch s.Type {
	case SANDNSName:
		if !validDNSName(v) {
			return out, asn1.RawValue{}, "not a valid DNS name"
		}
		return out, ia5Name(tagDNSName, v), ""

	case SANIPAddress:
		addr, err := netip.ParseAddr(v)
		if err != nil || addr.Zone() != "" {
			return out, asn1.RawValue{}, "not a valid IP address"
		}
		out.Value = addr.String()
		return out, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIPAddress,
			Bytes: addr.AsSlice()}, ""

	case SANEmailAddress:
		if !validEmail(v) {
			return out, asn1.RawValue{}, "not a valid email address (want local@domain, " +
				"ASCII, without a display name)"
		}
		return out, ia5Name(tagRFC822Name, v), ""

	case SANURL:
		if reason := checkURI(v); reason != "" {
			return out, asn1.RawValue{}, reason
		}
		return out, ia5Name(tagURI, v), ""

	case SANDN:
		seq, reason := parseDN(v)
		if reason != "" {
			return out, asn1.RawValue{}, reason
		}
		der, err := asn1.Marshal(seq)
		if err != nil {
			return out, asn1.RawValue{}, "cannot be encoded: " + err.Error()
		}
		// directoryName is an explicit tag, since Name is a CHOICE.
		return out, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagDirectoryName,
			IsCompound: true, Bytes: der}, ""
	}
	return out, asn1.RawValue{}, fmt.Sprintf("unknown SAN type %q (want DNS_NAME, "+
		"IP_ADDRESS, EMAIL_ADDRESS, URL or DN)", shorten(s.Type))
}

func ia5Name(tag int, v string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: []byte(v)}
}

// sanExtension encodes GeneralNames. RFC 5280, section 4.2.1.6: the extension
// is critical when the subject is empty, and non-critical otherwise.
func sanExtension(names []asn1.RawValue, emptySubject bool) (pkix.Extension, error) {
	der, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("profile: encode subject alternative names: %w",
			err)
	}
	return pkix.Extension{Id: oidExtSubjectAltName, Critical: emptySubject, Value: der}, nil
}

// validDNSName is the serverless CA's DNS rule, with RFC 1035 lengths: at
// least two labels, each 1 to 63 letters, digits or hyphens that neither start
// nor end with a hyphen, at most 253 characters, and a last label that ends in
// a letter. A leading "*." is allowed over a base domain that passes the same
// rule, so "*.example.com" is valid and "*.com" is not.
func validDNSName(name string) bool {
	base := strings.TrimPrefix(name, "*.")
	if len(name) > 253 {
		return false
	}
	labels := strings.Split(base, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isLetter(c) && !isDigit(c) && c != '-' {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return isLetter(last[len(last)-1])
}

// validEmail accepts an RFC 5322 addr-spec alone (no display name, no angle
// brackets, no comments) in ASCII, since rfc822Name is an IA5String.
func validEmail(v string) bool {
	if v == "" || !isASCII(v) {
		return false
	}
	a, err := mail.ParseAddress(v)
	return err == nil && a.Name == "" && a.Address == v
}

// uriSchemes are the URL schemes accepted with an authority ("scheme://").
// The serverless CA's list is extended with spiffe; urn is handled apart.
var uriSchemes = map[string]bool{
	"http": true, "https": true, "ftp": true, "ftps": true,
	"ldap": true, "ldaps": true, "spiffe": true,
}

// checkURI returns why v is not an acceptable URI SAN, or "".
func checkURI(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return "URL contains a space, a control or a non-ASCII character"
		}
	}
	colon := strings.IndexByte(v, ':')
	if colon <= 0 {
		return "URL has no scheme"
	}
	scheme := strings.ToLower(v[:colon])
	if scheme == "urn" {
		if reason := checkURN(v[colon+1:]); reason != "" {
			return reason
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return "not a valid URL"
	}
	if scheme == "urn" {
		return ""
	}
	if !uriSchemes[scheme] {
		return fmt.Sprintf("URL scheme %q is not allowed (want http, https, ftp, ftps, "+
			"ldap, ldaps, spiffe or urn)", shorten(scheme))
	}
	if !strings.HasPrefix(v[colon+1:], "//") {
		return "URL must have the form " + scheme + "://host/..."
	}
	host := u.Hostname()
	if host == "" {
		if scheme == "ldap" || scheme == "ldaps" {
			return "" // ldap:///dc=example,dc=com names the client's default server
		}
		return "URL has no host"
	}
	if !validURIHost(host) {
		return "URL host is not a valid host name or IP address"
	}
	if scheme == "spiffe" {
		return checkSPIFFE(u, v)
	}
	return ""
}

// validURIHost accepts an IP address or a name of non-empty labels of letters,
// digits, hyphens and underscores (so that every parser, Go's among them,
// reads the certificate back).
func validURIHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !isLetter(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// checkSPIFFE applies the SPIFFE ID rules: a lower-case trust domain of
// letters, digits, dots, hyphens and underscores, no user info, port, query or
// fragment, and a path of non-empty segments other than "." and "..".
func checkSPIFFE(u *url.URL, raw string) string {
	if u.User != nil || u.Port() != "" || strings.ContainsAny(raw, "?#") {
		return "SPIFFE ID must not have user info, a port, a query or a fragment"
	}
	for i := 0; i < len(u.Host); i++ {
		c := u.Host[i]
		if !(c >= 'a' && c <= 'z') && !isDigit(c) && c != '.' && c != '-' && c != '_' {
			return "SPIFFE trust domain must be lower-case letters, digits, '.', '-' or '_'"
		}
	}
	if u.Path == "" {
		return ""
	}
	if u.RawPath != "" {
		return "SPIFFE ID path must not be percent-encoded"
	}
	for _, seg := range strings.Split(strings.TrimPrefix(u.Path, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "SPIFFE ID path has an empty, '.' or '..' segment"
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !isLetter(c) && !isDigit(c) && c != '.' && c != '-' && c != '_' {
				return "SPIFFE ID path must be letters, digits, '.', '-' or '_'"
			}
		}
	}
	return ""
}

// checkURN applies RFC 8141's shape to what follows "urn:": a namespace
// identifier of 2 to 32 letters, digits and inner hyphens, a colon, and a
// non-empty namespace-specific string. There is no "//".
func checkURN(rest string) string {
	colon := strings.IndexByte(rest, ':')
	if colon < 0 {
		return "URN must have the form urn:NID:NSS"
	}
	nid, nss := rest[:colon], rest[colon+1:]
	if len(nid) < 2 || len(nid) > 32 || nid[0] == '-' || nid[len(nid)-1] == '-' {
		return "URN namespace must be 2 to 32 letters, digits or inner hyphens"
	}
	for i := 0; i < len(nid); i++ {
		if c := nid[i]; !isLetter(c) && !isDigit(c) && c != '-' {
			return "URN namespace must be 2 to 32 letters, digits or inner hyphens"
		}
	}
	if nss == "" || nss[0] == '/' {
		return "URN must have the form urn:NID:NSS"
	}
	return ""
}

// dnAttrs are the keys a DN SAN may use.
var dnAttrs = map[string]attrType{
	"CN": {"CN", "", oidCommonName, 64, false},
	"O":  {"O", "", oidOrganization, 64, false},
	"OU": {"OU", "", oidOrganizationalUnit, 64, false},
	"C":  {"C", "", oidCountry, 2, false},
	"ST": {"ST", "", oidState, 128, false},
	"L":  {"L", "", oidLocality, 128, false},
	"E":  {"E", "", oidEmailAddress, 255, true},
	"DC": {"DC", "", oidDomainComponent, 63, true},
}

// parseDN reads a DN SAN such as "CN=Partner,O=Org,C=US": comma-separated
// KEY=value pairs with keys CN, O, OU, C, ST, L, E and DC (any case), values
// that may escape a character with a backslash (RFC 4514, section 3), one
// attribute per RDN. As in RFC 4514 the string is written most specific
// first, so the RDN sequence is its reverse, and the name renders back to the
// same string. It returns the reason when the string is refused.
func parseDN(s string) (pkix.RDNSequence, string) {
	parts, reason := splitDN(s)
	if reason != "" {
		return nil, reason
	}
	seq := make(pkix.RDNSequence, 0, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		key, value := parts[i][0], parts[i][1]
		at, ok := dnAttrs[strings.ToUpper(key)]
		if !ok {
			return nil, fmt.Sprintf("DN attribute %q is not one of CN, O, OU, C, ST, L, E, DC",
				shorten(key))
		}
		switch {
		case value == "":
			return nil, fmt.Sprintf("DN attribute %s is empty", at.short)
		case !utf8.ValidString(value):
			return nil, fmt.Sprintf("DN attribute %s is not valid UTF-8", at.short)
		case at.oid.Equal(oidCountry) && !isTwoLetters(value):
			return nil, "DN attribute C must be exactly 2 letters"
		case at.ia5 && !isASCII(value):
			return nil, fmt.Sprintf("DN attribute %s must be ASCII", at.short)
		case utf8.RuneCountInString(value) > at.max:
			return nil, fmt.Sprintf("DN attribute %s is longer than %d characters",
				at.short, at.max)
		}
		seq = append(seq, []pkix.AttributeTypeAndValue{
			{Type: at.oid, Value: encodeString(value, at.ia5)},
		})
	}
	return seq, ""
}

// splitDN cuts a DN string into [key, unescaped value] pairs.
func splitDN(s string) ([][2]string, string) {
	if strings.TrimSpace(s) == "" {
		return nil, "DN is empty"
	}
	var out [][2]string
	var key, val strings.Builder
	inValue := false
	// trailing counts the unescaped spaces at the end of val, which RFC 4514
	// says are not part of the value.
	trailing := 0
	flush := func() string {
		k := strings.TrimSpace(key.String())
		if !inValue || k == "" {
			return "DN must be KEY=value pairs separated by commas"
		}
		v := val.String()
		v = v[:len(v)-trailing]
		out = append(out, [2]string{k, v})
		key.Reset()
		val.Reset()
		inValue, trailing = false, 0
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !inValue && c == '=':
			inValue = true
		case !inValue:
			key.WriteByte(c)
		case c == '\\':
			b, n, ok := unescapeDN(s[i+1:])
			if !ok {
				return nil, "DN has an invalid backslash escape"
			}
			val.WriteByte(b)
			trailing = 0
			i += n
		case c == ',':
			if reason := flush(); reason != "" {
				return nil, reason
			}
		case c == '+' || c == '"' || c == ';' || c == '<' || c == '>':
			return nil, fmt.Sprintf("DN has an unescaped %q (multi-valued RDNs and "+
				"quoting are not supported)", string(c))
		case c == ' ' && val.Len() == 0:
			// leading spaces are not part of the value
		default:
			val.WriteByte(c)
			if c == ' ' {
				trailing++
			} else {
				trailing = 0
			}
		}
	}
	if reason := flush(); reason != "" {
		return nil, reason
	}
	return out, ""
}

// unescapeDN reads what follows a backslash: a special character or two hex
// digits. It returns the byte and how many characters it used.
func unescapeDN(s string) (byte, int, bool) {
	if s == "" {
		return 0, 0, false
	}
	if strings.IndexByte(`,+"\<>;= #`, s[0]) >= 0 {
		return s[0], 1, true
	}
	if len(s) >= 2 && isHex(s[0]) && isHex(s[1]) {
		return unhex(s[0])<<4 | unhex(s[1]), 2, true
	}
	return 0, 0, false
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
