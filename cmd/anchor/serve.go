package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/publish/dir"
	"github.com/anchorpki/anchor/server"
)

func runServe(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	fs := newFlags(a, "serve", "[--addr 127.0.0.1:8080] [flags]")
	h.register(fs)
	addr := fs.String("addr", "", "listen address (default: listen in anchor.yaml, 127.0.0.1:8080)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	h.listen = *addr

	// The embedded default: the first run creates the hierarchy.
	in, err := h.open(ctx, a, true)
	if err != nil {
		return err
	}
	defer in.Close()
	pub, err := in.publication()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", in.cfg.Listen)
	if err != nil {
		return err
	}
	a.log.Info("serving", "addr", l.Addr().String(), "home", in.dir,
		"base_url", in.cfg.PublicBaseURL())
	srv := &server.Server{
		Publication: pub,
		Store:       in.store,
		Log:         a.log,
		Refresh:     in.cfg.CRLRefresh,
	}
	return srv.Serve(ctx, l)
}

// publication wires the home's publication folder to the CA.
func (in *instance) publication() (*ca.Publication, error) {
	folder := filepath.Join(in.dir, publicDir)
	pub, err := dir.New(folder)
	if err != nil {
		return nil, err
	}
	return &ca.Publication{
		CA:         in.ca,
		Publisher:  pub,
		BundleName: in.cfg.BundleName(),
		RootCRL:    in.cfg.Root.CRLLifetime(),
		IssuingCRL: in.cfg.Issuing.CRLLifetime(),
		Lock:       fileLock(filepath.Join(in.dir, "publish.lock")),
	}, nil
}

// publishCACerts writes the CA certificates and bundle for init.
func publishCACerts(ctx context.Context, in *instance, root, issuing *ca.Authority) error {
	in.ca = newCA(in.cfg, in.store, root, issuing, nil)
	p, err := in.publication()
	if err != nil {
		return err
	}
	if err := p.Certificates(ctx); err != nil {
		return fmt.Errorf("publish CA certificates: %w", err)
	}
	return nil
}
