package gitops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
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
	return parseRequests(data, func(rel string) ([]byte, error) {
		csr, ok := csrs[rel]
		if !ok {
			return nil, errors.New("not in csrs")
		}
		return []byte(csr), nil
	})
}

func bodyRevocations(data json.RawMessage, name string) ([]Revocation, error) {
	if absent(data) {
		return nil, nil
	}
	return parseRevocations(name, data)
}
