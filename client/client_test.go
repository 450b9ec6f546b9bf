package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/anchorpki/anchor/api/apitest"
	"github.com/anchorpki/anchor/client"
	"github.com/anchorpki/anchor/store"
)

func TestClient(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	issuer := client.New(e.URL, e.Tokens[store.RoleIssuer])
	admin := client.New(e.URL, e.Tokens[store.RoleAdmin])

	csr := apitest.CSR(t, apitest.Key(t), "cl.example.com")
	req := []byte(`{"common_name":"cl.example.com","lifetime":5,"base64_csr_data":"` +
		base64.StdEncoding.EncodeToString(csr) + `"}`)
	resp, err := issuer.Issue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.CertificateInfo == nil || resp.CertificateInfo.CommonName != "cl.example.com" ||
		resp.Base64Certificate == "" || resp.Base64CaChain == "" {
		t.Fatalf("response %+v", resp)
	}
	serial := resp.CertificateInfo.SerialNumber

	// Refusals carry the server's message exactly.
	_, err = issuer.Issue(ctx, req)
	var rej *client.RejectionError
	if !errors.As(err, &rej) || rej.Status != 422 ||
		rej.Message != "Private key has already been used for a certificate" ||
		err.Error() != rej.Message || rej.RequestID == "" {
		t.Fatalf("reuse: %#v", err)
	}
	_, err = client.New(e.URL, e.Tokens[store.RoleReader]).Issue(ctx, req)
	if !errors.As(err, &rej) || rej.Status != 403 {
		t.Fatalf("reader: %v", err)
	}
	_, err = client.New(e.URL, "").CA(ctx)
	if !errors.As(err, &rej) || rej.Status != 401 {
		t.Fatalf("no token: %v", err)
	}

	got, err := issuer.Get(ctx, serial)
	if err != nil || got.CommonName != "cl.example.com" || got.PEM == "" {
		t.Fatalf("get: %v %+v", err, got)
	}
	page, err := issuer.List(ctx, client.ListOptions{CommonName: "cl.example.com", Limit: 10})
	if err != nil || len(page.Certificates) != 1 || page.Certificates[0].Serial != serial {
		t.Fatalf("list: %v %+v", err, page)
	}
	info, err := issuer.CA(ctx)
	if err != nil || info.Root.PEM != string(e.CA.Root.PEM()) {
		t.Fatalf("ca: %v", err)
	}

	if _, err := issuer.Revoke(ctx, serial, "keyCompromise"); !errors.As(err, &rej) ||
		rej.Status != 403 {
		t.Fatalf("issuer revoke: %v", err)
	}
	rev, err := admin.Revoke(ctx, serial, "keyCompromise")
	if err != nil || !rev.Changed || rev.Reason != "keyCompromise" {
		t.Fatalf("revoke: %v %+v", err, rev)
	}
	if _, err := admin.Revoke(ctx, "424242", ""); !errors.As(err, &rej) || rej.Status != 404 ||
		rej.Message != "certificate 424242 not found" {
		t.Fatalf("unknown: %v", err)
	}
	page, err = issuer.List(ctx, client.ListOptions{Status: "revoked"})
	if err != nil || len(page.Certificates) != 1 {
		t.Fatalf("list revoked: %v %+v", err, page)
	}
	crls, err := admin.PublishCRLs(ctx)
	if err != nil || len(crls.CRLs) != 2 || crls.CRLs[1].Entries != 1 {
		t.Fatalf("crl: %v %+v", err, crls)
	}
	trail, err := admin.Audit(ctx, rev.RevokedAt.Add(-60e9), 100)
	if err != nil || len(trail.Records) == 0 {
		t.Fatalf("audit: %v", err)
	}
}

func TestClientApplyFolder(t *testing.T) {
	e := apitest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tls.json", `[{"common_name":"g1.example.com","csr_file":"g1.csr"},
		{"common_name":"g2.example.com","csr_file":"team/g2.csr","lifetime":3}]`)
	write("csrs/g1.csr", string(apitest.CSR(t, apitest.Key(t), "g1.example.com")))
	write("csrs/team/g2.csr", string(apitest.CSR(t, apitest.Key(t), "g2.example.com")))

	body, err := client.FolderBody(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(body.CSRs) != 2 || body.CSRs["team/g2.csr"] == "" || body.Revoked != nil {
		t.Fatalf("body: %+v", body)
	}
	admin := client.New(e.URL, e.Tokens[store.RoleAdmin])
	plan, err := admin.Apply(ctx, body, true)
	if err != nil || plan.Changes != 2 || !plan.DryRun {
		t.Fatalf("dry run: %v %+v", err, plan)
	}
	res, err := admin.Apply(ctx, body, false)
	if err != nil || res.Changes != 2 || !res.Steps[0].Done || !res.Steps[1].Done {
		t.Fatalf("apply: %v %+v", err, res)
	}
	again, err := admin.Apply(ctx, body, false)
	if err != nil || again.Changes != 0 || again.Steps[0].Action != "already issued" {
		t.Fatalf("again: %v %+v", err, again)
	}

	write("revoked.json", `[{"common_name":"g1.example.com","serial_number":"`+
		res.Steps[0].Serial+`","reason":"superseded"}]`)
	write("tls.json", `not json`)
	if _, err := client.FolderBody(dir); err == nil {
		t.Fatal("FolderBody accepted a tls.json that is not JSON")
	}
	if _, err := client.FolderBody(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("FolderBody accepted a missing folder")
	}
}
