package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
	"github.com/anchorpki/anchor/store/postgres"
	"github.com/anchorpki/anchor/store/sqlite"
)

// The layout of a home folder.
const (
	keysDir   = "keys"      // CA key files, 0700
	storeFile = "anchor.db" // the SQLite store
	publicDir = "public"    // published CRLs and CA certificates
)

// maxPassphraseFile bounds a passphrase file; a passphrase is a line of text.
const maxPassphraseFile = 4096

// homeFlags are the flags every command that opens a home takes.
type homeFlags struct {
	home           string
	config         string
	passphraseFile string
	// listen overrides the configured listen address (anchor serve --addr),
	// and with it the default public base URL.
	listen string
}

func (h *homeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.home, "home", "", "home folder (default $ANCHOR_HOME, else ~/.anchor)")
	fs.StringVar(&h.config, "config", "", "configuration file (default HOME/anchor.yaml)")
	fs.StringVar(&h.passphraseFile, "passphrase-file", "",
		"file holding the CA key passphrase (default $ANCHOR_KEY_PASSPHRASE)")
}

// instance is an opened home: configuration, store and, once initialised, the CA.
type instance struct {
	dir   string
	cfg   *config.Config
	store store.Store
	keys  ca.Keys
	ca    *ca.CA

	closeKeys func()
}

func (in *instance) Close() error {
	if in.closeKeys != nil {
		in.closeKeys()
	}
	return in.store.Close()
}

// errNotInitialised tells the user how to create a hierarchy.
var errNotInitialised = errors.New("no CA hierarchy here yet; run 'anchor init' " +
	"(or 'anchor serve', which creates one on first run)")

// open opens the home. With autoInit it creates the hierarchy if there is none;
// otherwise a missing hierarchy is errNotInitialised.
func (h *homeFlags) open(ctx context.Context, a *app, autoInit bool) (*instance, error) {
	in, err := h.openStore()
	if err != nil {
		return nil, err
	}
	var root, issuing *ca.Authority
	if autoInit {
		res, err := ca.Init(ctx, in.cfg, in.store, in.keys)
		if err != nil {
			in.Close()
			return nil, err
		}
		if res.Created {
			a.log.Info("created CA hierarchy", "home", in.dir,
				"root", res.Root.Slug, "issuing", res.Issuing.Slug)
		}
		root, issuing = res.Root, res.Issuing
	} else {
		root, issuing, err = ca.Load(ctx, in.cfg, in.store, in.keys)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%s: %w", in.dir, errNotInitialised)
		}
		if err != nil {
			in.Close()
			return nil, err
		}
	}
	in.ca = newCA(in.cfg, in.store, root, issuing, logObserver{a.log})
	return in, nil
}

// openStore reads the configuration and opens the store and the key backend.
func (h *homeFlags) openStore() (*instance, error) {
	dir, err := config.Home(h.home)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfgPath, optional := h.config, false
	if cfgPath == "" {
		cfgPath, optional = filepath.Join(dir, config.FileName), true
	}
	cfg, err := config.Load(cfgPath, optional)
	if err != nil {
		return nil, err
	}
	if h.listen != "" {
		cfg.Listen = h.listen
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("--addr: %w", err)
		}
	}
	pass, err := h.passphrase()
	if err != nil {
		return nil, err
	}
	dbPath := cfg.Store
	if dbPath == "" {
		dbPath = filepath.Join(dir, storeFile)
	}
	keys, closeKeys, err := openKeys(context.Background(), cfg, dir, pass)
	if err != nil {
		return nil, err
	}
	var st store.Store
	if strings.HasPrefix(dbPath, "postgres://") || strings.HasPrefix(dbPath, "postgresql://") {
		st, err = postgres.Open(context.Background(), dbPath)
	} else {
		st, err = sqlite.Open(dbPath)
	}
	if err != nil {
		closeKeys()
		return nil, err
	}
	return &instance{dir: dir, cfg: cfg, store: st, keys: keys, closeKeys: closeKeys}, nil
}

func (h *homeFlags) passphrase() ([]byte, error) {
	if h.passphraseFile == "" {
		if p := os.Getenv("ANCHOR_KEY_PASSPHRASE"); p != "" {
			return []byte(p), nil
		}
		return nil, nil
	}
	f, err := os.Open(h.passphraseFile)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, maxPassphraseFile+1)
	n, _ := f.Read(buf)
	if n > maxPassphraseFile {
		return nil, fmt.Errorf("passphrase file %s is larger than %d bytes",
			h.passphraseFile, maxPassphraseFile)
	}
	p := strings.TrimRight(string(buf[:n]), "\r\n")
	if p == "" {
		return nil, fmt.Errorf("passphrase file %s is empty", h.passphraseFile)
	}
	return []byte(p), nil
}

// newCA assembles the issuing side from the configuration.
func newCA(cfg *config.Config, st store.Store, root, issuing *ca.Authority, obs ca.Observer) *ca.CA {
	return &ca.CA{
		Root:     root,
		Issuing:  issuing,
		Store:    st,
		Policy:   policyFrom(cfg),
		BaseURL:  cfg.PublicBaseURL(),
		Observer: obs,
	}
}

func policyFrom(cfg *config.Config) profile.Policy {
	return profile.Policy{
		MaxLifetimeDays:       cfg.MaxLifetimeDays,
		ExtensionAllowlist:    cfg.ExtensionAllowlist,
		PolicyOIDs:            cfg.Policies(),
		LegacyKeyEncipherment: cfg.LegacyKeyEncipherment,
	}
}

// logObserver reports issuance outcomes as log lines, the default notifier.
type logObserver struct{ log *slog.Logger }

func (o logObserver) Issued(_ context.Context, c *store.Certificate, subject string) {
	o.log.Info("certificate issued", "serial", c.Serial.String(), "cn", c.CommonName,
		"subject", subject, "source", string(c.Source))
}

func (o logObserver) Rejected(_ context.Context, req *profile.Request, reason string) {
	o.log.Warn("certificate request rejected", "cn", req.CommonName, "reason", reason)
}

func (o logObserver) Revoked(_ context.Context, c *store.Certificate) {
	o.log.Info("certificate revoked", "serial", c.Serial.String(), "cn", c.CommonName,
		"reason", c.Reason.String())
}
