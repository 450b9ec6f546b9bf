package notify

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// TimeLayout is how times appear inside event messages ("Issued", "Expires",
// "Revoked"): UTC, to the second, as in the certificate response of the
// serverless CA.
const TimeLayout = "2006-01-02 15:04:05"

// CertificateInfo summarises a certificate, under the key "CertificateInfo".
type CertificateInfo struct {
	CommonName   string
	SerialNumber string // decimal
	Issued       string // notBefore, TimeLayout
	Expires      string // notAfter, TimeLayout
}

// IssuedMessage is the message of a "Certificate Issued" event.
type IssuedMessage struct {
	CertificateInfo   CertificateInfo
	Base64Certificate string // base64 of the PEM certificate
	Subject           string // RFC 4514
}

// ExpiryMessage is the message of a "Certificate Expiry Warning" or
// "Certificate Expired" event. DaysRemaining is 0 for an expired certificate.
type ExpiryMessage struct {
	CertificateInfo   CertificateInfo
	Base64Certificate string
	Subject           string
	DaysRemaining     int
}

// SAN is one subject alternative name as the request gave it, e.g.
// {"type": "DNS_NAME", "value": "host.example.com"}. The lower-case keys are the
// serverless CA's.
type SAN struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// CSRInfo summarises a rejected request, under the key "CSRInfo".
type CSRInfo struct {
	CommonName string
	Lifetime   int // days, as requested
	Purposes   []string
	SANs       []SAN
}

// RejectedMessage is the message of a "Certificate Request Rejected" event.
type RejectedMessage struct {
	CSRInfo   CSRInfo
	Base64CSR string // base64 of the CSR as received (PEM)
	Subject   string // RFC 4514 subject of the CSR; empty if it did not parse
	Reason    string // the error returned to the requester
}

// RevokedMessage is the message of a "Certificate Revoked" event.
type RevokedMessage struct {
	CommonName   string
	SerialNumber string // decimal
	Revoked      string // revocation time, TimeLayout
	Subject      string // RFC 4514
}

var errNoCertificate = errors.New("notify: certificate is missing")

// NewIssued builds the "Certificate Issued" event for cert.
func NewIssued(cert *x509.Certificate, at time.Time) (Event, error) {
	if cert == nil {
		return Event{}, errNoCertificate
	}
	return newEvent(SubjectIssued, at, IssuedMessage{
		CertificateInfo:   infoOf(cert),
		Base64Certificate: base64PEM("CERTIFICATE", cert.Raw),
		Subject:           subjectOf(cert.RawSubject),
	})
}

// NewExpiryWarning builds the "Certificate Expiry Warning" event for cert, which
// has daysRemaining calendar days left (see Reminders).
func NewExpiryWarning(cert *x509.Certificate, daysRemaining int,
	at time.Time) (Event, error) {
	if cert == nil {
		return Event{}, errNoCertificate
	}
	if daysRemaining < 1 {
		return Event{}, fmt.Errorf("notify: DaysRemaining %d of an expiry warning "+
			"must be at least 1", daysRemaining)
	}
	return newEvent(SubjectExpiryWarning, at, expiryMessage(cert, daysRemaining))
}

// NewExpired builds the "Certificate Expired" event for cert.
func NewExpired(cert *x509.Certificate, at time.Time) (Event, error) {
	if cert == nil {
		return Event{}, errNoCertificate
	}
	return newEvent(SubjectExpired, at, expiryMessage(cert, 0))
}

// NewRevoked builds the "Certificate Revoked" event for cert, revoked at
// revokedAt.
func NewRevoked(cert *x509.Certificate, revokedAt, at time.Time) (Event, error) {
	if cert == nil {
		return Event{}, errNoCertificate
	}
	return newEvent(SubjectRevoked, at, RevokedMessage{
		CommonName:   cert.Subject.CommonName,
		SerialNumber: serialOf(cert),
		Revoked:      revokedAt.UTC().Format(TimeLayout),
		Subject:      subjectOf(cert.RawSubject),
	})
}

// NewRejected builds the "Certificate Request Rejected" event. csrPEM is the CSR
// as the requester sent it, possibly empty or malformed: the rejection may be
// about exactly that. The message's Subject is read from the CSR when it parses
// and is empty otherwise. reason is the error message the requester received.
func NewRejected(info CSRInfo, csrPEM []byte, reason string, at time.Time) (Event, error) {
	// Receivers expect lists, never null.
	if info.Purposes == nil {
		info.Purposes = []string{}
	}
	if info.SANs == nil {
		info.SANs = []SAN{}
	}
	return newEvent(SubjectRejected, at, RejectedMessage{
		CSRInfo:   info,
		Base64CSR: base64.StdEncoding.EncodeToString(csrPEM),
		Subject:   csrSubject(csrPEM),
		Reason:    reason,
	})
}

func newEvent(subject string, at time.Time, msg any) (Event, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return Event{}, fmt.Errorf("notify: encoding %q message: %w", subject, err)
	}
	return Event{ID: rand.Text(), Subject: subject, At: at.UTC(), Body: body}, nil
}

func expiryMessage(cert *x509.Certificate, days int) ExpiryMessage {
	return ExpiryMessage{
		CertificateInfo:   infoOf(cert),
		Base64Certificate: base64PEM("CERTIFICATE", cert.Raw),
		Subject:           subjectOf(cert.RawSubject),
		DaysRemaining:     days,
	}
}

func infoOf(cert *x509.Certificate) CertificateInfo {
	return CertificateInfo{
		CommonName:   cert.Subject.CommonName,
		SerialNumber: serialOf(cert),
		Issued:       cert.NotBefore.UTC().Format(TimeLayout),
		Expires:      cert.NotAfter.UTC().Format(TimeLayout),
	}
}

func serialOf(cert *x509.Certificate) string {
	if cert.SerialNumber == nil {
		return ""
	}
	return cert.SerialNumber.String()
}

func base64PEM(blockType string, der []byte) string {
	p := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	return base64.StdEncoding.EncodeToString(p)
}

// subjectOf renders a DER-encoded Name as RFC 4514, last RDN first, keeping the
// order the certificate has (pkix.Name.String would reorder the attributes).
func subjectOf(raw []byte) string {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil || len(rest) > 0 {
		return ""
	}
	return rdns.String()
}

func csrSubject(csrPEM []byte) string {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return ""
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	return subjectOf(csr.RawSubject)
}
