package api

import (
	"strings"
	"testing"

	"github.com/anchorpki/anchor/profile"
	"github.com/anchorpki/anchor/store"
)

func TestMatchName(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.devices.example.com", "a1.devices.example.com", true},
		{"*.devices.example.com", "A1.Devices.Example.COM", true},
		{"*.devices.example.com", "*.devices.example.com", true},
		{"*.devices.example.com", "a.b.devices.example.com", false},
		{"*.devices.example.com", "devices.example.com", false},
		{"*.devices.example.com", "a1.devices.example.org", false},
		{"*.devices.example.com", "a1.devicesXexample.com", false},
		{"dev-*.example.com", "dev-42.example.com", true},
		{"dev-*.example.com", "dev-.example.com", true},
		{"dev-*.example.com", "prod-42.example.com", false},
		{"dev-*.example.com", "*.example.com", false},
		{"*-*-*.example.com", "a-b-c.example.com", true},
		{"*-*-*.example.com", "a-b.example.com", false},
		{"web.example.com", "web.example.com", true},
		{"web.example.com", "web2.example.com", false},
		{"*", "backup job 1", true},
		{"*", "a.b", false},
		{"10.0.0.*", "10.0.0.7", true},
		{"10.0.0.*", "10.0.1.7", false},
		{"*@example.com", "ops@example.com", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYd", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := matchName(tt.pattern, tt.name); got != tt.want {
			t.Errorf("matchName(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestPermits(t *testing.T) {
	tmpl := func(cn string, days int, sans ...string) *profile.Template {
		t := &profile.Template{CommonName: cn, LifetimeDays: days}
		for _, s := range sans {
			t.SANs = append(t.SANs, profile.SAN{Type: profile.SANDNSName, Value: s})
		}
		return t
	}
	devices := []string{"*.devices.example.com"}
	tests := []struct {
		name string
		tok  store.Token
		tmpl *profile.Template
		want string // a substring of the refusal; "" means permitted
	}{
		{"cn and san inside", store.Token{Name: "t", AllowCN: devices},
			tmpl("a.devices.example.com", 30, "a.devices.example.com"), ""},
		{"cn outside", store.Token{Name: "t", AllowCN: devices},
			tmpl("evil.example.com", 30), `common name "evil.example.com"`},
		{"san held to cn patterns", store.Token{Name: "t", AllowCN: devices},
			tmpl("a.devices.example.com", 30, "a.devices.example.com", "bank.example.com"),
			"DNS:bank.example.com"},
		{"san patterns of their own", store.Token{Name: "t", AllowCN: devices,
			AllowSAN: []string{"*.svc.example.com"}},
			tmpl("a.devices.example.com", 30, "x.svc.example.com"), ""},
		{"san outside own patterns", store.Token{Name: "t",
			AllowSAN: []string{"*.svc.example.com"}},
			tmpl("anything", 30, "x.devices.example.com"), "DNS:x.devices.example.com"},
		{"lifetime at max", store.Token{Name: "t", MaxLifetimeDays: 7}, tmpl("x", 7), ""},
		{"lifetime over max", store.Token{Name: "t", MaxLifetimeDays: 7}, tmpl("x", 8),
			"lifetime of 8 days exceeds the maximum of 7 days"},
		{"unrestricted", store.Token{Name: "t"}, tmpl("x", 365, "y.example.com"), ""},
	}
	for _, tt := range tests {
		got := permits(&tt.tok, tt.tmpl)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s: refused: %s", tt.name, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s: got %q, want it to contain %q", tt.name, got, tt.want)
		}
	}
}

func TestRequestID(t *testing.T) {
	for _, in := range []string{"abc-123", "req.1:2_3", strings.Repeat("a", 128)} {
		if got := requestID(in); got != in {
			t.Errorf("requestID(%q) = %q, want it kept", in, got)
		}
	}
	for _, in := range []string{"", "has space", "x\ny", strings.Repeat("a", 129), "é"} {
		got := requestID(in)
		if got == in || len(got) != 32 {
			t.Errorf("requestID(%q) = %q, want a new 32-digit id", in, got)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	key := strings.Repeat("0", 20) + "00000000000000abcdef"
	got, ok := decodeCursor(encodeCursor(key))
	if !ok || got != key {
		t.Fatalf("decodeCursor(encodeCursor(%q)) = %q, %v", key, got, ok)
	}
	for _, bad := range []string{"", "!!", encodeCursor("short"),
		encodeCursor(strings.Repeat("G", 40)), encodeCursor(strings.Repeat("A", 40))} {
		if _, ok := decodeCursor(bad); ok {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}

func TestTokenSpecValidate(t *testing.T) {
	good := TokenSpec{Name: "ci-runner", Role: store.RoleIssuer, AllowCN: []string{"*.ci"}}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec TokenSpec
		want string
	}{
		{TokenSpec{Role: store.RoleReader}, "name:"},
		{TokenSpec{Name: "a b", Role: store.RoleReader}, "name:"},
		{TokenSpec{Name: "a", Role: "root"}, `role: "root"`},
		{TokenSpec{Name: "a", Role: store.RoleIssuer, AllowCN: []string{""}}, "allow_cn:"},
		{TokenSpec{Name: "a", Role: store.RoleIssuer, AllowSAN: []string{"a b"}}, "allow_san:"},
		{TokenSpec{Name: "a", Role: store.RoleIssuer, MaxLifetimeDays: -1}, "max_lifetime_days:"},
	}
	for _, tt := range tests {
		err := tt.spec.validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("validate(%+v) = %v, want prefix %q", tt.spec, err, tt.want)
		}
	}
}
