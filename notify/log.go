package notify

import (
	"context"
	"encoding/json"
	"log/slog"
)

// Log writes each event as one structured log line at level Info. It is the
// default notifier: with nothing configured, events are still visible to an
// operator. Its keys are event_id, event, and, when the message has them,
// common_name, serial, days_remaining and reason.
type Log struct {
	// Logger receives the lines; nil means slog.Default().
	Logger *slog.Logger
}

// Notify logs e. It fails only if ctx is done.
func (l *Log) Notify(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}

	var m struct {
		CertificateInfo struct{ CommonName, SerialNumber string }
		CSRInfo         struct{ CommonName string }
		CommonName      string
		SerialNumber    string
		DaysRemaining   *int
		Reason          string
	}
	_ = json.Unmarshal(e.Body, &m) // an unreadable body still gets its line
	cn := firstOf(m.CertificateInfo.CommonName, m.CSRInfo.CommonName, m.CommonName)
	serial := firstOf(m.CertificateInfo.SerialNumber, m.SerialNumber)

	attrs := []slog.Attr{slog.String("event_id", e.ID), slog.String("event", e.Subject)}
	if cn != "" {
		attrs = append(attrs, slog.String("common_name", cn))
	}
	if serial != "" {
		attrs = append(attrs, slog.String("serial", serial))
	}
	if m.DaysRemaining != nil {
		attrs = append(attrs, slog.Int("days_remaining", *m.DaysRemaining))
	}
	if m.Reason != "" {
		attrs = append(attrs, slog.String("reason", m.Reason))
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "notification", attrs...)
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
