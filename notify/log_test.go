package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"

	"github.com/anchorpki/anchor/notify"
)

func TestLogWritesOneLine(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	warn, _ := notify.NewExpiryWarning(cert, 7, eventAt)
	rejected, _ := notify.NewRejected(notify.CSRInfo{CommonName: "bad"}, nil,
		"CSR must include a Common Name", eventAt)

	tests := []struct {
		e    notify.Event
		want map[string]any
	}{{
		e: warn,
		want: map[string]any{"level": "INFO", "msg": "notification", "event_id": warn.ID,
			"event": "Certificate Expiry Warning", "common_name": "x.example.com",
			"serial": testSerial, "days_remaining": 7.0},
	}, {
		e: rejected,
		want: map[string]any{"level": "INFO", "msg": "notification", "event_id": rejected.ID,
			"event": "Certificate Request Rejected", "common_name": "bad",
			"reason": "CSR must include a Common Name"},
	}}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := &notify.Log{Logger: slog.New(slog.NewJSONHandler(&buf,
			&slog.HandlerOptions{ReplaceAttr: dropTime}))}
		if err := l.Notify(context.Background(), tt.e); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("not one JSON line: %v\n%s", err, buf.Bytes())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("log line %v\nwant %v", got, tt.want)
		}
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestLogFailsOnlyWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &notify.Log{Logger: slog.New(slog.DiscardHandler)}
	if err := l.Notify(ctx, notify.Event{ID: "x"}); err == nil {
		t.Error("Notify with a cancelled context succeeded")
	}
}
