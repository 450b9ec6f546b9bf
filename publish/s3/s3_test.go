package s3

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/anchorpki/anchor/publish"
	"github.com/anchorpki/anchor/publish/dir"
	"github.com/anchorpki/anchor/publish/publishtest"
)

const testBucket = "anchor-test"

// fakeS3 is an in-memory S3 server on 127.0.0.1 that records the headers of
// every PUT by URL path. gofakes3 does not keep Cache-Control, so the
// header is checked as sent.
type fakeS3 struct {
	URL string

	mu   sync.Mutex
	puts map[string]http.Header
}

func newFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	handler := gofakes3.New(backend).Server()
	f := &fakeS3{puts: make(map[string]http.Header)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			f.mu.Lock()
			f.puts[r.URL.Path] = r.Header.Clone()
			f.mu.Unlock()
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	f.URL = ts.URL
	return f
}

func (f *fakeS3) put(t *testing.T, path string) http.Header {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.puts[path]
	if !ok {
		t.Fatalf("no PUT of %s reached the server", path)
	}
	return h
}

// isolate keeps the developer's AWS files and variables out of the test.
func isolate(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

func testConfig(f *fakeS3) Config {
	return Config{
		Bucket:          testBucket,
		Prefix:          "pki/crl",
		Region:          "us-east-1",
		Endpoint:        f.URL,
		PathStyle:       true,
		AccessKeyID:     "statickey",
		SecretAccessKey: "staticsecret",
	}
}

func newPublisher(t *testing.T, cfg Config) *Publisher {
	t.Helper()
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestBehaviour(t *testing.T) {
	isolate(t)
	publishtest.Run(t, newPublisher(t, testConfig(newFakeS3(t))))
}

func TestHeaders(t *testing.T) {
	isolate(t)
	srv := newFakeS3(t)
	p := newPublisher(t, testConfig(srv))
	fx := publishtest.NewFixture(t, time.Now())
	thisUpdate := fx.NextUpdate.Add(-publishtest.Lifetime)
	p.now = func() time.Time { return thisUpdate }

	objs := fx.Objects(t)
	if err := p.Publish(t.Context(), objs...); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		path := "/" + testBucket + "/pki/crl/" + o.Name
		h := srv.put(t, path)
		wantCache := "public, max-age=3600"
		if strings.Contains(o.Name, ".crl") {
			wantCache = "public, max-age=60"
		}
		if got := h.Get("Cache-Control"); got != wantCache {
			t.Errorf("PUT %s: Cache-Control %q, want %q", path, got, wantCache)
		}
		if got := h.Get("Content-Type"); got != o.ContentType {
			t.Errorf("PUT %s: Content-Type %q, want %q", path, got, o.ContentType)
		}
		if auth := h.Get("Authorization"); !strings.Contains(auth, "Credential=statickey/") {
			t.Errorf("PUT %s: Authorization %q does not use the static key", path, auth)
		}
		for _, k := range []string{"X-Amz-Checksum-Crc32", "X-Amz-Sdk-Checksum-Algorithm"} {
			if v := h.Get(k); v != "" {
				t.Errorf("PUT %s: %s %q sent to a custom endpoint", path, k, v)
			}
		}

		// What a relying party fetching the object over HTTP gets.
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, o.Data) {
			t.Errorf("GET %s: status %d, %d bytes; want 200 and the published %d bytes",
				path, resp.StatusCode, len(body), len(o.Data))
		}
		if got := resp.Header.Get("Content-Type"); got != o.ContentType {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, o.ContentType)
		}
	}

	// Near and past nextUpdate.
	crl := publish.Object{Name: "anchor-issuing-ca-dev.crl", Data: fx.CRL(t, 8)}
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{fx.NextUpdate.Add(-30 * time.Second), "public, max-age=30"},
		{fx.NextUpdate.Add(time.Second), "no-cache"},
	} {
		p.now = func() time.Time { return tt.now }
		if err := p.Publish(t.Context(), crl); err != nil {
			t.Fatal(err)
		}
		h := srv.put(t, "/"+testBucket+"/pki/crl/"+crl.Name)
		if got := h.Get("Cache-Control"); got != tt.want {
			t.Errorf("CRL published %v before nextUpdate: Cache-Control %q, want %q",
				fx.NextUpdate.Sub(tt.now), got, tt.want)
		}
	}
}

