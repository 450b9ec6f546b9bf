package crl

import (
	"math/big"
	"reflect"
	"sort"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// lintCRL runs every registered zlint lint for revocation lists on der. It
// returns the names of the lints that reported a notice or worse, by status,
// after checking that the lints for the fields Anchor writes ran and passed.
func lintCRL(t *testing.T, der []byte, entries bool) map[lint.LintStatus][]string {
	t.Helper()
	rl, err := zx509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("zcrypto ParseRevocationList: %v", err)
	}
	res := zlint.LintRevocationList(rl)

	mustPass := []string{
		"e_crl_missing_crl_number",
		"e_crl_has_authority_key_identifier",
		"e_crl_number_out_of_range",
		"e_crl_next_update_invalid",
		"e_crl_empty_revoked_certificates",
	}
	if entries {
		mustPass = append(mustPass,
			"e_crl_revocation_time_after_this_update",
			"e_crl_unique_revoked_certificate",
		)
	}
	for _, name := range mustPass {
		if r := res.Results[name]; r == nil || r.Status != lint.Pass {
			t.Errorf("lint %s: %v, want pass", name, r)
		}
	}

	found := map[lint.LintStatus][]string{}
	for name, r := range res.Results {
		if r.Status >= lint.Notice {
			found[r.Status] = append(found[r.Status], name)
			t.Logf("%s: %s: %s", name, r.Status, r.Details)
		}
	}
	for _, names := range found {
		sort.Strings(names)
	}
	return found
}

// TestZlint lints CRLs with and without entries. Anchor's CRLs draw no
// notice, warning, error or fatal from zlint, with one exception that is a
// policy choice: the CA/Browser Forum Baseline Requirements (7.2.2) allow
// only the reasons keyCompromise, affiliationChanged, superseded,
// cessationOfOperation and privilegeWithdrawn for publicly trusted TLS
// certificates, so e_cab_crl_has_valid_reason_code flags cACompromise,
// certificateHold and aACompromise. RFC 5280 defines them and Anchor, a
// private CA, accepts them; a CA that follows the BRs restricts the reasons
// its operators may give.
func TestZlint(t *testing.T) {
	iss, key := testIssuer(t, p256)
	p := testParams(iss, key)
	brReasons := []int{ReasonUnspecified, ReasonKeyCompromise, ReasonAffiliationChanged,
		ReasonSuperseded, ReasonCessationOfOperation, ReasonPrivilegeWithdrawn}
	var br, rfcOnly []Entry
	for i, e := range testEntries(300, p.ThisUpdate) {
		e.Reason = brReasons[i%len(brReasons)]
		br = append(br, e)
	}
	for i, r := range []int{ReasonCACompromise, ReasonCertificateHold, ReasonAACompromise} {
		rfcOnly = append(rfcOnly, Entry{Serial: big.NewInt(int64(100 + i)),
			RevokedAt: p.ThisUpdate, Reason: r})
	}

	cases := []struct {
		name    string
		number  *big.Int
		entries []Entry
		want    map[lint.LintStatus][]string
	}{
		{"no entries", big.NewInt(1), nil, map[lint.LintStatus][]string{}},
		{"BR reasons", big.NewInt(531), br, map[lint.LintStatus][]string{}},
		{"edge serials", new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1)),
			specialEntries(p.ThisUpdate),
			map[lint.LintStatus][]string{}},
		{"RFC-only reasons", big.NewInt(2), rfcOnly, map[lint.LintStatus][]string{
			lint.Error: {"e_cab_crl_has_valid_reason_code"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := p
			p.Number = c.number
			der, err := Build(p, c.entries)
			if err != nil {
				t.Fatal(err)
			}
			if got := lintCRL(t, der, len(c.entries) > 0); !reflect.DeepEqual(got, c.want) {
				t.Errorf("zlint findings %v, want %v", got, c.want)
			}
		})
	}
}
