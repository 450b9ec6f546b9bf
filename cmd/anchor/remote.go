package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/client"
)

// remoteFlags switch a command from the local store to the HTTP API of a
// running `anchor serve`.
type remoteFlags struct {
	server string
	token  string
}

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.server, "server", os.Getenv("ANCHOR_SERVER"),
		"use the API of this anchor serve (default $ANCHOR_SERVER) instead of the local home")
	fs.StringVar(&r.token, "token", os.Getenv("ANCHOR_TOKEN"), "API token (default $ANCHOR_TOKEN)")
}

// client returns the API client, or nil for local mode.
func (r *remoteFlags) client() (*client.Client, error) {
	if r.server == "" {
		return nil, nil
	}
	if r.token == "" {
		return nil, errors.New("--server needs --token (or $ANCHOR_TOKEN)")
	}
	return client.New(r.server, r.token), nil
}

// remoteError prints a refusal as {"error": ...} for issue, like the local path.
func remoteRejection(a *app, err error) error {
	var rej *client.RejectionError
	if errors.As(err, &rej) {
		return writeRejection(a, rej.Message)
	}
	return err
}

// remoteIssue sends a request JSON, with the CSR filled in, to the API.
func remoteIssue(ctx context.Context, a *app, c *client.Client, body, csr []byte) error {
	if csr != nil {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return writeRejection(a, "request is not a JSON object: "+err.Error())
		}
		m["base64_csr_data"] = base64.StdEncoding.EncodeToString(csr)
		var err error
		if body, err = json.Marshal(m); err != nil {
			return err
		}
	}
	resp, err := c.Issue(ctx, body)
	if err != nil {
		return remoteRejection(a, err)
	}
	return writeJSON(a.stdout, resp)
}

func remoteRevoke(ctx context.Context, a *app, c *client.Client, serial, reason string) error {
	rev, err := c.Revoke(ctx, serial, reason)
	if err != nil {
		return err
	}
	if !rev.Changed {
		fmt.Fprintf(a.stdout, "%s (%s) was already revoked; nothing changed\n",
			rev.Serial, rev.CommonName)
		return nil
	}
	fmt.Fprintf(a.stdout, "revoked %s (%s), reason %s\n", rev.Serial, rev.CommonName, rev.Reason)
	return nil
}

func remoteList(ctx context.Context, a *app, c *client.Client, o client.ListOptions, asJSON bool) error {
	var all []api.Certificate
	for {
		page, err := c.List(ctx, o)
		if err != nil {
			return err
		}
		all = append(all, page.Certificates...)
		if page.NextCursor == "" || (o.Limit > 0 && len(all) >= o.Limit) {
			break
		}
		o.Cursor = page.NextCursor
	}
	if asJSON {
		return writeJSON(a.stdout, all)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tCOMMON NAME\tNOT AFTER\tSTATUS\tSOURCE")
	for _, cert := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cert.Serial, cert.CommonName,
			cert.NotAfter.UTC().Format(ca.TimeLayout), cert.Status, cert.Source)
	}
	return tw.Flush()
}

func remoteShow(ctx context.Context, a *app, c *client.Client, serial string, asPEM bool) error {
	cert, err := c.Get(ctx, serial)
	if err != nil {
		return err
	}
	if asPEM {
		_, err := fmt.Fprint(a.stdout, cert.PEM)
		return err
	}
	return writeJSON(a.stdout, cert)
}

func remoteApply(ctx context.Context, a *app, c *client.Client, dir string, dryRun bool) error {
	body, err := client.FolderBody(dir)
	if err != nil {
		return err
	}
	res, err := c.Apply(ctx, body, dryRun)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, s := range res.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Action, s.Where, s.CommonName, s.Serial, s.Detail)
	}
	tw.Flush()
	verb := "applied"
	if res.DryRun {
		verb = "plan"
	}
	fmt.Fprintf(a.stdout, "%s: %d change(s)\n", verb, res.Changes)
	if res.Error != "" {
		return errors.New(res.Error)
	}
	return nil
}
