// Package file keeps CA private keys in PEM files, the embedded default for
// Anchor's signer seam.
//
// A key file holds one PKCS #8 private key, either in the clear (PEM type
// "PRIVATE KEY") or encrypted under a passphrase (PEM type "ENCRYPTED PRIVATE
// KEY", PBES2 of RFC 8018 with PBKDF2-HMAC-SHA256 at Iterations rounds, a random
// 16-byte salt and AES-256-CBC with a random IV). These are the formats OpenSSL
// writes and reads, so a key can be inspected, backed up or moved to an HSM with
// standard tools, and a key OpenSSL made can be used as is:
//
//	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
//	    -aes-256-cbc -pass file:pw -out ca.key
//	openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in old.key -out ca.key
//
// What the package promises:
//
//   - Create never overwrites a file, and a crash while writing leaves either no
//     key file or a complete one: the key is written to a temporary file with mode
//     0600 in the same folder, synced, and then linked into place.
//   - Load refuses a key file that users other than its owner may read or write
//     (any mode bit outside 0600), naming the mode and the chmod that fixes it.
//   - The crypto.Signer that Create and Load return hides the private key: it
//     offers Public and Sign only, and prints as a description such as
//     "ECDSA P-256 key from /home/ca/issuing.key", never as key material. No error
//     from this package contains key or passphrase bytes.
//   - Keys are held to the key policy of package signer.
//
// A passphrase is given as bytes; nil or empty means "no passphrase". Commands
// read it from a file (ReadPassphraseFile, with OpenSSL's file: rules) or from
// the environment variable named by PassphraseEnv.
package file

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/anchorpki/anchor/signer"
)

// PEM block types of the two formats a key file may have.
const (
	BlockPrivateKey          = "PRIVATE KEY"
	BlockEncryptedPrivateKey = "ENCRYPTED PRIVATE KEY"
)

// PassphraseEnv names the environment variable commands read a key passphrase
// from when no passphrase file is given.
const PassphraseEnv = "ANCHOR_KEY_PASSPHRASE"

// maxFileSize bounds what Load and ReadPassphraseFile read. An RSA 4096 key in
// PEM is about 3.3 KB; anything near a megabyte is not a key file.
const maxFileSize = 1 << 20

// Errors that callers may branch on. They are wrapped with the file's path.
var (
	// ErrWrongPassphrase means the passphrase did not decrypt the key. CBC
	// encryption carries no checksum, so a damaged file looks the same.
	ErrWrongPassphrase = errors.New("wrong passphrase (or a damaged key file)")

	// ErrPassphraseRequired means the key is encrypted and no passphrase was given.
	ErrPassphraseRequired = errors.New("the key is encrypted and no passphrase was " +
		"given; give one with --passphrase-file FILE or the " + PassphraseEnv +
		" environment variable")

	// ErrPermissions means the key file's mode lets other users read or write it.
	ErrPermissions = errors.New("key file permissions are too open")
)

// Create makes a new key of type kt, writes it to path (encrypted if passphrase
// is not empty) and returns a signer for it. It fails, wrapping fs.ErrExist, if
// path exists; the folder must exist.
func Create(path string, kt signer.KeyType, passphrase []byte) (crypto.Signer, error) {
	// Check first so that an existing key costs no key generation; the write
	// below checks again atomically.
	if _, err := os.Lstat(path); err == nil {
		return nil, existsError(path)
	}
	key, err := kt.Generate(nil)
	if err != nil {
		return nil, fmt.Errorf("create key file %s: %w", path, err)
	}
	if err := Save(path, key, passphrase); err != nil {
		return nil, err
	}
	return &fileKey{key: key, path: path}, nil
}

// Save writes an existing private key to a new file at path, as Create does. It
// is for importing a key; keys returned by Create and Load cannot be saved
// again, since they do not give up their key material.
func Save(path string, key crypto.Signer, passphrase []byte) error {
	data, err := Marshal(key, passphrase)
	if err != nil {
		return fmt.Errorf("save key file %s: %w", path, err)
	}
	return writeNew(path, data)
}

// Marshal encodes a private key as PEM: PKCS #8, encrypted with Encrypt when
// passphrase is not empty.
func Marshal(key crypto.Signer, passphrase []byte) ([]byte, error) {
	if _, ok := key.(*fileKey); ok {
		return nil, errors.New("a key loaded by package file cannot be exported")
	}
	if err := signer.CheckPublicKey(key.Public()); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key as PKCS #8: %w", err)
	}
	defer clear(der)
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: BlockPrivateKey, Bytes: der}), nil
	}
	enc, err := Encrypt(der, passphrase)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: BlockEncryptedPrivateKey, Bytes: enc}), nil
}

