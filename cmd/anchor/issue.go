package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/client"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/store"
)

// maxRequestFile bounds a request JSON or CSR file read from disk.
const maxRequestFile = 1 << 20

func runInit(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	fs := newFlags(a, "init", "[flags]")
	h.register(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	in, err := h.openStore()
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := ca.Init(ctx, in.cfg, in.store, in.keys)
	if err != nil {
		return err
	}
	if err := publishCACerts(ctx, in, res.Root, res.Issuing); err != nil {
		return err
	}
	state := "existing hierarchy, nothing changed"
	if res.Created {
		state = "created"
	}
	fmt.Fprintf(a.stdout, "%s: %s\n", in.dir, state)
	printAuthorities(a.stdout, res.Root, res.Issuing)
	return nil
}

func runIssue(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "issue", "--request req.json [--csr file.csr] [flags]")
	h.register(fs)
	r.register(fs)
	reqPath := fs.String("request", "", "request JSON in the serverless CA format (- for stdin)")
	csrPath := fs.String("csr", "", "CSR file (PEM); fills base64_csr_data")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *reqPath == "" {
		return errors.New("--request is required")
	}

	body, err := readBounded(*reqPath, "request")
	if err != nil {
		return writeRejection(a, err.Error())
	}
	if c, err := r.client(); err != nil || c != nil {
		if err != nil {
			return err
		}
		var csr []byte
		if *csrPath != "" {
			if csr, err = readBounded(*csrPath, "CSR"); err != nil {
				return writeRejection(a, err.Error())
			}
		}
		return remoteIssue(ctx, a, c, body, csr)
	}
	req, err := profile.Parse(body)
	if err != nil {
		return writeRejection(a, err.Error())
	}
	if *csrPath != "" {
		csr, err := readBounded(*csrPath, "CSR")
		if err != nil {
			return writeRejection(a, err.Error())
		}
		req.Base64CSRData = base64.StdEncoding.EncodeToString(csr)
	}

	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	issued, err := in.ca.Issue(ctx, req, store.SourceCLI)
	var rej *profile.Rejection
	if errors.As(err, &rej) {
		return writeRejection(a, rej.Message)
	}
	if err != nil {
		return err
	}
	return writeJSON(a.stdout, issued.Response)
}

// writeRejection prints the serverless CA's {"error": "..."} and fails.
func writeRejection(a *app, msg string) error {
	if err := writeJSON(a.stdout, map[string]string{"error": msg}); err != nil {
		return err
	}
	return exitError{code: 1}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readBounded reads a file (or stdin for "-") of at most maxRequestFile bytes.
func readBounded(path, what string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%s file: %w", what, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxRequestFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", what, err)
	}
	if len(data) > maxRequestFile {
		return nil, fmt.Errorf("%s file %s is larger than the limit of %d bytes",
			what, path, maxRequestFile)
	}
	return data, nil
}

