package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/store"
)

func runRevoke(ctx context.Context, a *app, args []string) error {
	var h homeFlags
	var r remoteFlags
	fs := newFlags(a, "revoke", "SERIAL [--reason REASON]")
	h.register(fs)
	r.register(fs)
	reasonName := fs.String("reason", "unspecified", "RFC 5280 reason: unspecified, "+
		"keyCompromise, cACompromise, affiliationChanged, superseded, "+
		"cessationOfOperation, privilegeWithdrawn, aACompromise")
	if err := parseFlags(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("want one serial number")
	}
	serial, err := parseSerial(fs.Arg(0))
	if err != nil {
		return err
	}
	reason, err := store.ParseReason(*reasonName)
	if err != nil {
		return err
	}
	if c, err := r.client(); err != nil || c != nil {
		if err != nil {
			return err
		}
		return remoteRevoke(ctx, a, c, serial.String(), reason.String())
	}

	in, err := h.open(ctx, a, false)
	if err != nil {
		return err
	}
	defer in.Close()
	c, changed, err := in.ca.Revoke(ctx, serial, reason)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no certificate with serial %s", serial)
	}
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(a.stdout, "%s (%s) was already revoked on %s (%s); nothing changed\n",
			c.Serial, c.CommonName, c.RevokedAt.UTC().Format(ca.TimeLayout), c.Reason)
		return nil
	}
	fmt.Fprintf(a.stdout, "revoked %s (%s), reason %s\n", c.Serial, c.CommonName, c.Reason)
	return nil
}
