package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack posts events to a Slack incoming webhook as Block Kit messages: a
// header with an emoji and the event subject, the certificate subject, then the
// fields of the event (Reason first for a rejection).
type Slack struct {
	// WebhookURL is the incoming webhook's URL. It is a credential: it never
	// appears in an error.
	WebhookURL string
	// Client sends the requests; nil means the same default as Webhook.
	Client *http.Client
}

// Notify posts e once.
func (s *Slack) Notify(ctx context.Context, e Event) error {
	body, err := json.Marshal(SlackMessage(e))
	if err != nil {
		return fmt.Errorf("slack: encoding event %s: %w", e.ID, err)
	}
	return post(ctx, s.Client, "slack", s.WebhookURL, body, nil)
}

// Slack's limits on text lengths; longer text makes Slack refuse the whole
// message, which would turn one odd subject into a delivery failing forever.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
)

// SlackBlock is one Block Kit block, or a text object inside one.
type SlackBlock struct {
	Type   string        `json:"type"`
	Text   any           `json:"text,omitempty"` // a string or a *SlackBlock
	Emoji  bool          `json:"emoji,omitempty"`
	Fields []*SlackBlock `json:"fields,omitempty"`
}

// SlackPayload is the JSON body sent to an incoming webhook. Text is the
// fallback shown in notifications and by clients without Block Kit.
type SlackPayload struct {
	Text   string        `json:"text"`
	Blocks []*SlackBlock `json:"blocks"`
}

// SlackMessage renders e for Slack. An event with an unknown subject or a
// message it cannot read gets a header with its subject and nothing else, so
// that it is still seen.
func SlackMessage(e Event) SlackPayload {
	var m struct {
		CertificateInfo CertificateInfo
		CSRInfo         CSRInfo
		CommonName      string
		SerialNumber    string
		Revoked         string
		Subject         string
		Reason          string
		DaysRemaining   int
	}
	known := json.Unmarshal(e.Body, &m) == nil

	var emoji, name string
	var fields []string
	switch e.Subject {
	case SubjectIssued, SubjectExpiryWarning, SubjectExpired:
		emoji = ":white_check_mark:"
		expires := "Expires"
		switch e.Subject {
		case SubjectExpiryWarning:
			emoji = ":warning:"
		case SubjectExpired:
			emoji, expires = ":octagonal_sign:", "Expired"
		}
		ci := m.CertificateInfo
		name = ci.CommonName
		fields = []string{
			field("Common Name", ci.CommonName),
			codeField("Serial Number", ci.SerialNumber),
			field("Issued", ci.Issued),
			field(expires, ci.Expires),
		}
		if e.Subject == SubjectExpiryWarning {
			fields = append(fields, field("Days Remaining", strconv.Itoa(m.DaysRemaining)))
		}
	case SubjectRevoked:
		emoji, name = ":octagonal_sign:", m.CommonName
		fields = []string{
			field("Common Name", m.CommonName),
			codeField("Serial Number", m.SerialNumber),
			field("Revoked", m.Revoked),
		}
	case SubjectRejected:
		ci := m.CSRInfo
		emoji, name = ":octagonal_sign:", ci.CommonName
		fields = []string{
			field("Reason", m.Reason),
			field("Common Name", ci.CommonName),
			field("Lifetime", strconv.Itoa(ci.Lifetime)+" days"),
			field("Purposes", strings.Join(ci.Purposes, ", ")),
		}
		if len(ci.SANs) > 0 {
			sans := make([]string, len(ci.SANs))
			for i, san := range ci.SANs {
				sans[i] = san.Type + ": " + san.Value
			}
			fields = append(fields, field("SANs", strings.Join(sans, "\n")))
		}
	default:
		emoji, known = ":information_source:", false
	}

	title := clip(emoji+" "+e.Subject, slackHeaderMax)
	p := SlackPayload{Text: escape(title), Blocks: []*SlackBlock{{
		Type: "header",
		Text: &SlackBlock{Type: "plain_text", Text: title, Emoji: true},
	}}}
	if !known {
		return p
	}
	if name != "" {
		p.Text = clip(escape(title+": "+name), slackSectionMax)
	}
	p.Blocks = append(p.Blocks, &SlackBlock{Type: "section", Text: &SlackBlock{
		Type: "mrkdwn", Text: clip("*Subject:* "+escape(m.Subject), slackSectionMax),
	}})
	fs := &SlackBlock{Type: "section"}
	for _, f := range fields {
		fs.Fields = append(fs.Fields, &SlackBlock{Type: "mrkdwn", Text: clip(f, slackFieldMax)})
	}
	p.Blocks = append(p.Blocks, fs)
	return p
}

// field formats one Block Kit field; the value is escaped.
func field(label, value string) string {
	if value == "" {
		value = "-"
	}
	return "*" + label + ":*\n" + escape(value)
}

// codeField is field with the value in a code span, for serial numbers.
func codeField(label, value string) string {
	if value == "" {
		return field(label, value)
	}
	return "*" + label + ":*\n`" + escape(value) + "`"
}

// escape makes text safe for Slack's mrkdwn, where "<...>" is a link or a
// mention such as <!channel>: the certificate subject comes from a CSR and must
// not be able to ping a channel.
func escape(s string) string { return mrkdwnEscaper.Replace(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// clip shortens s to n characters, the last one an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
