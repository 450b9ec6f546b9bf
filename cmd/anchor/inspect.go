package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/client"
	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/store"
)

// certJSON is how list --json and show --json write a certificate.
type certJSON struct {
	SerialNumber string `json:"SerialNumber"`
	SerialHex    string `json:"SerialHex"`
	CommonName   string `json:"CommonName"`
	Subject      string `json:"Subject"`
	Issuer       string `json:"Issuer"`
	NotBefore    string `json:"NotBefore"`
	NotAfter     string `json:"NotAfter"`
	Status       string `json:"Status"`
	Source       string `json:"Source"`
	Revoked      string `json:"Revoked,omitempty"`
	Reason       string `json:"Reason,omitempty"`
}

func toJSON(c *store.Certificate, now time.Time) certJSON {
	j := certJSON{
		SerialNumber: c.Serial.String(),
		SerialHex:    c.Serial.Text(16),
		CommonName:   c.CommonName,
		Subject:      c.Subject,
		Issuer:       c.Issuer,
		NotBefore:    c.NotBefore.UTC().Format(ca.TimeLayout),
		NotAfter:     c.NotAfter.UTC().Format(ca.TimeLayout),
		Status:       status(c, now),
		Source:       string(c.Source),
	}
	if c.RevokedAt != nil {
		j.Revoked = c.RevokedAt.UTC().Format(ca.TimeLayout)
		j.Reason = c.Reason.String()
	}
	return j
}

func status(c *store.Certificate, now time.Time) string { return string(c.Status(now)) }

func runList(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "list", "[--cn NAME] [--status valid|revoked|expired] [--json]")
	h.register(fs)
	r.register(fs)
	cn := fs.String("cn", "", "only this common name")
	st := fs.String("status", "", "valid, revoked or expired")
	limit := fs.Int("limit", 0, "at most this many (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	f := store.Filter{CommonName: *cn, Status: store.Status(*st), Limit: *limit}
	switch f.Status {
	case store.StatusAny, store.StatusValid, store.StatusRevoked, store.StatusExpired:
	default:
		return fmt.Errorf("--status %q: want valid, revoked or expired", *st)
	}
	if c, err := r.client(); err != nil || c != nil {
		if err != nil {
			return err
		}
		return remoteList(ctx, a, c, client.ListOptions{CommonName: *cn, Status: *st,
			Limit: *limit}, *asJSON)
	}

	in, err := h.openStore()
	if err != nil {
		return err
	}
	defer in.Close()
	certs, err := in.store.List(ctx, f)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		out := make([]certJSON, len(certs))
		for i, c := range certs {
			out[i] = toJSON(c, now)
		}
		return writeJSON(a.stdout, out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tCOMMON NAME\tNOT AFTER\tSTATUS\tSOURCE")
	for _, c := range certs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Serial, c.CommonName,
			c.NotAfter.UTC().Format(ca.TimeLayout), status(c, now), c.Source)
	}
	return tw.Flush()
}

// parseSerial accepts a serial number in decimal, or in hex with a 0x prefix or
// with colons as openssl prints it.
func parseSerial(s string) (*big.Int, error) {
	n, ok := new(big.Int), false
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		n, ok = n.SetString(s[2:], 16)
	case strings.Contains(s, ":"):
		n, ok = n.SetString(strings.ReplaceAll(s, ":", ""), 16)
	default:
		n, ok = n.SetString(s, 10)
	}
	if !ok || n.Sign() <= 0 || n.BitLen() > 160 {
		return nil, fmt.Errorf("%q is not a serial number (decimal, 0x-hex or colon hex)", s)
	}
	return n, nil
}

func runShow(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "show", "SERIAL [--json] [--pem]")
	h.register(fs)
	r.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	asPEM := fs.Bool("pem", false, "print the certificate as PEM")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("want one serial number")
	}
	serial, err := parseSerial(fs.Arg(0))
	if err != nil {
		return err
	}
	if c, err := r.client(); err != nil || c != nil {
		if err != nil {
			return err
		}
		return remoteShow(ctx, a, c, serial.String(), *asPEM)
	}
	in, err := h.openStore()
	if err != nil {
		return err
	}
	defer in.Close()
	c, err := in.store.Certificate(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no certificate with serial %s", serial)
	}
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return writeJSON(a.stdout, toJSON(c, time.Now()))
	case *asPEM:
		_, err := a.stdout.Write(ca.PEMCertificate(c.DER))
		return err
	}
	cert, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return fmt.Errorf("stored certificate %s: %w", serial, err)
	}
	describe(a.stdout, c, cert, time.Now())
	return nil
}

