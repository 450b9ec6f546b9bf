package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anchorpki/anchor/api"
	"github.com/anchorpki/anchor/bench"
	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/store"
)

func runToken(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: create, list or revoke")
	}
	var h homeFlags
	var r remoteFlags
	var allowCN, allowSAN multiFlag
	fs := newFlags(a, "token "+args[0], "[flags]")
	h.register(fs)
	r.register(fs)
	name := fs.String("name", "", "token name (create)")
	role := fs.String("role", "", "reader, issuer, revoker or admin (create)")
	fs.Var(&allowCN, "allow-cn", "glob an issuer token's common names must match (repeatable)")
	fs.Var(&allowSAN, "allow-san", "glob an issuer token's SANs must match (repeatable)")
	maxLifetime := fs.Int("max-lifetime", 0, "longest lifetime in days an issuer token may ask for")
	asJSON := fs.Bool("json", false, "print JSON")
	want := 0
	if args[0] == "revoke" {
		want = 1
	}
	if err := parseFlags(fs, args[1:], want); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var in *instance
	if c == nil {
		if in, err = h.openStore(); err != nil {
			return err
		}
		defer in.Close()
	}

	switch args[0] {
	case "create":
		if *name == "" || *role == "" {
			return errors.New("--name and --role are required")
		}
		var secret string
		var info api.TokenInfo
		if c != nil {
			nt, err := c.CreateToken(ctx, api.TokenRequest{Name: *name, Role: *role,
				AllowCN: allowCN, AllowSAN: allowSAN, MaxLifetimeDays: *maxLifetime})
			if err != nil {
				return err
			}
			secret, info = nt.Token, nt.Info
		} else {
			s, t, err := api.CreateToken(ctx, in.store, api.TokenSpec{Name: *name,
				Role: store.Role(*role), AllowCN: allowCN, AllowSAN: allowSAN,
				MaxLifetimeDays: *maxLifetime})
			if err != nil {
				return err
			}
			secret, info = s, api.NewTokenInfo(t)
		}
		if *asJSON {
			return writeJSON(a.stdout, api.NewToken{Token: secret, Info: info})
		}
		fmt.Fprintf(a.stdout, "%s\n", secret)
		fmt.Fprintf(a.stderr, "token %q (%s) created; the secret above is shown only once\n",
			info.Name, info.Role)
		return nil
	case "list":
		var infos []api.TokenInfo
		if c != nil {
			if infos, err = c.Tokens(ctx); err != nil {
				return err
			}
		} else {
			ts, err := api.ListTokens(ctx, in.store)
			if err != nil {
				return err
			}
			for _, t := range ts {
				infos = append(infos, api.NewTokenInfo(t))
			}
		}
		if *asJSON {
			return writeJSON(a.stdout, infos)
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tALLOW CN\tALLOW SAN\tMAX DAYS\tCREATED\tREVOKED")
		for _, t := range infos {
			revoked := ""
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.Name, t.Role,
				strings.Join(t.AllowCN, ","), strings.Join(t.AllowSAN, ","), t.MaxLifetimeDays,
				t.CreatedAt.UTC().Format(time.DateTime), revoked)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("want the token's name or id")
		}
		if c != nil {
			err = c.RevokeToken(ctx, fs.Arg(0))
		} else {
			err = api.RevokeToken(ctx, in.store, fs.Arg(0))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "token %s revoked\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("unknown subcommand %q: want create, list or revoke", args[0])
}

func runAudit(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "audit", "[--since 24h|2026-12-01T00:00:00Z] [--json]")
	h.register(fs)
	r.register(fs)
	sinceFlag := fs.String("since", "24h", "a duration back from now, or an RFC 3339 time")
	limit := fs.Int("limit", 1000, "at most this many records")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	since, err := time.Parse(time.RFC3339, *sinceFlag)
	if err != nil {
		d, derr := time.ParseDuration(*sinceFlag)
		if derr != nil {
			return fmt.Errorf("--since %q: want a duration like 24h or an RFC 3339 time",
				*sinceFlag)
		}
		since = time.Now().Add(-d)
	}
	var recs []api.AuditRecord
	c, err := r.client()
	if err != nil {
		return err
	}
	if c != nil {
		list, err := c.Audit(ctx, since, *limit)
		if err != nil {
			return err
		}
		recs = list.Records
	} else {
		in, err := h.openStore()
		if err != nil {
			return err
		}
		defer in.Close()
		rs, err := in.store.Audit(ctx, since, *limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			recs = append(recs, api.AuditRecord{At: r.At, Actor: r.Actor, Action: r.Action,
				Serial: r.Serial, RequestID: r.RequestID, Detail: r.Detail})
		}
	}
	if *asJSON {
		return writeJSON(a.stdout, recs)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tSERIAL\tDETAIL")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.At.UTC().Format(time.DateTime), r.Actor,
			r.Action, r.Serial, r.Detail)
	}
	return tw.Flush()
}

func runBench(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] != "issue" {
		return errors.New("want: anchor bench issue --server URL --token T " +
			"[--concurrency N] [--duration D]")
	}
	var r remoteFlags
	fs := newFlags(a, "bench issue", "--server URL --token T [flags]")
	r.register(fs)
	conc := fs.Int("concurrency", 16, "requests in flight")
	dur := fs.Duration("duration", 10*time.Second, "how long to send requests")
	keyType := fs.String("key-type", string(signer.ECDSAP256), "subscriber key type")
	pool := fs.Int("pool", 0, "CSRs made before the clock starts (default: the bench default)")
	if err := parseFlags(fs, args[1:], 0); err != nil {
		return err
	}
	if r.server == "" || r.token == "" {
		return errors.New("--server and --token are required")
	}
	kt, err := signer.ParseKeyType(*keyType)
	if err != nil {
		return err
	}
	res, err := bench.Issue(ctx, bench.Options{Server: r.server, Token: r.token,
		Concurrency: *conc, Duration: *dur, KeyType: kt, Pool: *pool})
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, res.String())
	if res.FirstError != "" {
		fmt.Fprintln(a.stderr, "first error:", res.FirstError)
	}
	return nil
}
