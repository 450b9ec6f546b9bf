package anywhere

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Config configures a Server. The YAML-tagged fields are declarative: what
// they name is created or brought up to date at every start, so GitOps users
// can keep them in anchor.yaml. Resources declared here get IDs derived from
// their names, so their ARNs are known before the server first runs.
type Config struct {
	// DataDir holds anywhere.db and server.secret. Required unless Store and
	// Secret are both set.
	DataDir string `yaml:"-"`
	// Region and Account appear in every ARN (defaults us-east-1 and
	// 000000000000).
	Region  string `yaml:"region"`
	Account string `yaml:"account"`

	TrustAnchors []TrustAnchorConfig `yaml:"trust_anchors"`
	Profiles     []ProfileConfig     `yaml:"profiles"`
	Roles        []RoleConfig        `yaml:"roles"`
	Follow       []Follow            `yaml:"follow"`

	// Store overrides the SQLite store in DataDir.
	Store Store `yaml:"-"`
	// Secret overrides DataDir/server.secret (at least 32 bytes).
	Secret []byte `yaml:"-"`
	// Now is the clock; nil means time.Now.
	Now func() time.Time `yaml:"-"`
	// Logger receives one line per unit of work; nil discards.
	Logger *slog.Logger `yaml:"-"`
	// HTTPClient is used by followers; nil means a client without a
	// timeout of its own (each request carries a deadline).
	HTTPClient *http.Client `yaml:"-"`
	// FlushInterval is how often subject records and sessions are written
	// in a batch (default 100ms).
	FlushInterval time.Duration `yaml:"-"`
}

// TrustAnchorConfig declares a trust anchor from a PEM bundle file.
type TrustAnchorConfig struct {
	Name            string `yaml:"name"`
	CertificateFile string `yaml:"certificate_file"`
	// Enabled defaults to true for declared trust anchors.
	Enabled *bool `yaml:"enabled"`
}

// ProfileConfig declares a profile.
type ProfileConfig struct {
	Name     string   `yaml:"name"`
	RoleArns []string `yaml:"role_arns"`
	// DurationSeconds defaults to 3600.
	DurationSeconds       int  `yaml:"duration_seconds"`
	AcceptRoleSessionName bool `yaml:"accept_role_session_name"`
	// Enabled defaults to true for declared profiles.
	Enabled *bool `yaml:"enabled"`
}

// RoleConfig attaches conditions on principal tags to a role: a session for
// the role is granted only if every condition holds.
type RoleConfig struct {
	Arn        string         `yaml:"arn"`
	Conditions []TagCondition `yaml:"conditions"`
}

// TagCondition tests one principal tag, such as "x509Subject/OU". Exactly
// one of Equals and Like is set; Like is a glob where '*' matches any run of
// characters and '?' one character.
type TagCondition struct {
	Tag    string `yaml:"tag"`
	Equals string `yaml:"equals"`
	Like   string `yaml:"like"`
}

// Follow keeps one CRL current by fetching it from URL (see Follower).
type Follow struct {
	URL string `yaml:"url"`
	// TrustAnchor is the trust anchor's ID, ARN or name.
	TrustAnchor string `yaml:"trust_anchor"`
	// Name is the CRL's name; the follower creates it or updates it.
	Name string `yaml:"name"`
	// PollInterval is the pause between requests to a server that does not
	// hold requests (default 2s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// Wait is the long-poll wait asked for with "Prefer: wait=N"
	// (default 25s).
	Wait time.Duration `yaml:"wait"`
}

// LoadConfig reads a YAML configuration file. Relative certificate_file
// paths are resolved against the file's folder.
func LoadConfig(file string) (Config, error) {
	var c Config
	b, err := os.ReadFile(file)
	if err != nil {
		return c, fmt.Errorf("anywhere: read config: %w", err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("anywhere: parse %s: %w", file, err)
	}
	for i := range c.TrustAnchors {
		f := c.TrustAnchors[i].CertificateFile
		if f != "" && !filepath.IsAbs(f) {
			c.TrustAnchors[i].CertificateFile = filepath.Join(filepath.Dir(file), f)
		}
	}
	return c, nil
}

func (c *Config) validate() error {
	for i, ta := range c.TrustAnchors {
		if ta.Name == "" || ta.CertificateFile == "" {
			return fmt.Errorf("anywhere: trust_anchors[%d]: name and certificate_file "+
				"are required", i)
		}
	}
	for i, p := range c.Profiles {
		if p.Name == "" || len(p.RoleArns) == 0 {
			return fmt.Errorf("anywhere: profiles[%d]: name and role_arns are required", i)
		}
		if p.DurationSeconds != 0 && (p.DurationSeconds < 900 || p.DurationSeconds > 43200) {
			return fmt.Errorf("anywhere: profiles[%d].duration_seconds: must be "+
				"900..43200", i)
		}
	}
	for i, r := range c.Roles {
		if r.Arn == "" {
			return fmt.Errorf("anywhere: roles[%d].arn is required", i)
		}
		for j, cond := range r.Conditions {
			if cond.Tag == "" || (cond.Equals == "") == (cond.Like == "") {
				return fmt.Errorf("anywhere: roles[%d].conditions[%d]: tag and exactly "+
					"one of equals and like are required", i, j)
			}
		}
	}
	for i, f := range c.Follow {
		if f.URL == "" || f.TrustAnchor == "" || f.Name == "" {
			return fmt.Errorf("anywhere: follow[%d]: url, trust_anchor and name are "+
				"required", i)
		}
	}
	return nil
}
