package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/anchorpki/anchor/anywhere"
	"github.com/anchorpki/anchor/ca"
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
	if in.cfg.Anywhere != nil {
		rpConf := *in.cfg.Anywhere
		rpConf.DataDir = filepath.Join(in.dir, "anywhere")
		rpConf.Logger = a.log.With("component", "anywhere")
		rp, err := anywhere.NewServer(rpConf)
		if err != nil {
			return fmt.Errorf("relying party: %w", err)
		}
		defer rp.Close()
		srv.RelyingParty = rp.Handler()
	}
	for i, p := range in.cfg.Push {
		secret, err := os.ReadFile(p.SecretAccessKeyFile)
		if err != nil {
			return fmt.Errorf("push[%d]: %w", i, err)
		}
		srv.Pushes = append(srv.Pushes, server.Push{
			Name: fmt.Sprintf("%s/%s", p.Endpoint, p.CRLID),
			Pusher: &anywhere.Pusher{
				Endpoint: p.Endpoint, Region: p.Region, CRLID: p.CRLID,
				AccessKeyID: p.AccessKeyID, SecretAccessKey: strings.TrimSpace(string(secret)),
			},
		})
	}
	return srv.Serve(ctx, l)
}

// publication wires the home's publication folder to the CA.
func (in *instance) publication() (*ca.Publication, error) {
	pub, err := openPublisher(context.Background(), in.cfg, in.dir)
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