// TestSameAsDir publishes the same objects through publish/dir and
// publish/s3 and requires Get to return the same thing from both.
func TestSameAsDir(t *testing.T) {
	isolate(t)
	viaS3 := newPublisher(t, testConfig(newFakeS3(t)))
	viaDir, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	objs := publishtest.NewFixture(t, time.Now()).Objects(t)
	for _, p := range []publish.Publisher{viaS3, viaDir} {
		if err := p.Publish(t.Context(), objs...); err != nil {
			t.Fatal(err)
		}
	}

	for _, o := range objs {
		a, err := viaDir.Get(t.Context(), o.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := viaS3.Get(t.Context(), o.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: dir has %d bytes, s3 %d bytes, or they differ",
				o.Name, len(a.Data), len(b.Data))
		}
		if a.ContentType != b.ContentType || a.ETag != b.ETag || !a.Expires.Equal(b.Expires) {
			t.Errorf("%s: dir (%s, %s, %v) != s3 (%s, %s, %v)", o.Name,
				a.ContentType, a.ETag, a.Expires, b.ContentType, b.ETag, b.Expires)
		}
	}
}

func TestDefaultCredentialChain(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "envkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	t.Setenv("AWS_REGION", "eu-west-3")
	srv := newFakeS3(t)
	cfg := testConfig(srv)
	cfg.AccessKeyID, cfg.SecretAccessKey, cfg.Region, cfg.Prefix = "", "", "", ""
	p := newPublisher(t, cfg)

	fx := publishtest.NewFixture(t, time.Now())
	obj := publish.Object{Name: "anchor-root-ca-dev.crt", Data: fx.Root.Raw}
	if err := p.Publish(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	auth := srv.put(t, "/"+testBucket+"/"+obj.Name).Get("Authorization")
	if !strings.Contains(auth, "Credential=envkey/") || !strings.Contains(auth, "/eu-west-3/s3/") {
		t.Errorf("Authorization %q: want the key and region from the environment", auth)
	}
}

func TestMissingBucket(t *testing.T) {
	isolate(t)
	cfg := testConfig(newFakeS3(t))
	cfg.Bucket = "no-such-bucket"
	p := newPublisher(t, cfg)

	_, err := p.Get(t.Context(), "anchor-root-ca-dev.crl")
	if err == nil || errors.Is(err, publish.ErrNotFound) {
		t.Errorf("Get from a missing bucket = %v, want an error other than ErrNotFound", err)
	}
	fx := publishtest.NewFixture(t, time.Now())
	obj := publish.Object{Name: "anchor-root-ca-dev.crt", Data: fx.Root.Raw}
	if err := p.Publish(t.Context(), obj); err == nil {
		t.Error("Publish to a missing bucket succeeded")
	}
}

func TestNewErrors(t *testing.T) {
	isolate(t)
	good := Config{Bucket: "b", Region: "us-east-1"}
	tests := []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Bucket = "" }, "s3: bucket: empty"},
		{func(c *Config) { c.Prefix = "a//b" }, `s3: prefix "a//b": empty, "." or ".." segment`},
		{func(c *Config) { c.Prefix = "a/../b" }, `s3: prefix "a/../b": empty, "." or ".." segment`},
		{func(c *Config) { c.Endpoint = "127.0.0.1:9000" },
			`s3: endpoint "127.0.0.1:9000": want an http or https URL`},
		{func(c *Config) { c.Endpoint = "ftp://minio" },
			`s3: endpoint "ftp://minio": want an http or https URL`},
		{func(c *Config) { c.AccessKeyID = "k" },
			"s3: access key id and secret access key: set both or neither"},
		{func(c *Config) { c.Region = "" },
			"s3: region: empty; set it in the configuration or AWS_REGION"},
	}
	for _, tt := range tests {
		cfg := good
		tt.change(&cfg)
		_, err := New(t.Context(), cfg)
		if err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %s", cfg, err, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	isolate(t)
	for _, tt := range []struct{ prefix, want string }{
		{"", "a.crl"},
		{"/", "a.crl"},
		{"pki", "pki/a.crl"},
		{"/pki/", "pki/a.crl"},
		{"pki/crl/", "pki/crl/a.crl"},
	} {
		p := newPublisher(t, Config{Bucket: "b", Region: "us-east-1", Prefix: tt.prefix})
		if got := p.Key("a.crl"); got != tt.want {
			t.Errorf("prefix %q: Key(a.crl) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func BenchmarkPublishFake(b *testing.B) {
	srv := newFakeS3(b)
	p, err := New(b.Context(), Config{
		Bucket: testBucket, Region: "us-east-1", Endpoint: srv.URL, PathStyle: true,
		AccessKeyID: "k", SecretAccessKey: "s",
	})
	if err != nil {
		b.Fatal(err)
	}
	fx := publishtest.NewFixture(b, time.Now())
	obj := publish.Object{Name: "anchor-issuing-ca-dev.crl", Data: fx.CRL(b, 1, 1, 2, 3)}
	b.SetBytes(int64(len(obj.Data)))
	for b.Loop() {
		if err := p.Publish(b.Context(), obj); err != nil {
			b.Fatal(err)
		}
	}
}
