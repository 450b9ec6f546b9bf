// Package dir publishes CRLs and CA certificates to a local folder, which
// `anchor serve` (or any web server) serves over HTTP. It is the publisher of
// the embedded setup: no outside service is needed.
//
// Each object is a file named by its object name directly in the folder,
// with mode 0644 because everything published is public. A file is replaced
// atomically: the data goes to a temporary file in the same folder, which is
// synced and then renamed over the old file, and the folder is synced after
// the rename. A reader that opens the file sees the old or the new version
// in full, never a partial write, and a publication that returned survives
// a crash.
//
// Temporary files are named ".{name}.tmp-{random}". Object names never
// start with a dot, so these never collide with an object and Get and Path
// never return one. A crash while writing can leave one behind; it is
// harmless and may be deleted when no publication is running.
//
// The content type is not stored: it follows from the name
// (publish.ContentTypeFor), and so does the CRL's nextUpdate, which is read
// from the file.
package dir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/anchorpki/anchor/publish"
)

// Mode is the permission of published files.
const Mode fs.FileMode = 0o644

// Publisher writes objects to one folder. It is safe for concurrent use;
// when two publications of one name overlap, the last rename wins.
type Publisher struct {
	dir string
}

var _ publish.Publisher = (*Publisher)(nil)

// New returns a Publisher for the folder at path, creating the folder (mode
// 0755) and its parents when missing.
func New(path string) (*Publisher, error) {
	if path == "" {
		return nil, errors.New("dir: path: empty")
	}
	path = filepath.Clean(path)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("dir: path %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dir: path %s: %w", path, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("dir: path %s: not a folder", path)
	}
	return &Publisher{dir: path}, nil
}

// Path returns the file that holds the object name, for a server that wants
// to serve it with http.ServeContent. It refuses invalid names, so the path
// is always directly inside the folder.
func (p *Publisher) Path(name string) (string, error) {
	if err := publish.ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(p.dir, name), nil
}

// Publish checks all objects with publish.Prepare, then writes each one
// atomically, in order. It stops at the first error or when ctx is done.
func (p *Publisher) Publish(ctx context.Context, objs ...publish.Object) error {
	ready := make([]publish.Object, len(objs))
	for i, o := range objs {
		var err error
		if ready[i], err = publish.Prepare(o); err != nil {
			return err
		}
	}

	var err error
	written := 0
	for _, o := range ready {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = p.write(o); err != nil {
			break
		}
		written++
	}

	// Renames become durable once the folder is synced.
	if written > 0 {
		if serr := p.syncDir(); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// write replaces the file of o by way of a synced temporary file.
func (p *Publisher) write(o publish.Object) (err error) {
	f, err := os.CreateTemp(p.dir, "."+o.Name+".tmp-*")
	if err != nil {
		return fmt.Errorf("dir: publish %s: %w", o.Name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("dir: publish %s: %w", o.Name, err)
		}
	}()

	if _, err = f.Write(o.Data); err != nil {
		return err
	}
	if err = f.Chmod(Mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(p.dir, o.Name))
}

func (p *Publisher) syncDir() error {
	if runtime.GOOS == "windows" {
		return nil // folders cannot be opened for syncing there
	}
	d, err := os.Open(p.dir)
	if err != nil {
		return fmt.Errorf("dir: sync %s: %w", p.dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("dir: sync %s: %w", p.dir, err)
	}
	return nil
}

// Get reads the object name back, with ModTime from the file. A missing
// file gives an error wrapping publish.ErrNotFound.
func (p *Publisher) Get(ctx context.Context, name string) (*publish.Object, error) {
	path, err := p.Path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Stat and read through one descriptor, so that both describe the same
	// version even if a publication renames a new file in between.
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in %s", publish.ErrNotFound, name, p.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("dir: get %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dir: get %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("dir: get %s: not a regular file", name)
	}
	// Sizing the buffer from Stat saves the regrowth of io.ReadAll; it is
	// only a hint, as ReadFrom reads to EOF whatever the size.
	buf := bytes.NewBuffer(make([]byte, 0, info.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("dir: get %s: %w", name, err)
	}

	ctype := publish.ContentTypeFor(name)
	return publish.StoredObject(name, ctype, buf.Bytes(), info.ModTime()), nil
}
