package ca_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

// TestSendReminders walks a certificate through its life on a fake clock:
// a warning on each configured day and only once that day, an expired notice
// after notAfter, none once superseded or revoked.
func TestSendReminders(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.ca.Notifiers = []string{"ops"}
	issuedAt := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	now := issuedAt
	f.ca.Now = func() time.Time { return now }

	yes := true
	issue := func(cn string) *store.Certificate {
		t.Helper()
		req := &profile.Request{CommonName: cn, Lifetime: 40, NotifyExpiry: &yes,
			Base64CSRData: csrPEM(t, p256(t), cn)}
		iss, err := f.ca.Issue(ctx, req, store.SourceAPI)
		if err != nil {
			t.Fatal(err)
		}
		return iss.Certificate
	}
	cert := issue("expiring.example.com")
	notAfter := cert.NotAfter // 2026-02-10 09:00

	send := func(at time.Time) int {
		t.Helper()
		now = at
		n, err := f.ca.SendReminders(ctx, at, []int{30, 15, 7, 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	days := func(d int) time.Time { return notAfter.AddDate(0, 0, -d).Add(-2 * time.Hour) }

	for _, step := range []struct {
		at   time.Time
		want int
		why  string
	}{
		{days(31), 0, "31 days left"},
		{days(30), 1, "30 days left"},
		{days(30).Add(time.Hour), 0, "30 days left, same day again"},
		{days(29), 0, "29 days left"},
		{days(15), 1, "15 days left"},
		{days(1), 1, "1 day left"},
		{notAfter.Add(time.Hour), 1, "expired an hour ago"},
		{notAfter.Add(2 * time.Hour), 0, "expired, same day"},
		{notAfter.Add(25 * time.Hour), 0, "expired more than 24 hours ago"},
	} {
		if got := send(step.at); got != step.want {
			t.Errorf("%s: %d reminders, want %d", step.why, got, step.want)
		}
	}

	// The outbox holds the four messages with the spec's keys.
	deliveries, err := f.store.Claim(ctx, now.Add(time.Hour), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]int{}
	for _, d := range deliveries {
		subjects[d.Event.Subject]++
		if d.Event.Subject == "Certificate Expiry Warning" {
			var m map[string]any
			json.Unmarshal(d.Event.Body, &m)
			if _, ok := m["DaysRemaining"]; !ok {
				t.Errorf("warning without DaysRemaining: %s", d.Event.Body)
			}
		}
	}
	if subjects["Certificate Expiry Warning"] != 3 || subjects["Certificate Expired"] != 1 {
		t.Errorf("outbox subjects %v", subjects)
	}

	// A renewed certificate (same subject, later notBefore) silences the old
	// one; a revoked one gets nothing either.
	now = issuedAt.Add(24 * time.Hour)
	old := issue("renewed.example.com")
	now = issuedAt.Add(48 * time.Hour)
	issue("renewed.example.com")
	if got := send(old.NotAfter.AddDate(0, 0, -30).Add(-time.Hour)); got != 0 {
		t.Errorf("superseded certificate: %d reminders, want 0", got)
	}
	now = issuedAt
	gone := issue("revoked.example.com")
	if _, _, err := f.ca.Revoke(ctx, gone.Serial, store.ReasonCessationOfOperation); err != nil {
		t.Fatal(err)
	}
	// The same calendar day as the first certificate's 15-day warning, which
	// therefore sends nothing more: any reminder would be the revoked one's.
	if got := send(days(15).Add(30 * time.Minute)); got != 0 {
		t.Errorf("revoked certificate: %d reminders, want 0", got)
	}
}
