package anywhere

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

const usage = `usage:
  anchor anywhere serve --addr ADDR --data DIR [--config FILE]
  anchor anywhere keys create --data DIR [--json]
`

// Main implements the "anchor anywhere" commands; args are the arguments
// after "anywhere". It returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return mainServe(ctx, args[1:], stdout, stderr)
	case "keys":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return mainKeysCreate(ctx, args[2:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "anchor anywhere: unknown command %q\n%s", args[0], usage)
	return 2
}

func mainServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("anywhere serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	data := fs.String("data", "", "data folder (anywhere.db, server.secret)")
	cfgFile := fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" {
		fmt.Fprintln(stderr, "anchor anywhere serve: --data is required")
		return 2
	}
	var cfg Config
	if *cfgFile != "" {
		var err error
		if cfg, err = LoadConfig(*cfgFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	cfg.DataDir = *data
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := NewServer(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "anchor anywhere serve:", err)
		return 1
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "anchor anywhere: listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		return 0
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return 0
		}
		fmt.Fprintln(stderr, "anchor anywhere serve:", err)
		return 1
	}
}

func mainKeysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("anywhere keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data folder (anywhere.db, server.secret)")
	asJSON := fs.Bool("json", false, "print the key as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" {
		fmt.Fprintln(stderr, "anchor anywhere keys create: --data is required")
		return 2
	}
	k, err := CreateAdminKey(ctx, *data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(k)
		return 0
	}
	fmt.Fprintf(stdout, "AccessKeyId:     %s\nSecretAccessKey: %s\n"+
		"The secret is shown only once.\n", k.AccessKeyID, k.SecretAccessKey)
	return 0
}

// CreateAdminKey makes an admin access key in the data folder dir without a
// running server (a running server finds it on first use). The secret is
// returned once and stored only sealed.
func CreateAdminKey(ctx context.Context, dir string) (AccessKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return AccessKey{}, fmt.Errorf("anywhere: create data folder: %w", err)
	}
	secret, err := loadServerSecret(dir)
	if err != nil {
		return AccessKey{}, err
	}
	sl, err := newSealer(secret)
	if err != nil {
		return AccessKey{}, err
	}
	st, err := OpenSQLite(dir)
	if err != nil {
		return AccessKey{}, err
	}
	defer st.Close()
	return createAdminKey(ctx, st, sl, time.Now())
}
