package crl

import (
	"errors"
	"fmt"
	"strings"
)

// CRLReason values (RFC 5280 5.3.1). An Entry carries one of them; the
// reasonCode entry extension is written for every value but Unspecified.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	// Value 7 is not used by RFC 5280.
	ReasonRemoveFromCRL      = 8
	ReasonPrivilegeWithdrawn = 9
	ReasonAACompromise       = 10
)

// reasonNames holds the ASN.1 names of RFC 5280 5.3.1, which are also the
// names the command line and revoked.json accept.
var reasonNames = [...]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// ReasonName returns the RFC 5280 name of reason, such as "keyCompromise", or
// "reason(N)" for a value RFC 5280 does not define.
func ReasonName(reason int) string {
	if reason >= 0 && reason < len(reasonNames) && reasonNames[reason] != "" {
		return reasonNames[reason]
	}
	return fmt.Sprintf("reason(%d)", reason)
}

// ParseReason returns the CRLReason named s, matching the RFC 5280 names
// case-insensitively ("keyCompromise", "KeyCompromise" and "keycompromise" are
// the same). It accepts only the reasons a complete CRL may carry (see
// checkReason).
func ParseReason(s string) (int, error) {
	for r, name := range reasonNames {
		if name != "" && strings.EqualFold(s, name) && checkReason(r) == nil {
			return r, nil
		}
	}
	return 0, fmt.Errorf("crl: unknown revocation reason %q (want one of %s)", s,
		strings.Join(reasonList(), ", "))
}

// reasonList returns the names ParseReason accepts.
func reasonList() []string {
	var names []string
	for r, name := range reasonNames {
		if name != "" && checkReason(r) == nil {
			names = append(names, name)
		}
	}
	return names
}

// completeReasons has bit r set for each CRLReason r that checkReason
// accepts, for Add's fast path.
const completeReasons = 1<<ReasonUnspecified | 1<<ReasonKeyCompromise |
	1<<ReasonCACompromise | 1<<ReasonAffiliationChanged | 1<<ReasonSuperseded |
	1<<ReasonCessationOfOperation | 1<<ReasonCertificateHold |
	1<<ReasonPrivilegeWithdrawn | 1<<ReasonAACompromise

// checkReason accepts the CRLReason values of RFC 5280 5.3.1 that belong in a
// complete CRL. Value 7 is unassigned and removeFromCRL (8) is only meaningful
// in a delta CRL, which Anchor does not issue.
func checkReason(reason int) error {
	switch {
	case reason < 0 || reason > ReasonAACompromise || reason == 7:
		return fmt.Errorf("reason %d is not a CRLReason of RFC 5280 5.3.1", reason)
	case reason == ReasonRemoveFromCRL:
		return errors.New("reason removeFromCRL (8) belongs only in delta CRLs")
	}
	return nil
}
