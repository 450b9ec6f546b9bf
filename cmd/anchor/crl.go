package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/publish"
	"github.com/anchorpki/anchor/publish/dir"
	"github.com/anchorpki/anchor/publish/s3"
	"github.com/anchorpki/anchor/server"
	"github.com/anchorpki/anchor/store"
)

func runCRL(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: publish or show")
	}
	switch args[0] {
	case "publish":
		return runCRLPublish(ctx, a, args[1:])
	case "show":
		return runCRLShow(ctx, a, args[1:])
	}
	return fmt.Errorf("unknown subcommand %q: want publish or show", args[0])
}

func runCRLPublish(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	fs := newFlags(a, "crl publish", "[flags]")
	h.register(fs)
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	if sharedPublisher(in) {
		release, err := takeCRLLease(ctx, in)
		if err != nil {
			return err
		}
		defer release()
	}
	p, err := in.publication()
	if err != nil {
		return err
	}
	if err := p.Certificates(ctx); err != nil {
		return err
	}
	crls, err := p.CRLs(ctx)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ISSUER\tNUMBER\tENTRIES\tBYTES\tNEXT UPDATE\tFILE")
	for _, c := range crls {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", c.Issuer.Slug, c.Record.Number,
			c.Entries, len(c.DER), c.Record.NextUpdate.UTC().Format(ca.TimeLayout),
			location(in.cfg, p.Publisher, c.Issuer.Slug+".crl"))
	}
	tw.Flush()
	return err
}

// location says where the publisher put the object name: a file, or an S3
// URL.
func location(cfg *config.Config, pub publish.Publisher, name string) string {
	switch pub := pub.(type) {
	case *dir.Publisher:
		if path, err := pub.Path(name); err == nil {
			return path
		}
	case *s3.Publisher:
		return "s3://" + cfg.Publish.S3.Bucket + "/" + pub.Key(name)
	}
	return name
}

func runCRLShow(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	fs := newFlags(a, "crl show", "[--root]")
	h.register(fs)
	root := fs.Bool("root", false, "show the root CA's CRL instead of the issuing CA's")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	issuer := in.ca.Issuing
	if *root {
		issuer = in.ca.Root
	}
	p, err := in.publication()
	if err != nil {
		return err
	}
	obj, err := p.Publisher.Get(ctx, issuer.Slug+".crl")
	if err != nil {
		return fmt.Errorf("no published CRL for %s (run 'anchor crl publish'): %w",
			issuer.Slug, err)
	}
	rl, err := x509.ParseRevocationList(obj.Data)
	if err != nil {
		return fmt.Errorf("published CRL of %s: %w", issuer.Slug, err)
	}
	if err := rl.CheckSignatureFrom(issuer.Cert); err != nil {
		return fmt.Errorf("published CRL of %s does not verify: %w", issuer.Slug, err)
	}
	printCRL(a, rl)
	return nil
}

func printCRL(a *app, rl *x509.RevocationList) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Issuer\t%s\n", rl.Issuer)
	fmt.Fprintf(tw, "Number\t%s\n", rl.Number)
	fmt.Fprintf(tw, "This update\t%s\n", rl.ThisUpdate.UTC().Format(ca.TimeLayout))
	fmt.Fprintf(tw, "Next update\t%s\n", rl.NextUpdate.UTC().Format(ca.TimeLayout))
	fmt.Fprintf(tw, "Entries\t%d\n", len(rl.RevokedCertificateEntries))
	tw.Flush()
	if len(rl.RevokedCertificateEntries) == 0 {
		return
	}
	fmt.Fprintln(a.stdout)
	tw = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tREVOKED\tREASON")
	for _, e := range rl.RevokedCertificateEntries {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.SerialNumber,
			e.RevocationTime.UTC().Format(ca.TimeLayout), store.Reason(e.ReasonCode))
	}
	tw.Flush()
}

// sharedPublisher reports whether other homes may publish to the same place:
// an S3 bucket or a publish.dir outside this home. Replicas order their CRLs
// there by the CRL lease, not by this home's lock file.
func sharedPublisher(in *instance) bool {
	return in.cfg.Publish.Backend == "s3" || in.cfg.Publish.Dir != ""
}

// takeCRLLease waits up to 15 s for the CRL publication lease, which a running
// replica renews for as long as it lives.
func takeCRLLease(ctx context.Context, in *instance) (func(), error) {
	host, _ := os.Hostname()
	holder := fmt.Sprintf("cli-%s-%d", host, os.Getpid())
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := in.store.AcquireLease(ctx, server.CRLLease, holder, time.Minute)
		if err != nil {
			return nil, err
		}
		if ok {
			return func() {
				in.store.ReleaseLease(context.Background(), server.CRLLease, holder)
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("a running anchor serve holds the CRL publication lease " +
				"for the shared publisher; it publishes within a second of every " +
				"revocation, or ask it with POST /v1/crl")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
