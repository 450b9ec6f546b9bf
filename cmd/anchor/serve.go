package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/anchorpki/anchor/anywhere"
	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/notify"
	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/server"
	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/store"
)

func runServe(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	fs := newFlags(a, "serve", "[--addr 127.0.0.1:8080] [--tls] [flags]")
	h.register(fs)
	addr := fs.String("addr", "", "listen address (default: listen in anchor.yaml, 127.0.0.1:8080)")
	useTLS := fs.Bool("tls", false, "also serve HTTPS on --tls-addr, with a certificate "+
		"Anchor issues to itself unless --tls-cert and --tls-key are given; plain HTTP "+
		"then serves only CRLs and CA certificates")
	tlsAddr := fs.String("tls-addr", "127.0.0.1:8443", "HTTPS listen address (with --tls)")
	tlsCert := fs.String("tls-cert", "", "server certificate chain (PEM), with --tls")
	tlsKey := fs.String("tls-key", "", "server key (PEM), with --tls")
	replica := fs.String("replica", "", "name of this replica (default: random)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	h.listen = *addr
	if path := os.Getenv("ANCHOR_CPUPROFILE"); path != "" {
		// For measuring: a CPU profile of the whole run, written at shutdown.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	// The embedded default: the first run creates the hierarchy.
	in, err := h.open(ctx, a, true)
	if err != nil {
		return err
	}
	defer in.Close()
	// CRLs are built from an in-memory set of revoked entries, kept current
	// incrementally from the store's revisions, not read back whole each time.
	revoked := ca.NewRevokedCache(in.store)
	if err := revoked.Load(ctx, in.ca.Root.Slug, in.ca.Issuing.Slug); err != nil {
		return fmt.Errorf("load revoked certificates: %w", err)
	}
	in.ca.Store = revoked
	pub, err := in.publication()
	if err != nil {
		return err
	}
	srv := &server.Server{
		Publication:  pub,
		Store:        in.store,
		Log:          a.log,
		Refresh:      in.cfg.CRLRefresh,
		Replica:      *replica,
		LeaseTTL:     in.cfg.LeaseTTL,
		ReminderDays: in.cfg.Notify.ExpiryDays,
	}
	if srv.ReminderDays == nil {
		srv.ReminderDays = notify.DefaultReminderDays
	}

	notifiers, err := notifiersFrom(in.cfg, a)
	if err != nil {
		return err
	}
	srv.Dispatcher = &notify.Dispatcher{Outbox: in.store, Notifiers: notifiers,
		Logger: a.log.With("component", "notify"), BaseDelay: in.cfg.Notify.RetryBaseDelay}
	for name := range notifiers {
		in.ca.Notifiers = append(in.ca.Notifiers, name)
	}
	in.ca.Observer = wakingObserver{logObserver{a.log}, srv.Dispatcher}

	roles := map[string]store.Role{}
	for cn, r := range in.cfg.MTLSRoles {
		roles[cn] = store.Role(r)
	}
	rest, err := api.New(api.Config{CA: in.ca, Service: in.store, MTLSRoles: roles,
		PublishCRLs: srv.PublishCRLs, Publication: pub, Log: a.log})
	if err != nil {
		return err
	}
	srv.API = rest

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

	l, err := net.Listen("tcp", in.cfg.Listen)
	if err != nil {
		return err
	}
	if *useTLS {
		cert, err := serverCertificate(ctx, in, *tlsAddr, *tlsCert, *tlsKey)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{cert},
			// Client certificates are verified by the API against the CA
			// and the store, so that revocation applies at once.
			ClientAuth: tls.RequestClientCert,
			MinVersion: tls.VersionTLS12,
		}
		if srv.TLSListener, err = net.Listen("tcp", *tlsAddr); err != nil {
			return err
		}
		a.log.Info("serving HTTPS", "addr", srv.TLSListener.Addr().String())
	}
	a.log.Info("serving", "addr", l.Addr().String(), "home", in.dir,
		"base_url", in.cfg.PublicBaseURL(), "notifiers", len(notifiers))
	return srv.Serve(ctx, l)
}

// notifiersFrom builds the configured notifiers; the log notifier is always
// there, so events are never silently dropped.
func notifiersFrom(cfg *config.Config, a *app) (map[string]notify.Notifier, error) {
	out := map[string]notify.Notifier{"log": &notify.Log{Logger: a.log.With("component", "events")}}
	for _, w := range cfg.Notify.Webhooks {
		var secret []byte
		if w.SecretFile != "" {
			b, err := os.ReadFile(w.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("notify webhook %s: %w", w.Name, err)
			}
			secret = []byte(strings.TrimSpace(string(b)))
		}
		out[w.Name] = &notify.Webhook{URL: w.URL, Secret: string(secret)}
	}
	for _, s := range cfg.Notify.Slack {
		b, err := os.ReadFile(s.WebhookURLFile)
		if err != nil {
			return nil, fmt.Errorf("notify slack %s: %w", s.Name, err)
		}
		out[s.Name] = &notify.Slack{WebhookURL: strings.TrimSpace(string(b))}
	}
	return out, nil
}

// wakingObserver logs outcomes and wakes the dispatcher, so that the events
// the CA just recorded go out at once.
type wakingObserver struct {
	logObserver
	d *notify.Dispatcher
}

func (o wakingObserver) Issued(ctx context.Context, c *store.Certificate, subject string) {
	o.logObserver.Issued(ctx, c, subject)
	o.d.Wake()
}

func (o wakingObserver) Revoked(ctx context.Context, c *store.Certificate) {
	o.logObserver.Revoked(ctx, c)
	o.d.Wake()
}

// publication wires the configured publisher to the CA.
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

func (o wakingObserver) Rejected(ctx context.Context, req *profile.Request, reason string) {
	o.logObserver.Rejected(ctx, req, reason)
	o.d.Wake()
}

// serverCertificate loads the HTTPS certificate from files, or issues one from
// the CA to this server for the host of addr (30 days, made at every start, so
// it never expires under a running server for long).
func serverCertificate(ctx context.Context, in *instance, addr, certFile, keyFile string) (
	tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := signer.ECDSAP256.Generate(nil)
	if err != nil {
		return tls.Certificate{}, err
	}
	cn := host
	if ip := net.ParseIP(host); ip != nil {
		cn = "anchor-server"
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	req := &profile.Request{
		CommonName: cn, Lifetime: 30, Purposes: []string{"server_auth"},
		SANs: []profile.SAN{guessSAN(host), {Type: "DNS_NAME", Value: "localhost"}},
		Base64CSRData: base64.StdEncoding.EncodeToString(
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})),
	}
	issued, err := in.ca.Issue(ctx, req, store.SourceCLI)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue the server's own certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{issued.Certificate.DER, in.ca.Issuing.Cert.Raw},
		PrivateKey:  key,
	}, nil
}
