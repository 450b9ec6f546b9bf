package gitops

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// Body is a GitOps folder sent as one JSON document, as the HTTP API's
// POST /v1/apply receives it: the contents of tls.json, revoked.json and
// revoked-root-ca.json as JSON arrays (each optional), and the CSRs keyed by
// their file name under csrs/ ("web.csr" or "csrs/web.csr" name the same file).
type Body struct {
	TLS         json.RawMessage   `json:"tls"`
	Revoked     json.RawMessage   `json:"revoked"`
	RevokedRoot json.RawMessage   `json:"revoked_root"`
	CSRs        map[string]string `json:"csrs"`
}

// FromBody validates b as Load validates a folder and returns the same Folder,
// with Path set to "(request body)". Errors name the file, the entry and the
// field, using the file names of the folder layout.
func FromBody(b *Body) (*Folder, error) {
	f := &Folder{Path: "(request body)"}
	csrs := make(map[string]string, len(b.CSRs))
	for name, pemText := range b.CSRs {
		rel, err := csrPath(name)
		if err != nil {
			return nil, fmt.Errorf("csrs: %w", err)
		}
		if len(pemText) > maxFile {
			return nil, fmt.Errorf("csrs: %s is larger than %d bytes", name, maxFile)
		}
		csrs[filepath.ToSlash(rel)] = pemText
	}

	var err error
	if f.Requests, err = bodyRequests(b.TLS, csrs); err != nil {
		return nil, err
	}
	if f.Revocations, err = bodyRevocations(b.Revoked, RevokedFile); err != nil {
		return nil, err
	}
	if f.RootRevoked, err = bodyRevocations(b.RevokedRoot, RevokedRootFile); err != nil {
		return nil, err
	}
	return f, nil
}

// absent reports whether a raw JSON value was left out or is null, which both
// stand for a missing file.
func absent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func bodyRequests(data json.RawMessage, csrs map[string]string) ([]Request, error) {
	if absent(data) {
		return nil, nil
	}
	raw, err := array(TLSFile, data)
	if err != nil {
		return nil, err
	}
	var out []Request
	for i, entry := range raw {
		req, err := profile.Parse(entry)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", TLSFile, i, err)
		}
		if req.CAChainOnly {
			return nil, fmt.Errorf("%s[%d]: ca_chain_only makes no sense in %s",
				TLSFile, i, TLSFile)
		}
		r := Request{Index: i, Request: req}
		switch {
		case req.CSRFile != "":
			rel, err := csrPath(req.CSRFile)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: csr_file: %w", TLSFile, i, err)
			}
			csr, ok := csrs[filepath.ToSlash(rel)]
			if !ok {
				return nil, fmt.Errorf("%s[%d]: csr_file %s: not in csrs",
					TLSFile, i, filepath.ToSlash(rel))
			}
			req.Base64CSRData = base64.StdEncoding.EncodeToString([]byte(csr))
			r.CSRFile = filepath.ToSlash(rel)
		case req.Base64CSRData == "":
			return nil, fmt.Errorf("%s[%d]: needs csr_file or base64_csr_data", TLSFile, i)
		}
		out = append(out, r)
	}
	return out, nil
}

func bodyRevocations(data json.RawMessage, name string) ([]Revocation, error) {
	if absent(data) {
		return nil, nil
	}
	raw, err := array(name, data)
	if err != nil {
		return nil, err
	}
	var out []Revocation
	for i, entry := range raw {
		var e revokedEntry
		if err := json.Unmarshal(entry, &e); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		if e.CommonName == nil {
			return nil, fmt.Errorf("%s[%d]: common_name is missing", name, i)
		}
		serial, err := parseSerial(e.SerialNumber)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: serial_number: %w", name, i, err)
		}
		reason, err := store.ParseReason(e.Reason)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: reason: %w", name, i, err)
		}
		out = append(out, Revocation{
			File: name, Index: i, CommonName: *e.CommonName, Serial: serial, Reason: reason,
		})
	}
	return out, nil
}
