package profile

import (
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"crypto/x509/pkix"
)

// Extension identifiers (RFC 5280, section 4.2.1).
var (
	oidExtSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtCertPolicies   = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidExtExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// Extended key usages (RFC 5280, section 4.2.1.12).
var (
	oidEKUServerAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidEKUClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
)

// ekuNames are the serverless CA's names for extended_key_usages. NONE adds
// nothing and so has no entry; Evaluate knows it.
var ekuNames = map[string]asn1.ObjectIdentifier{
	"TLS_WEB_SERVER_AUTHENTICATION": oidEKUServerAuth,
	"TLS_WEB_CLIENT_AUTHENTICATION": oidEKUClientAuth,
	"CODE_SIGNING":                  {1, 3, 6, 1, 5, 5, 7, 3, 3},
	"EMAIL_PROTECTION":              {1, 3, 6, 1, 5, 5, 7, 3, 4},
	"IPSEC_END_SYSTEM":              {1, 3, 6, 1, 5, 5, 7, 3, 5},
	"IPSEC_TUNNEL":                  {1, 3, 6, 1, 5, 5, 7, 3, 6},
	"IPSEC_USER":                    {1, 3, 6, 1, 5, 5, 7, 3, 7},
	"TIME_STAMPING":                 {1, 3, 6, 1, 5, 5, 7, 3, 8},
	"OCSP_SIGNING":                  {1, 3, 6, 1, 5, 5, 7, 3, 9},
	"ANY":                           {2, 5, 29, 37, 0},
}

// reservedOIDs are the extensions that Anchor itself sets (or that would
// change what the certificate is): callers can never set them, whatever the
// allowlist says.
var reservedOIDs = map[string]bool{
	"2.5.29.14":         true, // subjectKeyIdentifier
	"2.5.29.15":         true, // keyUsage
	"2.5.29.17":         true, // subjectAltName
	"2.5.29.19":         true, // basicConstraints
	"2.5.29.31":         true, // cRLDistributionPoints
	"2.5.29.32":         true, // certificatePolicies
	"2.5.29.35":         true, // authorityKeyIdentifier
	"2.5.29.37":         true, // extKeyUsage
	"1.3.6.1.5.5.7.1.1": true, // authorityInfoAccess
}

// parseOID reads a dotted object identifier in canonical form: at least two
// arcs, decimal digits without leading zeros, a first arc of 0, 1 or 2, a
// second arc below 40 under 0 and 1 (X.690, section 8.19), and every arc
// within 31 bits, the most that Go's certificate parser reads back.
func parseOID(s string) (asn1.ObjectIdentifier, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, false
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 10 || (len(p) > 1 && p[0] == '0') {
			return nil, false
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return nil, false
			}
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n > math.MaxInt32 {
			return nil, false
		}
		oid[i] = int(n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) || oid[1] > math.MaxInt32-80 {
		return nil, false
	}
	return oid, true
}

// resolveEKUs builds the EKU list: the purposes first (client_auth when none
// is usable), then extended_key_usages, without duplicates. Purpose and EKU
// names are matched without regard to case. It returns the unknown names,
// which are dropped, and a *Rejection for a string that looks like an OID
// (starts with "1." or "2.") but is not one.
func resolveEKUs(req *Request) (purposes []string, ekus []asn1.ObjectIdentifier,
	dropped []string, err error) {
	add := func(oid asn1.ObjectIdentifier) {
		for _, have := range ekus {
			if have.Equal(oid) {
				return
			}
		}
		ekus = append(ekus, oid)
	}

	for _, p := range req.Purposes {
		name := strings.ToLower(strings.TrimSpace(p))
		if name != "client_auth" && name != "server_auth" {
			continue
		}
		if !containsString(purposes, name) {
			purposes = append(purposes, name)
		}
	}
	if len(purposes) == 0 {
		purposes = []string{"client_auth"}
	}
	for _, p := range purposes {
		if p == "server_auth" {
			add(oidEKUServerAuth)
		} else {
			add(oidEKUClientAuth)
		}
	}

	for _, e := range req.ExtendedKeyUsages {
		name := strings.ToUpper(strings.TrimSpace(e))
		if name == "NONE" {
			continue
		}
		if oid, ok := ekuNames[name]; ok {
			add(oid)
			continue
		}
		if strings.HasPrefix(name, "1.") || strings.HasPrefix(name, "2.") {
			oid, ok := parseOID(name)
			if !ok {
				return nil, nil, nil, reject(
					"extended_key_usages: %q is not a valid object identifier", shorten(e))
			}
			add(oid)
			continue
		}
		dropped = append(dropped, e)
	}
	return purposes, ekus, dropped, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ekuExtension encodes ExtKeyUsageSyntax (RFC 5280, section 4.2.1.12),
// non-critical as the serverless CA sets it.
func ekuExtension(ekus []asn1.ObjectIdentifier) (pkix.Extension, error) {
	der, err := asn1.Marshal(ekus)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("profile: encode extended key usage: %w", err)
	}
	return pkix.Extension{Id: oidExtExtKeyUsage, Value: der}, nil
}

// policiesExtension encodes certificatePolicies (RFC 5280, section 4.2.1.4)
// with bare policy identifiers and no qualifiers.
func policiesExtension(oids []asn1.ObjectIdentifier) (pkix.Extension, error) {
	type policyInformation struct {
		Policy asn1.ObjectIdentifier
	}
	infos := make([]policyInformation, len(oids))
	for i, oid := range oids {
		infos[i] = policyInformation{Policy: oid}
	}
	der, err := asn1.Marshal(infos)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("profile: encode certificate policies %v: %w",
			oids, err)
	}
	return pkix.Extension{Id: oidExtCertPolicies, Value: der}, nil
}

