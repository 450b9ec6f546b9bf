// Package gitops reconciles a certificate folder kept in git with the store.
//
// The folder has the serverless CA's layout, so its users keep their
// repositories: certs/{env}/ holds tls.json (an array of certificate requests,
// each naming a CSR under csrs/ with csr_file), revoked.json and
// revoked-root-ca.json (arrays of {"common_name", "serial_number"}), and csrs/.
//
// Apply is a reconciliation, not a replay: a request whose CSR was already
// certified is "Certificate already issued", a listed certificate that is
// already revoked stays as it is, and deleting an entry from revoked.json never
// un-revokes anything, because the store, not the folder, is the source of
// truth. The whole folder is read and every entry validated before anything
// changes, so a malformed file changes nothing.
package gitops

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// File names of the folder layout.
const (
	TLSFile         = "tls.json"
	RevokedFile     = "revoked.json"
	RevokedRootFile = "revoked-root-ca.json"
	CSRDir          = "csrs"
)

// maxFile bounds every file read from the folder.
const maxFile = 4 << 20

// Request is one entry of tls.json.
type Request struct {
	Index   int // position in tls.json, from 0
	Request *profile.Request
	CSRFile string // path of the CSR relative to the folder, for messages
}

// Revocation is one entry of revoked.json or revoked-root-ca.json.
type Revocation struct {
	File       string
	Index      int
	CommonName string
	Serial     *big.Int
	Reason     store.Reason
}

// Folder is a parsed and validated GitOps folder.
type Folder struct {
	Path        string
	Requests    []Request
	Revocations []Revocation // revoked.json: end-entity certificates
	RootRevoked []Revocation // revoked-root-ca.json: issuing CA certificates
}

// Load reads and validates the folder at path. Every file is optional, but the
// folder itself must exist. Errors name the file, the entry and the field.
func Load(path string) (*Folder, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", path)
	}
	f := &Folder{Path: path}
	if f.Requests, err = loadRequests(path); err != nil {
		return nil, err
	}
	if f.Revocations, err = loadRevocations(path, RevokedFile); err != nil {
		return nil, err
	}
	if f.RootRevoked, err = loadRevocations(path, RevokedRootFile); err != nil {
		return nil, err
	}
	return f, nil
}

// readFile reads a file of the folder; a missing file gives nil, nil.
func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFile)
	}
	return data, nil
}

// array decodes a JSON array into raw entries.
func array(name string, data []byte) ([]json.RawMessage, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array: %w", name, err)
	}
	return raw, nil
}

func loadRequests(dir string) ([]Request, error) {
	data, err := readFile(filepath.Join(dir, TLSFile))
	if err != nil || data == nil {
		return nil, err
	}
	return parseRequests(data, func(rel string) ([]byte, error) {
		csr, err := readFile(filepath.Join(dir, rel))
		if err == nil && csr == nil {
			err = errors.New("file not found")
		}
		return csr, err
	})
}

// parseRequests validates the entries of tls.json; readCSR returns the CSR
// file at a path relative to the folder (csrs/NAME).
func parseRequests(data []byte, readCSR func(rel string) ([]byte, error)) ([]Request, error) {
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
			rel = filepath.ToSlash(rel)
			csr, err := readCSR(rel)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: csr_file %s: %w", TLSFile, i, rel, err)
			}
			req.Base64CSRData = base64.StdEncoding.EncodeToString(csr)
			r.CSRFile = rel
		case req.Base64CSRData == "":
			return nil, fmt.Errorf("%s[%d]: needs csr_file or base64_csr_data", TLSFile, i)
		}
		out = append(out, r)
	}
	return out, nil
}

// csrPath resolves csr_file under csrs/, refusing names that leave it.
func csrPath(name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if filepath.IsAbs(clean) || clean == "." || strings.HasPrefix(clean, "..") {
		return "", fmt.Errorf("%q must name a file under %s/", name, CSRDir)
	}
	if first, _, _ := strings.Cut(filepath.ToSlash(clean), "/"); first == CSRDir {
		return clean, nil
	}
	return filepath.Join(CSRDir, clean), nil
}

// revokedEntry is the JSON of one revoked.json entry. serial_number is a
// decimal string in the serverless CA; a JSON number is accepted too. reason is
// Anchor's addition.
type revokedEntry struct {
	CommonName   *string         `json:"common_name"`
	SerialNumber json.RawMessage `json:"serial_number"`
	Reason       string          `json:"reason"`
}

func loadRevocations(dir, name string) ([]Revocation, error) {
	data, err := readFile(filepath.Join(dir, name))
	if err != nil || data == nil {
		return nil, err
	}
	return parseRevocations(name, data)
}

// parseRevocations validates the entries of revoked.json or
// revoked-root-ca.json (name).
func parseRevocations(name string, data []byte) ([]Revocation, error) {
	raw, err := array(name, data)
	if err != nil {
		return nil, err
	}
	var out []Revocation
	for i, entry := range raw {
		var e revokedEntry
		dec := json.NewDecoder(bytes.NewReader(entry))
		if err := dec.Decode(&e); err != nil {
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

func parseSerial(raw json.RawMessage) (*big.Int, error) {
	if len(raw) == 0 {
		return nil, errors.New("missing")
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
	}
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok || n.Sign() <= 0 || n.BitLen() > 160 {
		return nil, fmt.Errorf("%s is not a positive decimal serial number", raw)
	}
	return n, nil
}
