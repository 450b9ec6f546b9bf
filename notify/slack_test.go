package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/anchorpki/anchor/notify"
)

func TestSlackPostsBlockKit(t *testing.T) {
	r := newReceiver(t, http.StatusOK, "ok")
	e := testEvent(t)
	if err := (&notify.Slack{WebhookURL: r.URL + "/services/T0/B0/X"}).Notify(
		context.Background(), e); err != nil {
		t.Fatalf("Notify: %v", err)
	}

	req, body := r.only(t)
	if req.Method != http.MethodPost || req.URL.Path != "/services/T0/B0/X" ||
		req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s Content-Type %q", req.Method, req.URL.Path,
			req.Header.Get("Content-Type"))
	}
	want := `{
	  "text": ":white_check_mark: Certificate Issued: x.example.com",
	  "blocks": [
	    {"type": "header", "text": {"type": "plain_text",
	      "text": ":white_check_mark: Certificate Issued", "emoji": true}},
	    {"type": "section", "text": {"type": "mrkdwn", "text":
	      "*Subject:* ST=New York,OU=DevOps,O=Serverless Inc,L=New York,C=US,CN=x.example.com"}},
	    {"type": "section", "fields": [
	      {"type": "mrkdwn", "text": "*Common Name:*\nx.example.com"},
	      {"type": "mrkdwn", "text": "*Serial Number:*\n` + "`" + testSerial + "`" + `"},
	      {"type": "mrkdwn", "text": "*Issued:*\n2025-03-10 12:00:00"},
	      {"type": "mrkdwn", "text": "*Expires:*\n2025-04-09 12:05:00"}
	    ]}
	  ]
	}`
	var got, exp any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("Slack body =\n%s\nwant\n%s", body, want)
	}
}

// headerAndFields pulls the header text, the subject line and the field texts
// out of a payload.
func headerAndFields(t *testing.T, p notify.SlackPayload) (string, string, []string) {
	t.Helper()
	text := func(b *notify.SlackBlock) string {
		if tb, ok := b.Text.(*notify.SlackBlock); ok {
			s, _ := tb.Text.(string)
			return s
		}
		return ""
	}
	var header, subject string
	var fields []string
	for _, b := range p.Blocks {
		switch {
		case b.Type == "header":
			header = text(b)
		case b.Fields != nil:
			for _, f := range b.Fields {
				s, _ := f.Text.(string)
				fields = append(fields, s)
			}
		default:
			subject = text(b)
		}
	}
	return header, subject, fields
}

