package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/gitops"
)

// maxFolderFile bounds each file FolderBody reads. The server refuses bodies
// over api.MaxBodySize in any case.
const maxFolderFile = api.MaxBodySize

// FolderBody reads a GitOps folder (tls.json, revoked.json,
// revoked-root-ca.json and the files under csrs/) into the body of Apply. It
// checks only that the JSON files are JSON; the server validates the rest, so
// that a remote apply gets the same messages as a local one.
func FolderBody(dir string) (*api.ApplyRequest, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	b := &api.ApplyRequest{CSRs: map[string]string{}}
	for _, f := range []struct {
		name string
		dst  *json.RawMessage
	}{
		{gitops.TLSFile, &b.TLS},
		{gitops.RevokedFile, &b.Revoked},
		{gitops.RevokedRootFile, &b.RevokedRoot},
	} {
		data, err := readSmall(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("%s is not valid JSON", filepath.Join(dir, f.name))
		}
		*f.dst = data
	}

	csrDir := filepath.Join(dir, gitops.CSRDir)
	err = filepath.WalkDir(csrDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == csrDir {
				return filepath.SkipDir
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := readSmall(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(csrDir, path)
		if err != nil {
			return err
		}
		b.CSRs[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFolderFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFolderFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFolderFile)
	}
	return data, nil
}
