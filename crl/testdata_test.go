package crl

import (
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

// readTestdataCRL reads the serverless CA's CRL through DecodePEM.
func readTestdataCRL(t *testing.T) *x509.RevocationList {
	t.Helper()
	data, err := os.ReadFile(testdataCRL)
	if err != nil {
		t.Fatalf("reading the serverless CA's CRL: %v", err)
	}
	der, err := DecodePEM(data)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	return rl
}

// TestServerlessCRL checks the facts the testdata README lists.
func TestServerlessCRL(t *testing.T) {
	rl := readTestdataCRL(t)
	if got := shape(tbsChildren(t, rl.Raw)); got !=
		"INTEGER SEQUENCE SEQUENCE UTCTime UTCTime SEQUENCE [0]" {
		t.Errorf("shape = %s", got)
	}
	if v := tbsChildren(t, rl.Raw)[0].FullBytes; string(v) != "\x02\x01\x01" {
		t.Errorf("version = %x, want v2", v)
	}
	if rl.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm = %v", rl.SignatureAlgorithm)
	}
	want := "CN=Cloud Issuing CA,OU=Security Operations,O=Cloud CA,L=London,C=GB"
	if got := rl.Issuer.String(); got != want {
		t.Errorf("issuer = %q, want %q", got, want)
	}
	if string(rl.RawIssuer) != string(serverlessIssuer) {
		t.Errorf("raw issuer = %x", rl.RawIssuer)
	}
	this := time.Date(2025, 6, 1, 10, 24, 36, 0, time.UTC)
	if !rl.ThisUpdate.Equal(this) {
		t.Errorf("thisUpdate = %v", rl.ThisUpdate)
	}
	if got := rl.NextUpdate.Sub(rl.ThisUpdate); got != 24*time.Hour+600*time.Second {
		t.Errorf("nextUpdate - thisUpdate = %v, want 24h10m", got)
	}
	if got := strings.ToUpper(hex.EncodeToString(rl.AuthorityKeyId)); got !=
		"603DCE888A1C82BF108AA640769FDD381AE51E87" {
		t.Errorf("AKI = %s", got)
	}
	if rl.Number.Cmp(big.NewInt(531)) != 0 {
		t.Errorf("number = %v, want 531", rl.Number)
	}

	wantEntries := []struct {
		serial string
		at     time.Time
	}{
		{"462B222A8B9773A090F3778F29B5D5BB9DEF983B", time.Date(2024, 2, 22, 20, 16, 26, 0,
			time.UTC)},
		{"22B7471277A9529135B0E147CB940263B637C135", time.Date(2025, 6, 1, 10, 24, 35, 0,
			time.UTC)},
	}
	if len(rl.RevokedCertificateEntries) != len(wantEntries) {
		t.Fatalf("%d entries, want 2", len(rl.RevokedCertificateEntries))
	}
	for i, w := range wantEntries {
		e := rl.RevokedCertificateEntries[i]
		if got := strings.ToUpper(e.SerialNumber.Text(16)); got != w.serial {
			t.Errorf("entry %d: serial %s, want %s", i, got, w.serial)
		}
		if !e.RevocationTime.Equal(w.at) {
			t.Errorf("entry %d: revoked %v, want %v", i, e.RevocationTime, w.at)
		}
		if e.ReasonCode != 0 || len(e.Extensions) != 0 {
			t.Errorf("entry %d: reason %d, %d extensions; want none", i, e.ReasonCode,
				len(e.Extensions))
		}
	}
}
