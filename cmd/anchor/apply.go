package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/gitops"
)

func runApply(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "apply", "DIR [--dry-run] [--out OUT]")
	h.register(fs)
	r.register(fs)
	dryRun := fs.Bool("dry-run", false, "print the plan without changing anything")
	out := fs.String("out", "", "write each issued certificate as OUT/<common_name>.pem")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("want the folder to apply, e.g. certs/dev")
	}
	if c, err := r.client(); err != nil || c != nil {
		if err != nil {
			return err
		}
		return remoteApply(ctx, a, c, fs.Arg(0), *dryRun)
	}
	folder, err := gitops.Load(fs.Arg(0))
	if err != nil {
		return err
	}

	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	plan, err := gitops.NewPlan(ctx, folder, in.ca, *dryRun)
	if err != nil {
		return err
	}
	if *dryRun {
		printPlan(a, plan, "plan")
		return nil
	}
	applyErr := plan.Apply(ctx, in.ca)
	printPlan(a, plan, "applied")
	if *out != "" {
		if err := writeIssued(*out, plan); err != nil {
			return err
		}
	}
	return applyErr
}

func printPlan(a *app, p *gitops.Plan, verb string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	counts := map[gitops.Action]int{}
	for _, s := range p.Steps {
		action := string(s.Action)
		if verb == "applied" && !s.Done && (s.Action == gitops.ActionIssue ||
			s.Action == gitops.ActionRevoke) {
			action = "not done: " + action
		}
		counts[s.Action]++
		serial := ""
		if s.Serial != nil {
			serial = s.Serial.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", action, s.Where, s.CommonName, serial, s.Detail)
		if s.Action == gitops.ActionSkip {
			a.log.Warn("revocation entry skipped", "entry", s.Where, "cn", s.CommonName,
				"why", s.Detail)
		}
	}
	tw.Flush()
	if p.Changes() == 0 {
		fmt.Fprintf(a.stdout, "%s: nothing to change (%d already issued, %d already revoked, "+
			"%d skipped)\n", verb, counts[gitops.ActionAlreadyIssued],
			counts[gitops.ActionAlreadyRevoked], counts[gitops.ActionSkip])
		return
	}
	fmt.Fprintf(a.stdout, "%s: %d issue, %d revoke, %d already issued, %d already revoked, "+
		"%d skipped\n", verb, counts[gitops.ActionIssue], counts[gitops.ActionRevoke],
		counts[gitops.ActionAlreadyIssued], counts[gitops.ActionAlreadyRevoked],
		counts[gitops.ActionSkip])
}

// writeIssued writes OUT/<common_name>.pem for every certificate issued.
func writeIssued(out string, p *gitops.Plan) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, s := range p.Steps {
		if s.Certificate == nil {
			continue
		}
		name := strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(s.CommonName)
		path := filepath.Join(out, name+".pem")
		if err := os.WriteFile(path, ca.PEMCertificate(s.Certificate.DER), 0o644); err != nil {
			return err
		}
	}
	return nil
}
