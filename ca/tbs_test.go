package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// TestTBSMatchesCreateCertificate holds Anchor's certificate encoder to the
// standard library's: for the same fields both give the same TBSCertificate,
// byte for byte.
func TestTBSMatchesCreateCertificate(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	caSKI, _ := SubjectKeyID(caKey.Public())
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA", Country: []string{"GB"}},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, SubjectKeyId: caSKI,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ekuValue, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 2}})
	sanValue, _ := asn1.Marshal([]asn1.RawValue{{Class: 2, Tag: 2, Bytes: []byte("a.example.com")}})
	subject, _ := asn1.Marshal(pkix.Name{CommonName: "a.example.com"}.ToRDNSequence())
	serial, _ := new(big.Int).SetString("5d6a2b1c0fffeeddccbbaa99887766554433221100", 16)

	now := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		pub       crypto.PublicKey
		ku        x509.KeyUsage
		subject   []byte
		notAfter  time.Time
		urls      bool
		extraCrit bool
	}{
		{"ec leaf", ecKey.Public(), x509.KeyUsageDigitalSignature, subject, now.Add(24 * time.Hour), true, false},
		{"rsa leaf", rsaKey.Public(), x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			subject, now.Add(24 * time.Hour), true, false},
		{"no urls, after 2050", ecKey.Public(), x509.KeyUsageDigitalSignature, subject,
			time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC), false, false},
		{"empty subject", ecKey.Public(), x509.KeyUsageDigitalSignature, nil, now.Add(time.Hour), true, true},
		{"decipherOnly", ecKey.Public(), x509.KeyUsageDigitalSignature | x509.KeyUsageDecipherOnly,
			subject, now.Add(time.Hour), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spki, _ := x509.MarshalPKIXPublicKey(tc.pub)
			ski, _ := SubjectKeyID(tc.pub)
			extra := []pkix.Extension{
				{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: ekuValue},
				{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: tc.extraCrit, Value: sanValue},
			}
			mine := &leafTemplate{
				serial: serial, sigAlg: x509.ECDSAWithSHA384, issuer: caCert.RawSubject,
				notBefore: now.Add(-5 * time.Minute), notAfter: tc.notAfter,
				subject: tc.subject, spki: spki, keyUsage: tc.ku, ski: ski,
				aki: caCert.SubjectKeyId, extra: extra,
			}
			std := &x509.Certificate{
				SerialNumber: serial, SignatureAlgorithm: x509.ECDSAWithSHA384,
				RawSubject: tc.subject, NotBefore: mine.notBefore, NotAfter: tc.notAfter,
				KeyUsage: tc.ku, BasicConstraintsValid: true, SubjectKeyId: ski,
				ExtraExtensions: extra,
			}
			if tc.subject == nil {
				std.RawSubject = []byte{0x30, 0}
			}
			if tc.urls {
				mine.crlURL, mine.aiaURL = "http://pki.example.com/x.crl", "http://pki.example.com/x.crt"
				std.CRLDistributionPoints = []string{mine.crlURL}
				std.IssuingCertificateURL = []string{mine.aiaURL}
			}
			want, err := x509.CreateCertificate(rand.Reader, std, caCert, tc.pub, caKey)
			if err != nil {
				t.Fatal(err)
			}
			wantCert, _ := x509.ParseCertificate(want)
			got, err := mine.encodeTBS()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wantCert.RawTBSCertificate) {
				t.Fatalf("TBS differs from crypto/x509's\n got %x\nwant %x", got,
					wantCert.RawTBSCertificate)
			}
			der, err := mine.sign(rand.Reader, caKey)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignatureFrom(caCert); err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
		})
	}
}
