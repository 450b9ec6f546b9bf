// Package config reads anchor.yaml, the one file that configures an Anchor home.
//
// Every setting has a default, so a missing file is a valid configuration: the
// embedded default (SQLite and key files in the home folder, publication to a
// folder served by `anchor serve`). Unknown keys are an error, because a typo in
// a CA's configuration should not silently fall back to a default.
//
// The home folder is chosen by Home: the --home flag, else $ANCHOR_HOME, else
// ~/.anchor.
package config

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/anchorpki/anchor/anywhere"
	"github.com/anchorpki/anchor/signer"
	"gopkg.in/yaml.v3"
)

// FileName is the name of the configuration file inside the home folder.
const FileName = "anchor.yaml"

// maxFileSize bounds the configuration file; a real one is a few kilobytes.
const maxFileSize = 1 << 20

// Subject is the distinguished name of a CA. Empty attributes are left out.
type Subject struct {
	CommonName         string `yaml:"common_name"`
	Country            string `yaml:"country"`
	State              string `yaml:"state"`
	Locality           string `yaml:"locality"`
	Organization       string `yaml:"organization"`
	OrganizationalUnit string `yaml:"organizational_unit"`
}

// Authority configures one CA of the two-tier hierarchy.
type Authority struct {
	Subject      Subject `yaml:"subject"`
	KeyType      string  `yaml:"key_type"`
	LifetimeDays int     `yaml:"lifetime_days"`
	PathLen      *int    `yaml:"path_len"`
	// CRLDays and CRLSeconds give the CRL lifetime: nextUpdate = thisUpdate +
	// days + seconds (the serverless CA's crl_days and crl_seconds).
	CRLDays    int `yaml:"crl_days"`
	CRLSeconds int `yaml:"crl_seconds"`
}

// CRLLifetime is the time from thisUpdate to nextUpdate.
func (a Authority) CRLLifetime() time.Duration {
	return time.Duration(a.CRLDays)*24*time.Hour + time.Duration(a.CRLSeconds)*time.Second
}

// Config is the whole of anchor.yaml.
type Config struct {
	// Project and Env name the hierarchy and its published objects, as in the
	// serverless CA: {project}-root-ca-{env}, {project}-issuing-ca-{env}.
	Project string    `yaml:"project"`
	Env     string    `yaml:"env"`
	Root    Authority `yaml:"root"`
	Issuing Authority `yaml:"issuing"`

	// MaxLifetimeDays clamps end-entity lifetimes.
	MaxLifetimeDays int `yaml:"max_lifetime_days"`
	// Listen is the address `anchor serve` listens on.
	Listen string `yaml:"listen"`
	// BaseURL is where relying parties fetch CRLs and CA certificates (the CDP
	// and AIA URLs). Empty means http://{listen}.
	BaseURL string `yaml:"base_url"`
	// ExtensionAllowlist lists the dotted OIDs that requests may set as custom
	// extensions. Empty by default: no custom extensions.
	ExtensionAllowlist []string `yaml:"extension_allowlist"`
	// PolicyOIDs are certificate policy OIDs added to end-entity certificates.
	PolicyOIDs []string `yaml:"policy_oids"`
	// LegacyKeyEncipherment sets keyEncipherment on non-RSA leaves too, as the
	// serverless CA did.
	LegacyKeyEncipherment bool `yaml:"legacy_key_encipherment"`
	// CRLRefresh is how often `anchor serve` regenerates CRLs when nothing
	// was revoked.
	CRLRefresh time.Duration `yaml:"crl_refresh"`
	// LeaseTTL is how long a replica of `anchor serve` keeps the CRL
	// publication lease without renewing it. The holder renews it every
	// quarter of this; when the holder dies, another replica sharing the
	// store takes over within about LeaseTTL.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Store is the certificate store: empty for SQLite in the home folder, a
	// file path for SQLite elsewhere, or a postgres:// DSN (several replicas
	// share one PostgreSQL database).
	Store string `yaml:"store"`
	// Keys says where the CA keys live.
	Keys Keys `yaml:"keys"`
	// Publish says where CRLs and CA certificates are published.
	Publish Publish `yaml:"publish"`

	// Anywhere, when set, runs the Roles Anywhere-compatible relying party
	// inside anchor serve, with its data in HOME/anywhere (see package
	// anywhere for its keys: region, account, trust_anchors, profiles, roles,
	// follow).
	Anywhere *anywhere.Config `yaml:"anywhere"`
	// Notify configures where events go and the expiry reminders.
	Notify Notify `yaml:"notify"`
	// MTLSRoles maps the common name (or organizational unit) of a client
	// certificate issued by this CA to an API role, for mTLS callers.
	MTLSRoles map[string]string `yaml:"mtls_roles"`
	// Push lists Roles Anywhere endpoints (AWS or another Anchor) whose CRL
	// is replaced with UpdateCrl after every publication of the issuing CRL.
	Push []PushTarget `yaml:"push"`
}