func runRequest(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "request", "--cn NAME --out DIR [flags]")
	h.register(fs)
	r.register(fs)
	var sans, purposes multiFlag
	cn := fs.String("cn", "", "common name (required)")
	fs.Var(&sans, "san", "subject alternative name: a DNS name, IP, email or URI (repeatable)")
	fs.Var(&purposes, "purpose", "client_auth or server_auth (repeatable; default client_auth)")
	lifetime := fs.Int("lifetime", 30, "lifetime in days")
	keyType := fs.String("key-type", string(signer.ECDSAP256), "key type of the new key")
	out := fs.String("out", "", "folder for key.pem, cert.pem, chain.pem, bundle.pem (required)")
	org := fs.String("organization", "", "subject O")
	ou := fs.String("organizational-unit", "", "subject OU")
	country := fs.String("country", "", "subject C (2 letters)")
	locality := fs.String("locality", "", "subject L")
	state := fs.String("state", "", "subject ST")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *cn == "" || *out == "" {
		return errors.New("--cn and --out are required")
	}
	kt, err := signer.ParseKeyType(*keyType)
	if err != nil {
		return err
	}

	// The key is made here, on the client side, and never leaves this folder.
	key, err := kt.Generate(rand.Reader)
	if err != nil {
		return err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: *cn}}, key)
	if err != nil {
		return fmt.Errorf("build CSR: %w", err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})

	req := &profile.Request{
		CommonName:    *cn,
		Lifetime:      *lifetime,
		Purposes:      purposes,
		Base64CSRData: base64.StdEncoding.EncodeToString(csrPEM),
	}
	for _, s := range sans {
		req.SANs = append(req.SANs, guessSAN(s))
	}
	for _, o := range []struct {
		dst **string
		v   string
	}{
		{&req.Organization, *org}, {&req.OrganizationalUnit, *ou},
		{&req.Country, *country}, {&req.Locality, *locality}, {&req.State, *state},
	} {
		if o.v != "" {
			v := o.v
			*o.dst = &v
		}
	}

	if c, err := r.client(); err != nil || c != nil {
		if err != nil {
			return err
		}
		return remoteRequest(ctx, a, c, req, key, *out)
	}
	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	issued, err := in.ca.Issue(ctx, req, store.SourceCLI)
	if err != nil {
		return err
	}
	chain := append(in.ca.Issuing.PEM(), in.ca.Root.PEM()...)
	if err := writeCredentialFiles(*out, key, ca.PEMCertificate(issued.Certificate.DER), chain); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "issued %s\n  serial   %s\n  expires  %s\n  files    %s\n",
		issued.Certificate.CommonName, issued.Certificate.Serial,
		issued.Certificate.NotAfter.UTC().Format(ca.TimeLayout), *out)
	return nil
}

// writeCredentialFiles writes key.pem (0600), cert.pem, chain.pem (issuing then
// root) and bundle.pem (leaf, issuing, root) into dir.
func writeCredentialFiles(dir string, key any, leaf, chain []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{"cert.pem", leaf, 0o644},
		{"chain.pem", chain, 0o644},
		{"bundle.pem", append(append([]byte{}, leaf...), chain...), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
		// WriteFile keeps the mode of an existing file; the key must be 0600.
		if err := os.Chmod(filepath.Join(dir, f.name), f.mode); err != nil {
			return err
		}
	}
	return nil
}

// guessSAN types a --san value the way people write it.
func guessSAN(v string) profile.SAN {
	switch {
	case net.ParseIP(v) != nil:
		return profile.SAN{Type: "IP_ADDRESS", Value: v}
	case strings.Contains(v, "://") || strings.HasPrefix(v, "urn:"):
		return profile.SAN{Type: "URL", Value: v}
	case strings.Contains(v, "@"):
		return profile.SAN{Type: "EMAIL_ADDRESS", Value: v}
	}
	return profile.SAN{Type: "DNS_NAME", Value: v}
}

// remoteRequest sends the request made by `anchor request` to the API and
// writes the same files as the local path.
func remoteRequest(ctx context.Context, a *app, c *client.Client, req *profile.Request,
	key any, out string) error {
	body := map[string]any{
		"common_name": req.CommonName, "lifetime": req.Lifetime,
		"base64_csr_data": req.Base64CSRData,
	}
	if len(req.Purposes) > 0 {
		body["purposes"] = req.Purposes
	}
	if len(req.SANs) > 0 {
		sans := make([]map[string]string, len(req.SANs))
		for i, s := range req.SANs {
			sans[i] = map[string]string{"type": s.Type, "value": s.Value}
		}
		body["sans"] = sans
	}
	for k, v := range map[string]*string{"organization": req.Organization,
		"organizational_unit": req.OrganizationalUnit, "country": req.Country,
		"locality": req.Locality, "state": req.State} {
		if v != nil {
			body[k] = *v
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := c.Issue(ctx, data)
	if err != nil {
		return err
	}
	leaf, err := base64.StdEncoding.DecodeString(resp.Base64Certificate)
	if err != nil {
		return fmt.Errorf("server answer: %w", err)
	}
	chain, err := base64.StdEncoding.DecodeString(resp.Base64CaChain)
	if err != nil {
		return fmt.Errorf("server answer: %w", err)
	}
	if err := writeCredentialFiles(out, key, leaf, chain); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "issued %s\n  serial   %s\n  expires  %s\n  files    %s\n",
		resp.CertificateInfo.CommonName, resp.CertificateInfo.SerialNumber,
		resp.CertificateInfo.Expires, out)
	return nil
}