func TestSlackMessages(t *testing.T) {
	cert := newCert(t, "x.example.com", notBefore, notAfter)
	at := eventAt
	must := func(e notify.Event, err error) notify.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	sub := "*Subject:* " + wantSubject("x.example.com")
	serial := "*Serial Number:*\n`" + testSerial + "`"

	tests := []struct {
		name    string
		e       notify.Event
		header  string
		subject string
		fields  []string
	}{{
		name:    "expiry warning",
		e:       must(notify.NewExpiryWarning(cert, 15, at)),
		header:  ":warning: Certificate Expiry Warning",
		subject: sub,
		fields: []string{"*Common Name:*\nx.example.com", serial,
			"*Issued:*\n2025-03-10 12:00:00", "*Expires:*\n2025-04-09 12:05:00",
			"*Days Remaining:*\n15"},
	}, {
		name:    "expired",
		e:       must(notify.NewExpired(cert, at)),
		header:  ":octagonal_sign: Certificate Expired",
		subject: sub,
		fields: []string{"*Common Name:*\nx.example.com", serial,
			"*Issued:*\n2025-03-10 12:00:00", "*Expired:*\n2025-04-09 12:05:00"},
	}, {
		name: "revoked",
		e: must(notify.NewRevoked(cert,
			time.Date(2025, 3, 11, 8, 0, 0, 0, time.UTC), at)),
		header:  ":octagonal_sign: Certificate Revoked",
		subject: sub,
		fields: []string{"*Common Name:*\nx.example.com", serial,
			"*Revoked:*\n2025-03-11 08:00:00"},
	}, {
		name: "rejected",
		e: must(notify.NewRejected(notify.CSRInfo{CommonName: "test.example.com",
			Lifetime: 0, Purposes: []string{"client_auth", "server_auth"},
			SANs: []notify.SAN{{Type: "DNS_NAME", Value: "a.example.com"},
				{Type: "IP_ADDRESS", Value: "10.0.0.1"}}},
			newCSR(t, "test.example.com"), "0 is too short", at)),
		header:  ":octagonal_sign: Certificate Request Rejected",
		subject: "*Subject:* " + wantSubject("test.example.com"),
		fields: []string{"*Reason:*\n0 is too short", "*Common Name:*\ntest.example.com",
			"*Lifetime:*\n0 days", "*Purposes:*\nclient_auth, server_auth",
			"*SANs:*\nDNS_NAME: a.example.com\nIP_ADDRESS: 10.0.0.1"},
	}, {
		name: "rejected, nothing parsed",
		e: must(notify.NewRejected(notify.CSRInfo{}, nil,
			"CSR must include a Common Name", at)),
		header:  ":octagonal_sign: Certificate Request Rejected",
		subject: "*Subject:* ",
		fields: []string{"*Reason:*\nCSR must include a Common Name", "*Common Name:*\n-",
			"*Lifetime:*\n0 days", "*Purposes:*\n-"},
	}, {
		name: "hostile subject cannot mention a channel",
		e: must(notify.NewRevoked(newCert(t, "<!channel> & co", notBefore, notAfter),
			notBefore, at)),
		header: ":octagonal_sign: Certificate Revoked",
		// RFC 4514 escapes < and > with a backslash; Slack still needs entities.
		subject: "*Subject:* " + wantSubject(`\&lt;!channel\&gt; &amp; co`),
		fields: []string{"*Common Name:*\n&lt;!channel&gt; &amp; co", serial,
			"*Revoked:*\n2025-03-10 12:00:00"},
	}, {
		name: "unknown subject",
		e: notify.Event{ID: "x", Subject: "Something Else", At: at,
			Body: json.RawMessage(`{}`)},
		header: ":information_source: Something Else",
	}, {
		name: "unreadable body",
		e: notify.Event{ID: "x", Subject: notify.SubjectIssued, At: at,
			Body: json.RawMessage(`not json`)},
		header: ":white_check_mark: Certificate Issued",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := notify.SlackMessage(tt.e)
			header, subject, fields := headerAndFields(t, p)
			if header != tt.header {
				t.Errorf("header %q, want %q", header, tt.header)
			}
			if subject != tt.subject {
				t.Errorf("subject line %q, want %q", subject, tt.subject)
			}
			if !reflect.DeepEqual(fields, tt.fields) {
				t.Errorf("fields\n%q\nwant\n%q", fields, tt.fields)
			}
			if strings.Contains(p.Text, "<") {
				t.Errorf("fallback text %q is not escaped", p.Text)
			}
		})
	}
}

func TestSlackClipsLongText(t *testing.T) {
	long := strings.Repeat("é", 5000)
	e, err := notify.NewRejected(notify.CSRInfo{CommonName: long}, nil, long, eventAt)
	if err != nil {
		t.Fatal(err)
	}
	_, _, fields := headerAndFields(t, notify.SlackMessage(e))
	for _, f := range fields {
		if n := utf8.RuneCountInString(f); n > 2000 {
			t.Errorf("field of %d characters, Slack allows 2000", n)
		}
	}
	if !strings.HasSuffix(fields[0], "é…") {
		t.Errorf("clipped field does not end with an ellipsis: %q",
			fields[0][len(fields[0])-8:])
	}
}

func TestSlackFailureHidesURL(t *testing.T) {
	r := newReceiver(t, http.StatusNotFound, "no_service")
	s := &notify.Slack{WebhookURL: r.URL + "/services/T0/B0/SECRET"}
	err := s.Notify(context.Background(), testEvent(t))
	if err == nil {
		t.Fatal("Notify succeeded on 404")
	}
	if want := "slack: receiver answered 404 Not Found: no_service"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
