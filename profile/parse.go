package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// MaxRequestSize is the largest request JSON that Parse accepts (1 MiB).
// Callers bound their input as well; this keeps Parse safe on its own.
const MaxRequestSize = 1 << 20

// DefaultLifetimeDays is the lifetime of a request that does not give one.
const DefaultLifetimeDays = 30

// Parse decodes the request JSON of the serverless CA. It checks JSON types
// only; Evaluate does the validation. Every error is a *Rejection naming the
// field.
//
// The keys are the serverless CA's snake_case names (common_name, country,
// locality, organization, organizational_unit, state, email_address, lifetime,
// purposes, extended_key_usages, sans, extensions, csr_file, base64_csr_data,
// force_issue, cert_bundle, ca_chain_only, notify_issued, notify_expiry),
// matched exactly; unknown keys are ignored, and a key given twice keeps its
// last value, as in the original. A null value means the key is absent.
//
// lifetime must be a JSON integer (30 when absent); 1.5, 1.0, 1e2, "30" and
// true are refused. sans may be a string, a list whose items are strings or
// {"type", "value"} objects, or an object {TYPE: value or [values]}. Strings
// without a type are DNS names and types are upper-cased. The object form keeps
// document order: the SANs come out in the order the request wrote them, so the
// certificate does not depend on map iteration.
func Parse(data []byte) (*Request, error) {
	if len(data) > MaxRequestSize {
		return nil, reject("request is larger than 1 MiB")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, reject("request is empty")
	}
	if kindOf(data) != kindObject {
		return nil, reject("request must be a JSON object")
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&top); err != nil {
		return nil, reject("request is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, reject("request has data after the JSON object")
	}

	r := &Request{Lifetime: DefaultLifetimeDays}
	var err error
	strs := []struct {
		key string
		dst **string
	}{
		{"country", &r.Country},
		{"locality", &r.Locality},
		{"organization", &r.Organization},
		{"organizational_unit", &r.OrganizationalUnit},
		{"state", &r.State},
		{"email_address", &r.EmailAddress},
	}
	for _, f := range strs {
		if *f.dst, err = optString(top[f.key], f.key); err != nil {
			return nil, err
		}
	}
	plain := []struct {
		key string
		dst *string
	}{
		{"common_name", &r.CommonName},
		{"csr_file", &r.CSRFile},
		{"base64_csr_data", &r.Base64CSRData},
	}
	for _, f := range plain {
		s, err := optString(top[f.key], f.key)
		if err != nil {
			return nil, err
		}
		if s != nil {
			*f.dst = *s
		}
	}
	flags := []struct {
		key string
		dst *bool
	}{
		{"force_issue", &r.ForceIssue},
		{"cert_bundle", &r.CertBundle},
		{"ca_chain_only", &r.CAChainOnly},
	}
	for _, f := range flags {
		b, err := optBool(top[f.key], f.key)
		if err != nil {
			return nil, err
		}
		*f.dst = b != nil && *b
	}
	if r.NotifyIssued, err = optBool(top["notify_issued"], "notify_issued"); err != nil {
		return nil, err
	}
	if r.NotifyExpiry, err = optBool(top["notify_expiry"], "notify_expiry"); err != nil {
		return nil, err
	}
	if r.Lifetime, err = parseLifetime(top["lifetime"]); err != nil {
		return nil, err
	}
	if r.Purposes, err = stringList(top["purposes"], "purposes"); err != nil {
		return nil, err
	}
	r.ExtendedKeyUsages, err = stringList(top["extended_key_usages"], "extended_key_usages")
	if err != nil {
		return nil, err
	}
	if r.SANs, err = parseSANs(top["sans"]); err != nil {
		return nil, err
	}
	if r.Extensions, err = parseExtensions(top["extensions"]); err != nil {
		return nil, err
	}
	return r, nil
}

// jsonKind is the type of a JSON value, told by its first byte.
type jsonKind int

const (
	kindAbsent jsonKind = iota // key not present, or null
	kindString
	kindNumber
	kindBool
	kindArray
	kindObject
	kindInvalid
)

func kindOf(raw []byte) jsonKind {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return kindAbsent
	}
	switch c := raw[0]; {
	case c == 'n':
		return kindAbsent
	case c == '"':
		return kindString
	case c == 't' || c == 'f':
		return kindBool
	case c == '[':
		return kindArray
	case c == '{':
		return kindObject
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	}
	return kindInvalid
}

// kindName describes a JSON value's type for an error message.
func kindName(k jsonKind) string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindArray:
		return "a list"
	case kindObject:
		return "an object"
	}
	return "an invalid value"
}

func optString(raw json.RawMessage, field string) (*string, error) {
	switch k := kindOf(raw); k {
	case kindAbsent:
		return nil, nil
	case kindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, reject("%s is not a valid JSON string", field)
		}
		return &s, nil
	default:
		return nil, reject("%s must be a string, not %s", field, kindName(k))
	}
}

func optBool(raw json.RawMessage, field string) (*bool, error) {
	switch k := kindOf(raw); k {
	case kindAbsent:
		return nil, nil
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, reject("%s is not a valid JSON boolean", field)
		}
		return &b, nil
	default:
		return nil, reject("%s must be true or false, not %s", field, kindName(k))
	}
}