// Notify lists the notifiers events are delivered to. Secrets are read from
// files, so anchor.yaml holds none.
type Notify struct {
	Webhooks []struct {
		Name       string `yaml:"name"`
		URL        string `yaml:"url"`
		SecretFile string `yaml:"secret_file"` // HMAC-SHA256 key for Anchor-Signature
	} `yaml:"webhooks"`
	Slack []struct {
		Name           string `yaml:"name"`
		WebhookURLFile string `yaml:"webhook_url_file"`
	} `yaml:"slack"`
	// ExpiryDays are the days before notAfter on which a warning goes out
	// (default 30, 15, 7, 1).
	ExpiryDays []int `yaml:"expiry_days"`
	// RetryBaseDelay is the wait after a failed delivery, doubled after
	// each further failure up to an hour (default 10s).
	RetryBaseDelay time.Duration `yaml:"retry_base_delay"`
}

// Keys selects the CA key backend.
type Keys struct {
	// Backend is file (default: HOME/keys), kms or pkcs11.
	Backend string `yaml:"backend"`
	KMS     struct {
		Region   string `yaml:"region"`
		Endpoint string `yaml:"endpoint"` // empty: AWS; set for local-kms and the like
		// AliasPrefix: CA keys are alias/{alias_prefix}{slug}.
		AliasPrefix string `yaml:"alias_prefix"`
	} `yaml:"kms"`
	PKCS11 struct {
		Module     string `yaml:"module"` // e.g. /usr/lib/softhsm/libsofthsm2.so
		TokenLabel string `yaml:"token_label"`
		// PINFile holds the user PIN; else $ANCHOR_PKCS11_PIN.
		PINFile string `yaml:"pin_file"`
	} `yaml:"pkcs11"`
}

// Publish selects the publisher.
type Publish struct {
	// Backend is dir (default: HOME/public, served by anchor serve) or s3.
	Backend string `yaml:"backend"`
	S3      struct {
		Bucket    string `yaml:"bucket"`
		Prefix    string `yaml:"prefix"`
		Region    string `yaml:"region"`
		Endpoint  string `yaml:"endpoint"` // empty: AWS; set for MinIO and the like
		PathStyle bool   `yaml:"path_style"`
	} `yaml:"s3"`
	// Dir is the folder of the dir backend (default HOME/public). Replicas on
	// one machine, or with a shared file system, share it.
	Dir string `yaml:"dir"`
}

// PushTarget is one Roles Anywhere CRL that anchor serve keeps current.
type PushTarget struct {
	// Endpoint is the control plane's base URL; empty means AWS in Region.
	Endpoint string `yaml:"endpoint"`
	Region   string `yaml:"region"`
	// CRLID is the id of a CRL imported there once beforehand.
	CRLID       string `yaml:"crl_id"`
	AccessKeyID string `yaml:"access_key_id"`
	// SecretAccessKeyFile holds the secret access key, so that anchor.yaml
	// holds no secret.
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
}

