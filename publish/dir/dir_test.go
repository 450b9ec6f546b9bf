package dir_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anchorpki/anchor/publish"
	"github.com/anchorpki/anchor/publish/dir"
	"github.com/anchorpki/anchor/publish/publishtest"
)

func newPublisher(t *testing.T) (*dir.Publisher, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "public")
	p, err := dir.New(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, path
}

func TestBehaviour(t *testing.T) {
	p, _ := newPublisher(t)
	publishtest.Run(t, p)
}

func TestFiles(t *testing.T) {
	p, path := newPublisher(t)
	f := publishtest.NewFixture(t, time.Now())
	objs := f.Objects(t)
	if err := p.Publish(t.Context(), objs...); err != nil {
		t.Fatal(err)
	}

	// Exactly the objects, no temporary files left over.
	var want []string
	for _, o := range objs {
		want = append(want, o.Name)
	}
	slices.Sort(want)
	if got := listDir(t, path); !slices.Equal(got, want) {
		t.Errorf("folder holds %q, want %q", got, want)
	}

	for _, o := range objs {
		file, err := p.Path(o.Name)
		if err != nil {
			t.Fatal(err)
		}
		if file != filepath.Join(path, o.Name) {
			t.Errorf("Path(%q) = %s", o.Name, file)
		}
		info, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != 0o644 {
			t.Errorf("%s has mode %v, want -rw-r--r--", o.Name, info.Mode())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, o.Data) {
			t.Errorf("%s on disk differs from the published data", o.Name)
		}
	}

	if _, err := p.Path("../x.crl"); !errors.Is(err, publish.ErrInvalidName) {
		t.Errorf("Path(../x.crl) = %v, want ErrInvalidName", err)
	}
}

func listDir(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", file} {
		if _, err := dir.New(path); err == nil {
			t.Errorf("New(%q) succeeded, want an error", path)
		}
	}
}

func TestETagStable(t *testing.T) {
	p, _ := newPublisher(t)
	f := publishtest.NewFixture(t, time.Now())
	obj := publish.Object{Name: "anchor-root-ca-dev.crt", Data: f.Root.Raw}

	var tags []string
	for range 2 {
		if err := p.Publish(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, err := p.Get(t.Context(), obj.Name)
			if err != nil {
				t.Fatal(err)
			}
			tags = append(tags, got.ETag)
		}
	}
	want := publish.ETag(f.Root.Raw)
	for i, tag := range tags {
		if tag != want {
			t.Errorf("ETag %d = %s, want %s", i, tag, want)
		}
	}
}

// TestAtomic publishes 200 versions of different sizes while a reader reads
// the file in a loop: every read must be one of the versions in full.
func TestAtomic(t *testing.T) {
	p, path := newPublisher(t)
	f := publishtest.NewFixture(t, time.Now())
	const name = "anchor-ca-bundle-dev.pem"
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Root.Raw})

	// Version i holds 1 + (i*37 mod 200) certificates: sizes go up and down.
	versions := make([][]byte, 200)
	known := make(map[string]bool)
	for i := range versions {
		versions[i] = bytes.Repeat(cert, 1+i*37%200)
		known[string(versions[i])] = true
	}
	publishVersion := func(i int) {
		if err := p.Publish(t.Context(), publish.Object{Name: name, Data: versions[i]}); err != nil {
			t.Errorf("Publish version %d: %v", i, err)
		}
	}
	publishVersion(0)

	file := filepath.Join(path, name)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads, torn int
	wg.Go(func() {
		for {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Errorf("read during publication: %v", err)
				return
			}
			reads++
			if !known[string(data)] {
				torn++
			}
			select {
			case <-done:
				return
			default:
			}
		}
	})
	for i := 1; i < len(versions); i++ {
		publishVersion(i)
	}
	close(done)
	wg.Wait()

	if torn > 0 {
		t.Errorf("%d of %d reads saw a partial or mixed file", torn, reads)
	}
	if reads == 0 {
		t.Error("the reader read nothing")
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, versions[len(versions)-1]) {
		t.Error("the file does not hold the last version")
	}
	if names := listDir(t, path); !slices.Equal(names, []string{name}) {
		t.Errorf("folder holds %q, want only %s", names, name)
	}
}

func BenchmarkPublish(b *testing.B) {
	p, err := dir.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	f := publishtest.NewFixture(b, time.Now())
	for _, size := range []struct {
		name    string
		revoked int
	}{{"crl-10", 10}, {"crl-10000", 10000}} {
		serials := make([]int64, size.revoked)
		for i := range serials {
			serials[i] = int64(1000 + i)
		}
		obj := publish.Object{Name: "anchor-issuing-ca-dev.crl", Data: f.CRL(b, 1, serials...)}
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(obj.Data)))
			for b.Loop() {
				if err := p.Publish(b.Context(), obj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	p, err := dir.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	f := publishtest.NewFixture(b, time.Now())
	serials := make([]int64, 10000)
	for i := range serials {
		serials[i] = int64(1000 + i)
	}
	obj := publish.Object{Name: "anchor-issuing-ca-dev.crl", Data: f.CRL(b, 1, serials...)}
	if err := p.Publish(b.Context(), obj); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(obj.Data)))
	for b.Loop() {
		if _, err := p.Get(b.Context(), obj.Name); err != nil {
			b.Fatal(err)
		}
	}
}