func parseLifetime(raw json.RawMessage) (int, error) {
	switch k := kindOf(raw); k {
	case kindAbsent:
		return DefaultLifetimeDays, nil
	case kindNumber:
		lit := strings.TrimSpace(string(raw))
		if strings.ContainsAny(lit, ".eE") {
			return 0, reject("lifetime must be a whole number of days, not %s",
				shorten(lit))
		}
		n, err := strconv.Atoi(lit)
		if err != nil {
			return 0, reject("lifetime %s is out of range", shorten(lit))
		}
		return n, nil
	default:
		return 0, reject("lifetime must be a whole number of days, not %s", kindName(k))
	}
}

func stringList(raw json.RawMessage, field string) ([]string, error) {
	switch k := kindOf(raw); k {
	case kindAbsent:
		return nil, nil
	case kindArray:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, reject("%s is not a valid JSON list", field)
		}
		out := make([]string, 0, len(items))
		for i, item := range items {
			s, err := optString(item, field+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			if s == nil {
				return nil, reject("%s[%d] must be a string, not null", field, i)
			}
			out = append(out, *s)
		}
		return out, nil
	default:
		return nil, reject("%s must be a list of strings, not %s", field, kindName(k))
	}
}

// parseSANs decodes every accepted form of "sans" into a flat list.
func parseSANs(raw json.RawMessage) ([]SAN, error) {
	switch k := kindOf(raw); k {
	case kindAbsent:
		return nil, nil
	case kindString:
		s, err := optString(raw, "sans")
		if err != nil {
			return nil, err
		}
		return []SAN{{Type: SANDNSName, Value: *s}}, nil
	case kindArray:
		return parseSANList(raw)
	case kindObject:
		return parseSANMap(raw)
	default:
		return nil, reject("sans must be a string, a list or an object, not %s",
			kindName(k))
	}
}

func parseSANList(raw json.RawMessage) ([]SAN, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, reject("sans is not a valid JSON list")
	}
	out := make([]SAN, 0, len(items))
	for i, item := range items {
		field := "sans[" + strconv.Itoa(i) + "]"
		switch k := kindOf(item); k {
		case kindString:
			s, err := optString(item, field)
			if err != nil {
				return nil, err
			}
			out = append(out, SAN{Type: SANDNSName, Value: *s})
		case kindObject:
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(item, &obj); err != nil {
				return nil, reject("%s is not a valid JSON object", field)
			}
			typ, err := optString(obj["type"], field+".type")
			if err != nil {
				return nil, err
			}
			val, err := optString(obj["value"], field+".value")
			if err != nil {
				return nil, err
			}
			san := SAN{}
			if typ != nil {
				san.Type = normType(*typ)
			}
			if val != nil {
				san.Value = *val
			}
			out = append(out, san)
		default:
			return nil, reject("%s must be a string or a {\"type\", \"value\"} object, not %s",
				field, kindName(k))
		}
	}
	return out, nil
}

// parseSANMap decodes {TYPE: value or [values]} keeping document order.
func parseSANMap(raw json.RawMessage) ([]SAN, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil, reject("sans is not a valid JSON object")
	}
	var out []SAN
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, reject("sans is not a valid JSON object")
		}
		key, _ := tok.(string)
		field := "sans." + shorten(key)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, reject("%s is not valid JSON", field)
		}
		typ := normType(key)
		switch k := kindOf(val); k {
		case kindAbsent:
		case kindString:
			s, err := optString(val, field)
			if err != nil {
				return nil, err
			}
			out = append(out, SAN{Type: typ, Value: *s})
		case kindArray:
			vals, err := stringList(val, field)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				out = append(out, SAN{Type: typ, Value: v})
			}
		default:
			return nil, reject("%s must be a string or a list of strings, not %s",
				field, kindName(k))
		}
	}
	return out, nil
}

func normType(t string) string { return strings.ToUpper(strings.TrimSpace(t)) }

func parseExtensions(raw json.RawMessage) ([]CustomExtension, error) {
	switch k := kindOf(raw); k {
	case kindAbsent:
		return nil, nil
	case kindArray:
	default:
		return nil, reject("extensions must be a list of objects, not %s", kindName(k))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, reject("extensions is not a valid JSON list")
	}
	out := make([]CustomExtension, 0, len(items))
	for i, item := range items {
		field := "extensions[" + strconv.Itoa(i) + "]"
		if k := kindOf(item); k != kindObject {
			return nil, reject("%s must be an object, not %s", field, kindName(k))
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(item, &obj); err != nil {
			return nil, reject("%s is not a valid JSON object", field)
		}
		var ext CustomExtension
		var err error
		if ext.OID, err = optString(obj["oid"], field+".oid"); err != nil {
			return nil, err
		}
		if ext.ValueB64, err = optString(obj["value_b64"], field+".value_b64"); err != nil {
			return nil, err
		}
		crit, err := optBool(obj["critical"], field+".critical")
		if err != nil {
			return nil, err
		}
		ext.Critical = crit != nil && *crit
		out = append(out, ext)
	}
	return out, nil
}

// shorten keeps caller-supplied text in messages to a readable length.
func shorten(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
