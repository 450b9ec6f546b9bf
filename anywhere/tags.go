package anywhere

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// rdnTags maps the attribute types that become principal tags to their
// short names.
var rdnTags = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{2, 5, 4, 3}, "CN"},
	{asn1.ObjectIdentifier{2, 5, 4, 11}, "OU"},
	{asn1.ObjectIdentifier{2, 5, 4, 10}, "O"},
	{asn1.ObjectIdentifier{2, 5, 4, 7}, "L"},
	{asn1.ObjectIdentifier{2, 5, 4, 8}, "ST"},
	{asn1.ObjectIdentifier{2, 5, 4, 6}, "C"},
}

// principalTags derives the session tags of a certificate: the first value
// of each listed RDN of the subject and issuer, the first DNS and URI
// subject alternative names, and the RDNs of the first directory name.
func principalTags(c *x509.Certificate) map[string]string {
	tags := map[string]string{}
	addName(tags, "x509Subject/", c.Subject)
	addName(tags, "x509Issuer/", c.Issuer)
	if len(c.DNSNames) > 0 {
		tags["x509SAN/DNS"] = c.DNSNames[0]
	}
	if len(c.URIs) > 0 {
		tags["x509SAN/URI"] = c.URIs[0].String()
	}
	if dn, ok := firstDirectoryName(c); ok {
		addName(tags, "x509SAN/Name/", dn)
	}
	return tags
}

func addName(tags map[string]string, prefix string, n pkix.Name) {
	for _, t := range rdnTags {
		for _, atv := range n.Names {
			if atv.Type.Equal(t.oid) {
				if s, ok := atv.Value.(string); ok {
					tags[prefix+t.name] = s
				}
				break
			}
		}
	}
}

// firstDirectoryName extracts the first directoryName of the subject
// alternative name extension, which crypto/x509 does not expose.
func firstDirectoryName(c *x509.Certificate) (pkix.Name, bool) {
	var name pkix.Name
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &seq); err != nil || len(rest) > 0 {
			return name, false
		}
		rest := seq.Bytes
		for len(rest) > 0 {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return name, false
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 4 {
				continue
			}
			var rdns pkix.RDNSequence
			if _, err := asn1.Unmarshal(gn.Bytes, &rdns); err != nil {
				return name, false
			}
			name.FillFromRDNSequence(&rdns)
			return name, true
		}
	}
	return name, false
}

// checkConditions reports the first condition of the role that the tags do
// not satisfy.
func checkConditions(role RoleConfig, tags map[string]string) error {
	for _, c := range role.Conditions {
		v, ok := tags[c.Tag]
		switch {
		case !ok:
			return fmt.Errorf("principal tag %s is absent", c.Tag)
		case c.Equals != "" && v != c.Equals:
			return fmt.Errorf("principal tag %s does not equal %q", c.Tag, c.Equals)
		case c.Like != "" && !globMatch(c.Like, v):
			return fmt.Errorf("principal tag %s is not like %q", c.Tag, c.Like)
		}
	}
	return nil
}

// globMatch matches s against pattern, where '*' matches any run of
// characters (including none) and '?' exactly one, as in IAM's StringLike.
func globMatch(pattern, s string) bool {
	p, i := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(i) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == i[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