// customExtensions checks the request's "extensions" in list order, each
// against the serverless CA's checks in its order, and returns them ready to
// add. The first failure is the answer.
//
// OIDs are compared as written: a valid OID string is canonical (parseOID
// refuses leading zeros), so two different strings that both pass every
// check name two different extensions.
func customExtensions(exts []CustomExtension, allowlist []string) ([]pkix.Extension, error) {
	if len(exts) == 0 {
		return nil, nil
	}
	allowed := make(map[string]bool, len(allowlist))
	for _, a := range allowlist {
		allowed[a] = true
	}
	seen := make(map[string]bool, len(exts))
	out := make([]pkix.Extension, 0, len(exts))
	for _, e := range exts {
		if e.OID == nil || *e.OID == "" {
			return nil, reject("Custom extension is missing required field 'oid'")
		}
		oid := *e.OID
		shown := shortenOID(oid)
		if seen[oid] {
			return nil, reject("Custom extension OID %s is specified more than once", shown)
		}
		seen[oid] = true
		if reservedOIDs[oid] {
			return nil, reject(
				"Custom extension OID %s is reserved and cannot be set by callers", shown)
		}
		if !allowed[oid] {
			return nil, reject(
				"Custom extension OID %s is not in the configured allowlist", shown)
		}
		id, ok := parseOID(oid)
		if !ok {
			return nil, reject(
				"Custom extension OID %s is not a valid object identifier", shown)
		}
		if e.ValueB64 == nil || *e.ValueB64 == "" {
			return nil, reject(
				"Custom extension OID %s is missing required field 'value_b64'", shown)
		}
		value, ok := decodeBase64(*e.ValueB64)
		if !ok || len(value) == 0 {
			return nil, reject("Custom extension OID %s has an invalid base64 value", shown)
		}
		out = append(out, pkix.Extension{Id: id, Critical: e.Critical, Value: value})
	}
	return out, nil
}

// shortenOID bounds an echoed OID string; real OIDs are far shorter, so
// their messages are exact.
func shortenOID(s string) string {
	if len(s) <= 200 {
		return s
	}
	return shorten(s)
}

// decodeBase64 accepts standard base64, padded or not.
func decodeBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}
