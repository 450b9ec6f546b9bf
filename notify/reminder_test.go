package notify_test

import (
	"math/big"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/anchorpki/anchor/notify"
)

// now is the reminder run's time in every table below.
var now = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func state(serial int64, notAfter time.Time) notify.CertState {
	return notify.CertState{
		Serial:       big.NewInt(serial),
		Subject:      "CN=host.example.com",
		CommonName:   "host.example.com",
		NotBefore:    notAfter.Add(-90 * day),
		NotAfter:     notAfter,
		NotifyExpiry: true,
	}
}

func TestRemindersDayTable(t *testing.T) {
	tests := []struct {
		name     string
		notAfter time.Time
		want     int  // days remaining in the warning, or -1 for no message
		expired  bool // the message is the expired notice
	}{
		{"31 days", now.Add(31 * day), -1, false},
		{"30 days", now.Add(30 * day), 30, false},
		{"29 days", now.Add(29 * day), -1, false},
		{"16 days", now.Add(16 * day), -1, false},
		{"15 days", now.Add(15 * day), 15, false},
		{"8 days", now.Add(8 * day), -1, false},
		{"7 days", now.Add(7 * day), 7, false},
		{"2 days", now.Add(2 * day), -1, false},
		{"1 day", now.Add(day), 1, false},
		{"0 days, expires tonight", now.Add(11 * time.Hour), -1, false},
		{"expires at this instant, still valid", now, -1, false},
		// Calendar days, not 24-hour periods.
		{"tomorrow 00:00:01 is 1 day", time.Date(2025, 3, 11, 0, 0, 1, 0, time.UTC), 1, false},
		{"day after tomorrow 23:59 is 2 days",
			time.Date(2025, 3, 12, 23, 59, 0, 0, time.UTC), -1, false},
		{"7 calendar days, 6.5 × 24 h", time.Date(2025, 3, 17, 0, 0, 0, 0, time.UTC), 7, false},
		{"just expired", now.Add(-time.Second), 0, true},
		{"23h59m after expiry", now.Add(-(23*time.Hour + 59*time.Minute)), 0, true},
		{"24h after expiry, inclusive", now.Add(-day), 0, true},
		{"24h01m after expiry", now.Add(-(day + time.Minute)), -1, false},
		{"long expired", now.Add(-40 * day), -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := state(1, tt.notAfter)
			got := notify.Reminders([]notify.CertState{c}, now, nil)
			var want []notify.Reminder
			if tt.want >= 0 {
				want = []notify.Reminder{{Serial: c.Serial, Subject: c.Subject,
					CommonName: c.CommonName, NotAfter: c.NotAfter,
					DaysRemaining: tt.want, Expired: tt.expired}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Reminders = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRemindersTimeZones(t *testing.T) {
	// 23:30 UTC on 10 March is already 11 March in Tokyo; the rule uses UTC.
	late := time.Date(2025, 3, 11, 8, 30, 0, 0, tokyo)
	c := state(1, time.Date(2025, 3, 11, 0, 30, 0, 0, time.UTC))
	got := notify.Reminders([]notify.CertState{c}, late, nil)
	if len(got) != 1 || got[0].DaysRemaining != 1 {
		t.Errorf("Reminders = %+v, want one warning with 1 day remaining", got)
	}
}

func TestRemindersCustomDays(t *testing.T) {
	certs := []notify.CertState{
		state(1, now.Add(30*day)), state(2, now.Add(10*day)), state(3, now.Add(2*day)),
		state(4, now.Add(3*time.Hour)), state(5, now.Add(-time.Hour)),
	}
	for i := range certs {
		certs[i].Subject = "" // distinct certificates, none superseding another
	}
	tests := []struct {
		name string
		days []int
		want []int64 // serials, in order
	}{
		{"default", nil, []int64{1, 5}},
		{"10 and 2", []int{10, 2}, []int64{2, 3, 5}},
		{"empty: only expired notices", []int{}, []int64{5}},
		{"0 and negatives ignored", []int{0, -1}, []int64{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, r := range notify.Reminders(certs, now, tt.days) {
				got = append(got, r.Serial.Int64())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("serials %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRemindersOncePerDay(t *testing.T) {
	tests := []struct {
		name         string
		notAfter     time.Time
		lastReminder time.Time
		want         bool
	}{
		{"warning, never reminded", now.Add(7 * day), time.Time{}, true},
		{"warning, reminded earlier today", now.Add(7 * day),
			time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), false},
		{"warning, reminded at this instant", now.Add(7 * day), now, false},
		{"warning, reminded yesterday 23:59:59", now.Add(7 * day),
			time.Date(2025, 3, 9, 23, 59, 59, 0, time.UTC), true},
		{"warning, today in UTC though yesterday in New York", now.Add(7 * day),
			time.Date(2025, 3, 9, 19, 30, 0, 0, time.FixedZone("EST", -5*3600)), false},
		{"warning, yesterday in UTC though today in Tokyo", now.Add(7 * day),
			time.Date(2025, 3, 10, 8, 0, 0, 0, tokyo), true},
		{"expired, warned yesterday before expiry", now.Add(-time.Hour),
			now.Add(-day), true},
		{"expired, warned today before expiry", now.Add(-time.Hour),
			now.Add(-2 * time.Hour), false},
		// Expired yesterday evening, notice sent then; today is a new date but
		// the notice is not sent twice.
		{"expired, notice already sent yesterday", now.Add(-15 * time.Hour),
			now.Add(-14 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := state(1, tt.notAfter)
			c.LastReminder = tt.lastReminder
			got := notify.Reminders([]notify.CertState{c}, now, nil)
			if (len(got) == 1) != tt.want || len(got) > 1 {
				t.Errorf("Reminders = %+v, want a message: %v", got, tt.want)
			}
		})
	}
}

func TestRemindersSkipped(t *testing.T) {
	expiring := state(1, now.Add(7*day))
	newer := func(mod func(*notify.CertState)) notify.CertState {
		c := state(2, now.Add(97*day))
		c.NotBefore = expiring.NotBefore.Add(time.Second)
		c.NotifyExpiry = false // a successor need not want reminders itself
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name  string
		certs []notify.CertState
		want  []int64
	}{
		{"alone", []notify.CertState{expiring}, []int64{1}},
		{"notify_expiry off", []notify.CertState{func() notify.CertState {
			c := expiring
			c.NotifyExpiry = false
			return c
		}()}, nil},
		{"revoked", []notify.CertState{func() notify.CertState {
			c := expiring
			c.Revoked = true
			return c
		}()}, nil},
		{"superseded by a newer certificate", []notify.CertState{expiring, newer(nil)}, nil},
		{"successor listed first", []notify.CertState{newer(nil), expiring}, nil},
		{"newer one revoked: not superseded", []notify.CertState{expiring,
			newer(func(c *notify.CertState) { c.Revoked = true })}, []int64{1}},
		{"newer one with another subject", []notify.CertState{expiring,
			newer(func(c *notify.CertState) { c.Subject = "CN=other.example.com" })},
			[]int64{1}},
		{"same notBefore is not newer", []notify.CertState{expiring,
			newer(func(c *notify.CertState) { c.NotBefore = expiring.NotBefore })},
			[]int64{1}},
		{"an older one does not supersede", []notify.CertState{expiring,
			newer(func(c *notify.CertState) {
				c.NotBefore = expiring.NotBefore.Add(-day)
				c.NotAfter = now.Add(7 * day)
				c.NotifyExpiry = true
			})}, []int64{1}},
		{"empty subjects never match", []notify.CertState{
			func() notify.CertState { c := expiring; c.Subject = ""; return c }(),
			newer(func(c *notify.CertState) { c.Subject = "" })}, []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, r := range notify.Reminders(tt.certs, now, nil) {
				got = append(got, r.Serial.Int64())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("serials %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReminderEvent(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	warn := notify.Reminder{Serial: cert.SerialNumber, DaysRemaining: 15}
	e, err := warn.Event(cert, eventAt)
	if err != nil || e.Subject != notify.SubjectExpiryWarning {
		t.Errorf("warning event %q, %v", e.Subject, err)
	}
	expired := notify.Reminder{Serial: cert.SerialNumber, Expired: true}
	e, err = expired.Event(cert, eventAt)
	if err != nil || e.Subject != notify.SubjectExpired {
		t.Errorf("expired event %q, %v", e.Subject, err)
	}
	wrong := notify.Reminder{Serial: big.NewInt(7), DaysRemaining: 15}
	if _, err := wrong.Event(cert, eventAt); err == nil {
		t.Error("event built for a certificate with another serial")
	}
	if _, err := warn.Event(nil, eventAt); err == nil {
		t.Error("event built without a certificate")
	}
}

// BenchmarkReminders measures a daily run over 100,000 certificates, half of
// them renewals of the other half.
func BenchmarkReminders(b *testing.B) {
	certs := make([]notify.CertState, 100_000)
	for i := range certs {
		c := state(int64(i), now.Add(time.Duration(i%400)*day))
		c.Subject = "CN=host-" + strconv.Itoa(i/2) + ".example.com"
		certs[i] = c
	}
	for b.Loop() {
		notify.Reminders(certs, now, nil)
	}
}