// Load reads the key file at path and returns a signer for it. passphrase is
// needed if the key is encrypted and ignored if it is not.
func Load(path string, passphrase []byte) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (mode %s)", path, fi.Mode())
	}
	// Windows has no mode bits to speak of; its ACLs are the folder's business.
	if perm := fi.Mode().Perm(); perm&0o177 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("key file %s has mode %04o, which other users may read or "+
			"change (want 0600 or stricter; fix with: chmod 600 %s): %w",
			path, perm, path, ErrPermissions)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load key file: %w", err)
	}
	defer clear(data)
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("key file %s is larger than %d bytes", path, maxFileSize)
	}

	key, err := parse(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	key.path = path
	return key, nil
}

// Parse decodes a PEM key file's contents, as written by Marshal or OpenSSL, and
// returns a signer for the key. passphrase is needed if the key is encrypted and
// ignored if it is not.
func Parse(data, passphrase []byte) (crypto.Signer, error) {
	key, err := parse(data, passphrase)
	if err != nil {
		return nil, err
	}
	return key, nil
}

func parse(data, passphrase []byte) (*fileKey, error) {
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		// openssl ecparam -genkey puts the curve in a block of its own first.
		if block == nil || block.Type != "EC PARAMETERS" {
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("not PEM: no PEM block found (want %q or %q)",
			BlockPrivateKey, BlockEncryptedPrivateKey)
	}

	var der []byte
	switch block.Type {
	case BlockPrivateKey:
		der = block.Bytes
	case BlockEncryptedPrivateKey:
		if len(passphrase) == 0 {
			return nil, ErrPassphraseRequired
		}
		var err error
		if der, err = Decrypt(block.Bytes, passphrase); err != nil {
			return nil, err
		}
		defer clear(der)
	case "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q holds a key in a legacy format; convert it "+
			"to PKCS #8 with: openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 "+
			"-in OLD -out NEW (or -nocrypt instead of the -v2 options for no passphrase)",
			block.Type)
	default:
		return nil, fmt.Errorf("PEM block type %q is not a private key (want %q or %q)",
			block.Type, BlockPrivateKey, BlockEncryptedPrivateKey)
	}

	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		if block.Type == BlockEncryptedPrivateKey {
			// Decrypt's DER check passed by chance on garbage.
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("malformed PKCS #8 private key: %w", err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key cannot sign", parsed)
	}
	if err := signer.CheckPublicKey(key.Public()); err != nil {
		return nil, err
	}
	return &fileKey{key: key}, nil
}

// ReadPassphraseFile reads a passphrase the way OpenSSL's "-passin file:PATH"
// does: the first line of the file, without its line ending. An empty first line
// is an error, since it would silently mean "no passphrase".
func ReadPassphraseFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if len(data) > maxFileSize {
		clear(data)
		return nil, fmt.Errorf("passphrase file %s is larger than %d bytes", path, maxFileSize)
	}
	line := data
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		clear(data)
		return nil, fmt.Errorf("passphrase file %s: first line is empty", path)
	}
	out := bytes.Clone(line)
	clear(data)
	return out, nil
}

// fileKey is the crypto.Signer handed out for a key file. It keeps the key
// unexported so that callers sign through it and cannot reach the key material.
type fileKey struct {
	key  crypto.Signer
	path string
}

// Public returns the public key.
func (k *fileKey) Public() crypto.PublicKey { return k.key.Public() }

// Sign signs digest with the private key; see crypto.Signer.
func (k *fileKey) Sign(rand io.Reader, digest []byte,
	opts crypto.SignerOpts) ([]byte, error) {
	return k.key.Sign(rand, digest, opts)
}

// String describes the key without revealing it.
func (k *fileKey) String() string {
	s := signer.Describe(k.key.Public()) + " key"
	if k.path != "" {
		s += " from " + k.path
	}
	return s
}

// Format prints the description for every verb, so that no format string, not
// even %#v or %x, reaches the key's fields.
func (k *fileKey) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

func existsError(path string) error {
	return fmt.Errorf("key file %s already exists and Anchor never overwrites a key: %w",
		path, fs.ErrExist)
}

// writeNew writes data to a new file at path with mode 0600, atomically: readers
// see no file or the whole file, never part of one. A hard link puts the file in
// place because, unlike rename, it fails when path exists, so two writers racing
// cannot replace each other's key.
func writeNew(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName)
	}()

	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return fmt.Errorf("create key file %s: %w", path, err)
	}

	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return existsError(path)
		}
		// Some file systems (FAT, some network and FUSE mounts) have no hard
		// links. Fall back to rename, which leaves only a small race.
		if _, serr := os.Lstat(path); serr == nil {
			return existsError(path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return fmt.Errorf("create key file %s: %w", path, err)
		}
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable. Windows cannot open a folder to
// sync it and orders its metadata writes itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