// describe prints the facts of a certificate that people look for, in the
// spirit of openssl x509 -text but a screen long.
func describe(w io.Writer, c *store.Certificate, cert *x509.Certificate, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	st := status(c, now)
	if c.RevokedAt != nil {
		st = fmt.Sprintf("revoked %s (%s)", c.RevokedAt.UTC().Format(ca.TimeLayout), c.Reason)
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	row("Serial", c.Serial.String())
	row("Serial (hex)", colonHex(c.Serial.Bytes()))
	row("Subject", cert.Subject.String())
	row("Issuer", cert.Issuer.String())
	row("Not before", cert.NotBefore.UTC().Format(ca.TimeLayout))
	row("Not after", cert.NotAfter.UTC().Format(ca.TimeLayout))
	row("Status", st)
	row("Key", signer.Describe(cert.PublicKey))
	row("Key SHA-256", hex.EncodeToString(spki[:]))
	row("Signature", cert.SignatureAlgorithm.String())
	row("CA", fmt.Sprint(cert.IsCA))
	row("Key usage", strings.Join(keyUsageNames(cert.KeyUsage), ", "))
	row("Ext key usage", strings.Join(extKeyUsageNames(cert), ", "))
	row("SANs", strings.Join(sanStrings(cert), ", "))
	row("CRL", strings.Join(cert.CRLDistributionPoints, ", "))
	row("CA issuers", strings.Join(cert.IssuingCertificateURL, ", "))
	row("Source", string(c.Source))
	tw.Flush()
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

func keyUsageNames(ku x509.KeyUsage) []string {
	names := []string{"digitalSignature", "contentCommitment", "keyEncipherment",
		"dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
		"encipherOnly", "decipherOnly"}
	var out []string
	for i, n := range names {
		if ku&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func extKeyUsageNames(cert *x509.Certificate) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth",
		x509.ExtKeyUsageClientAuth: "clientAuth", x509.ExtKeyUsageCodeSigning: "codeSigning",
		x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageIPSECEndSystem:  "ipsecEndSystem",
		x509.ExtKeyUsageIPSECTunnel:     "ipsecTunnel", x509.ExtKeyUsageIPSECUser: "ipsecUser",
		x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	var out []string
	for _, u := range cert.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku(%d)", u))
		}
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}

func sanStrings(cert *x509.Certificate) []string {
	var out []string
	for _, d := range cert.DNSNames {
		out = append(out, "DNS:"+d)
	}
	for _, ip := range cert.IPAddresses {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range cert.EmailAddresses {
		out = append(out, "email:"+e)
	}
	for _, u := range cert.URIs {
		out = append(out, "URI:"+u.String())
	}
	return out
}

func runCA(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	fs := newFlags(a, "ca", "[--root|--issuing|--bundle]")
	h.register(fs)
	root := fs.Bool("root", false, "print the root CA certificate")
	issuing := fs.Bool("issuing", false, "print the issuing CA certificate")
	bundle := fs.Bool("bundle", false, "print the bundle: root, then issuing (the default)")
	info := fs.Bool("info", false, "describe the hierarchy instead of printing PEM")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	r, i := in.ca.Root, in.ca.Issuing
	var out []byte
	switch {
	case *info:
		printAuthorities(a.stdout, r, i)
		return nil
	case *root && !*issuing && !*bundle:
		out = r.PEM()
	case *issuing && !*root && !*bundle:
		out = i.PEM()
	case !*root && !*issuing:
		out = append(r.PEM(), i.PEM()...)
	default:
		return errors.New("choose one of --root, --issuing, --bundle")
	}
	_, err = a.stdout.Write(out)
	return err
}

func printAuthorities(w io.Writer, as ...*ca.Authority) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CA\tSUBJECT\tKEY\tNOT AFTER\tSERIAL")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Slug, a.Cert.Subject,
			signer.Describe(a.Cert.PublicKey), a.Cert.NotAfter.UTC().Format(ca.TimeLayout),
			a.Cert.SerialNumber)
	}
	tw.Flush()
}
