package profile

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/anchorpki/anchor/signer"
)

// KeyHistory tells which common names the certificates issued so far for a
// SubjectPublicKeyInfo carry, looked up by the SHA-256 of its DER, across all
// certificates (revoked and expired ones too). It returns one entry per
// certificate, "" for a certificate without a CN, and nothing when the key was
// never certified. A nil KeyHistory means no certificate was ever issued.
type KeyHistory func(keyHash [32]byte) (commonNames []string, err error)

// Messages of the serverless CA, kept word for word.
const (
	msgAlreadyIssued = "Certificate already issued"
	msgNoCommonName  = "CSR must include a Common Name"
	msgKeyReused     = "Private key has already been used for a certificate"
)

// Evaluate holds a parsed request to the policy and returns the template to
// sign. gitops says the request came from a GitOps folder (its CSR from
// csr_file), which enables "Certificate already issued" and makes null
// notify_* settings true. Callers answer ca_chain_only without Evaluate.
//
// The checks run in this order and the first failure is returned:
//
//  0. The CSR: present, decodable (see DecodeCSR), and its signature verifies
//     (proof of possession). Every later check needs the CSR's key or CN, so
//     these come first.
//  1. "Certificate already issued": GitOps only and not force_issue, when a
//     certificate with this key already carries the CN the request resolves
//     to (common_name, else the CSR's CN). The *Rejection has AlreadyIssued.
//  2. "CSR must include a Common Name": common_name empty and no CN in the CSR.
//  3. "Private key has already been used for a certificate": any certificate
//     has this key, whatever its CN; skipped with force_issue.
//  4. "{lifetime} is too short": lifetime below 1 day.
//  5. The custom extension checks, per extension in list order (see
//     customExtensions for the messages).
//  6. Anchor's own checks: the key policy (signer.CheckPublicKey), the
//     subject attributes in subject order (country exactly two letters,
//     emailAddress ASCII, RFC 5280 length limits, valid UTF-8), then OIDs in
//     extended_key_usages.
//
// A failing check is a *Rejection. An error from hist is returned wrapped and
// is not a rejection: the request was not refused, the store failed.
func Evaluate(req *Request, pol Policy, hist KeyHistory, gitops bool) (*Template, error) {
	if req == nil {
		return nil, reject("request is empty")
	}

	// 0: the CSR and proof of possession.
	csr, err := DecodeCSR(req.Base64CSRData)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, reject("%s: the CSR signature does not verify, so it does not prove "+
			"possession of the private key (%v)", csrField, err)
	}
	keyHash := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	cn := req.CommonName
	if cn == "" {
		cn = csr.Subject.CommonName
	}

	// 1 to 3: the key's history.
	var used []string
	if hist != nil && !req.ForceIssue {
		if used, err = hist(keyHash); err != nil {
			return nil, fmt.Errorf("profile: look up certificates of the CSR's key: %w", err)
		}
	}
	if gitops && cn != "" && containsString(used, cn) {
		return nil, &Rejection{Message: msgAlreadyIssued, AlreadyIssued: true}
	}
	if cn == "" {
		return nil, reject(msgNoCommonName)
	}
	if len(used) > 0 {
		return nil, reject(msgKeyReused)
	}

	// 4 and 5: lifetime and custom extensions.
	if req.Lifetime < 1 {
		return nil, reject("%d is too short", req.Lifetime)
	}
	custom, err := customExtensions(req.Extensions, pol.ExtensionAllowlist)
	if err != nil {
		return nil, err
	}

	// 6: Anchor's checks.
	if err := signer.CheckPublicKey(csr.PublicKey); err != nil {
		return nil, reject("%s: %v", csrField, err)
	}
	rdns, err := buildSubject(req, csr, cn)
	if err != nil {
		return nil, err
	}
	purposes, ekus, droppedEKUs, err := resolveEKUs(req)
	if err != nil {
		return nil, err
	}

	// Build the template.
	t := &Template{
		CSR:                 csr,
		CommonName:          cn,
		KeyHash:             keyHash,
		Purposes:            purposes,
		ExtKeyUsages:        ekus,
		DroppedExtKeyUsages: droppedEKUs,
		NotifyIssued:        resolveNotify(req.NotifyIssued, gitops),
		NotifyExpiry:        resolveNotify(req.NotifyExpiry, gitops),
		CertBundle:          req.CertBundle,
	}
	if t.RawSubject, err = asn1.Marshal(rdns); err != nil {
		return nil, fmt.Errorf("profile: encode subject: %w", err)
	}
	if t.Subject, err = decodeSubject(t.RawSubject); err != nil {
		return nil, err
	}
	t.LifetimeDays = clampLifetime(req.Lifetime, pol.MaxLifetimeDays)
	t.Lifetime = time.Duration(t.LifetimeDays) * 24 * time.Hour
	t.KeyUsage = x509.KeyUsageDigitalSignature
	if _, isRSA := csr.PublicKey.(*rsa.PublicKey); isRSA || pol.LegacyKeyEncipherment {
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}

	if err := t.buildExtensions(req, pol, custom, len(rdns) == 0); err != nil {
		return nil, err
	}
	return t, nil
}

// buildExtensions fills SANs, DroppedSANs and Extensions: EKU, SAN (when
// there is one), certificatePolicies (when configured), then the custom ones.
func (t *Template) buildExtensions(req *Request, pol Policy, custom []pkix.Extension,
	emptySubject bool) error {
	eku, err := ekuExtension(t.ExtKeyUsages)
	if err != nil {
		return err
	}
	t.Extensions = append(t.Extensions, eku)

	var names []asn1.RawValue
	t.SANs, names, t.DroppedSANs = resolveSANs(req.SANs, t.CommonName)
	if len(names) > 0 {
		san, err := sanExtension(names, emptySubject)
		if err != nil {
			return err
		}
		t.Extensions = append(t.Extensions, san)
	}

	if len(pol.PolicyOIDs) > 0 {
		policies, err := policiesExtension(pol.PolicyOIDs)
		if err != nil {
			return err
		}
		t.Extensions = append(t.Extensions, policies)
	}

	t.Extensions = append(t.Extensions, custom...)
	return nil
}

// clampLifetime caps the requested days at the configured maximum.
func clampLifetime(days, maxDays int) int {
	if maxDays <= 0 {
		maxDays = DefaultMaxLifetimeDays
	}
	maxDays = min(maxDays, maxLifetimeDays)
	return min(days, maxDays)
}

// resolveNotify turns a null notify_* setting into the default: notify for
// GitOps certificates, not for the others.
func resolveNotify(v *bool, gitops bool) bool {
	if v == nil {
		return gitops
	}
	return *v
}
