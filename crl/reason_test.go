package crl

import (
	"strings"
	"testing"
)

func TestParseReason(t *testing.T) {
	good := map[string]int{
		"unspecified": 0, "keyCompromise": 1, "KEYCOMPROMISE": 1, "cACompromise": 2,
		"caCompromise": 2, "affiliationChanged": 3, "superseded": 4,
		"cessationOfOperation": 5, "certificateHold": 6, "privilegeWithdrawn": 9,
		"aACompromise": 10,
	}
	for s, want := range good {
		got, err := ParseReason(s)
		if err != nil || got != want {
			t.Errorf("ParseReason(%q) = %d, %v; want %d", s, got, err, want)
		}
		if err == nil && !strings.EqualFold(ReasonName(got), s) {
			t.Errorf("ReasonName(%d) = %q, want %q", got, ReasonName(got), s)
		}
	}
	for _, s := range []string{"", "removeFromCRL", "key compromise", "1", "reason(7)"} {
		if _, err := ParseReason(s); err == nil ||
			!strings.Contains(err.Error(), "want one of unspecified, keyCompromise,") {
			t.Errorf("ParseReason(%q) error %v, want a list of the reasons", s, err)
		}
	}
	for r, want := range map[int]string{7: "reason(7)", -1: "reason(-1)", 11: "reason(11)",
		8: "removeFromCRL"} {
		if got := ReasonName(r); got != want {
			t.Errorf("ReasonName(%d) = %q, want %q", r, got, want)
		}
	}
}