// Default returns the configuration used when anchor.yaml is absent.
func Default() *Config {
	rootLen, issuingLen := 1, 0
	return &Config{
		Project: "anchor",
		Env:     "dev",
		Root: Authority{
			Subject:      Subject{CommonName: "Anchor Root CA", Organization: "Anchor"},
			KeyType:      string(signer.ECDSAP384),
			LifetimeDays: 7300,
			PathLen:      &rootLen,
			CRLDays:      1,
			CRLSeconds:   600,
		},
		Issuing: Authority{
			Subject:      Subject{CommonName: "Anchor Issuing CA", Organization: "Anchor"},
			KeyType:      string(signer.ECDSAP256),
			LifetimeDays: 3650,
			PathLen:      &issuingLen,
			CRLDays:      1,
			CRLSeconds:   600,
		},
		MaxLifetimeDays: 365,
		Listen:          "127.0.0.1:8080",
		CRLRefresh:      time.Hour,
		LeaseTTL:        10 * time.Second,
	}
}

// Home returns the home folder: flag if set, else $ANCHOR_HOME, else ~/.anchor.
func Home(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	if env := os.Getenv("ANCHOR_HOME"); env != "" {
		return filepath.Abs(env)
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --home, no $ANCHOR_HOME and no user home folder: %w", err)
	}
	return filepath.Join(h, ".anchor"), nil
}

