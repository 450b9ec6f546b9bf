// Command anchor is a private certificate authority for machine identity.
//
// Run `anchor help` for the commands. Every command works on a home folder
// (--home, else $ANCHOR_HOME, else ~/.anchor) that holds anchor.yaml, the CA
// keys, the SQLite store and the published objects.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/anchorpki/anchor/anywhere"
)

// command is one subcommand of anchor.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"serve", "run the CA: publication, API, CRL refresh (initialises on first run)", runServe},
		{"init", "create the root and issuing CA (idempotent)", runInit},
		{"request", "make a key and CSR locally, get it issued, write the files", runRequest},
		{"issue", "issue a certificate from a request JSON (serverless CA format)", runIssue},
		{"revoke", "revoke a certificate by serial number", runRevoke},
		{"apply", "reconcile a GitOps folder (tls.json, revoked.json, csrs/)", runApply},
		{"list", "list certificates", runList},
		{"show", "show one certificate", runShow},
		{"ca", "print CA certificates as PEM", runCA},
		{"crl", "publish or show CRLs (crl publish | crl show [--root])", runCRL},
		{"token", "API tokens (token create | list | revoke)", runToken},
		{"audit", "show the audit trail", runAudit},
		{"bench", "load-test a running anchor serve (bench issue)", runBench},
		{"anywhere", "the Roles Anywhere-compatible relying party (anywhere serve | keys create)",
			runAnywhere},
		{"version", "print the version", runVersion},
	}
}

// version is set by the linker for releases.
var version = "dev"

// app carries what every command shares: the output streams and the logger.
type app struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

// exitError carries an exit status for a failure that was already reported.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{
		stdout: stdout,
		stderr: stderr,
		log:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})),
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, a, args[1:])
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ee):
			return ee.code
		}
		fmt.Fprintf(stderr, "anchor %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "anchor: unknown command %q; run 'anchor help'\n", args[0])
	return 2
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("ANCHOR_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "anchor: a private certificate authority for machine identity")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: anchor <command> [flags]")
	fmt.Fprintln(w)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'anchor <command> -h' for a command's flags.")
}

// runAnywhere hands over to package anywhere, which runs as its own process
// and depends on the CA only through certificates and published CRLs.
func runAnywhere(ctx context.Context, a *app, args []string) error {
	if code := anywhere.Main(ctx, args, a.stdout, a.stderr); code != 0 {
		return exitError{code: code}
	}
	return nil
}

func runVersion(_ context.Context, a *app, _ []string) error {
	fmt.Fprintln(a.stdout, "anchor", version)
	return nil
}

// newFlags makes a flag set for a command that prints its usage to stderr and
// returns errors instead of exiting.
func newFlags(a *app, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("anchor "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: anchor %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseFlags parses args and refuses positional arguments beyond want.
func parseFlags(fs *flag.FlagSet, args []string, want int) error {
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return err
	}
	if fs.NArg() > want {
		return fmt.Errorf("unexpected argument %q", fs.Arg(want))
	}
	return nil
}

// interleave moves positional arguments after the flags, so that
// `anchor revoke SERIAL --reason keyCompromise` works as people type it.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			pos = append(pos, arg)
			continue
		}
		flags = append(flags, arg)
		name := strings.TrimLeft(arg, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}