// Load reads the configuration file at path. A missing file gives the defaults
// when optional is true.
func Load(path string, optional bool) (*Config, error) {
	c := Default()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return c, c.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every setting and names the first bad one.
func (c *Config) Validate() error {
	if !validName(c.Project) {
		return fmt.Errorf("project %q: want lower-case letters, digits and hyphens", c.Project)
	}
	if !validName(c.Env) {
		return fmt.Errorf("env %q: want lower-case letters, digits and hyphens", c.Env)
	}
	for _, a := range []struct {
		name string
		auth *Authority
	}{{"root", &c.Root}, {"issuing", &c.Issuing}} {
		if _, err := signer.ParseKeyType(a.auth.KeyType); err != nil {
			return fmt.Errorf("%s.key_type: %w", a.name, err)
		}
		if a.auth.LifetimeDays < 1 {
			return fmt.Errorf("%s.lifetime_days must be at least 1", a.name)
		}
		if a.auth.PathLen == nil || *a.auth.PathLen < 0 {
			return fmt.Errorf("%s.path_len must be 0 or more", a.name)
		}
		if a.auth.Subject.CommonName == "" {
			return fmt.Errorf("%s.subject.common_name must be set", a.name)
		}
		if n := len(a.auth.Subject.Country); n != 0 && n != 2 {
			return fmt.Errorf("%s.subject.country %q must be 2 letters", a.name,
				a.auth.Subject.Country)
		}
		if a.auth.CRLLifetime() <= 0 {
			return fmt.Errorf("%s: crl_days and crl_seconds give no CRL lifetime", a.name)
		}
	}
	if *c.Issuing.PathLen >= *c.Root.PathLen {
		return fmt.Errorf("issuing.path_len (%d) must be less than root.path_len (%d)",
			*c.Issuing.PathLen, *c.Root.PathLen)
	}
	if c.MaxLifetimeDays < 1 {
		return errors.New("max_lifetime_days must be at least 1")
	}
	if c.MaxLifetimeDays > c.Issuing.LifetimeDays {
		return fmt.Errorf("max_lifetime_days (%d) exceeds issuing.lifetime_days (%d)",
			c.MaxLifetimeDays, c.Issuing.LifetimeDays)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("base_url %q: want an absolute http or https URL", c.BaseURL)
		}
	}
	for i, s := range c.PolicyOIDs {
		if _, err := ParseOID(s); err != nil {
			return fmt.Errorf("policy_oids[%d]: %w", i, err)
		}
	}
	for i, s := range c.ExtensionAllowlist {
		if _, err := ParseOID(s); err != nil {
			return fmt.Errorf("extension_allowlist[%d]: %w", i, err)
		}
	}
	switch c.Keys.Backend {
	case "", "file":
	case "kms":
		if c.Keys.KMS.Region == "" {
			return errors.New("keys.kms.region is required")
		}
	case "pkcs11":
		if c.Keys.PKCS11.Module == "" || c.Keys.PKCS11.TokenLabel == "" {
			return errors.New("keys.pkcs11.module and keys.pkcs11.token_label are required")
		}
	default:
		return fmt.Errorf("keys.backend %q: want file, kms or pkcs11", c.Keys.Backend)
	}
	switch c.Publish.Backend {
	case "", "dir":
	case "s3":
		if c.Publish.S3.Bucket == "" || c.Publish.S3.Region == "" {
			return errors.New("publish.s3.bucket and publish.s3.region are required")
		}
	default:
		return fmt.Errorf("publish.backend %q: want dir or s3", c.Publish.Backend)
	}
	names := map[string]bool{}
	for i, w := range c.Notify.Webhooks {
		if w.Name == "" || names[w.Name] || !strings.HasPrefix(w.URL, "http") {
			return fmt.Errorf("notify.webhooks[%d]: a unique name and an http(s) url "+
				"are required", i)
		}
		names[w.Name] = true
	}
	for i, sl := range c.Notify.Slack {
		if sl.Name == "" || names[sl.Name] || sl.WebhookURLFile == "" {
			return fmt.Errorf("notify.slack[%d]: a unique name and webhook_url_file "+
				"are required", i)
		}
		names[sl.Name] = true
	}
	for i, d := range c.Notify.ExpiryDays {
		if d < 1 || d > 3650 {
			return fmt.Errorf("notify.expiry_days[%d]: %d is not a number of days", i, d)
		}
	}
	for cn, role := range c.MTLSRoles {
		switch role {
		case "reader", "issuer", "revoker", "admin":
		default:
			return fmt.Errorf("mtls_roles[%q]: role %q: want reader, issuer, revoker "+
				"or admin", cn, role)
		}
	}
	for i, p := range c.Push {
		if p.Region == "" || p.CRLID == "" || p.AccessKeyID == "" || p.SecretAccessKeyFile == "" {
			return fmt.Errorf("push[%d]: region, crl_id, access_key_id and "+
				"secret_access_key_file are required", i)
		}
	}
	if c.CRLRefresh < time.Second {
		return fmt.Errorf("crl_refresh %s is too short", c.CRLRefresh)
	}
	if c.LeaseTTL < time.Second {
		return fmt.Errorf("lease_ttl %s is too short: want at least 1s", c.LeaseTTL)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// suffix is "-{env}", or nothing for production environments, as in the
// serverless CA.
func (c *Config) suffix() string {
	if c.Env == "prd" || c.Env == "prod" {
		return ""
	}
	return "-" + c.Env
}

// RootSlug names the root CA and its published objects.
func (c *Config) RootSlug() string { return c.Project + "-root-ca" + c.suffix() }

// IssuingSlug names the issuing CA and its published objects.
func (c *Config) IssuingSlug() string { return c.Project + "-issuing-ca" + c.suffix() }

// BundleName is the published CA bundle: root PEM, then issuing PEM.
func (c *Config) BundleName() string {
	return c.Project + "-ca-bundle" + c.suffix() + ".pem"
}

// PublicBaseURL is the base of the CDP and AIA URLs, without a trailing slash.
func (c *Config) PublicBaseURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return "http://" + c.Listen
}

// Name returns the subject as a pkix.Name.
func (s Subject) Name() pkix.Name {
	var n pkix.Name
	n.CommonName = s.CommonName
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	add(&n.Country, s.Country)
	add(&n.Province, s.State)
	add(&n.Locality, s.Locality)
	add(&n.Organization, s.Organization)
	add(&n.OrganizationalUnit, s.OrganizationalUnit)
	return n
}

// ParseOID parses a dotted object identifier such as "2.23.140.1.2.1".
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not a dotted object identifier", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("%q is not a dotted object identifier", s)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("%q is not a valid object identifier", s)
	}
	return oid, nil
}

// Policies returns PolicyOIDs parsed; Validate has checked them.
func (c *Config) Policies() []asn1.ObjectIdentifier {
	var oids []asn1.ObjectIdentifier
	for _, s := range c.PolicyOIDs {
		if oid, err := ParseOID(s); err == nil {
			oids = append(oids, oid)
		}
	}
	return oids
}
