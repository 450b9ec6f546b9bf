package file

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Iterations is the PBKDF2-HMAC-SHA256 iteration count Anchor writes. 600,000 is
// the count OWASP's password storage guidance recommends for this PRF since 2023.
// It costs a fraction of a second once per process start, and makes each guess at
// the passphrase of a stolen key file cost the same.
const Iterations = 600_000

// Limits on what Decrypt accepts. A key file is trusted no more than any other
// input: without a ceiling, a file claiming 2^62 iterations would hang Load.
// Ten million iterations is over sixteen times what Anchor writes and still
// finishes in a few seconds.
const (
	maxIterations = 10_000_000
	maxSaltSize   = 1024
	saltSize      = 16
)

// Object identifiers from RFC 8018 (PKCS #5 v2.1) and NIST's AES arc.
var (
	oidPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// prfs maps the PBKDF2 pseudo-random functions Decrypt accepts to their hashes.
// OpenSSL 3 writes hmacWithSHA256; older tools wrote the RFC's default, SHA-1.
var prfs = []struct {
	oid  asn1.ObjectIdentifier
	hash func() hash.Hash
	name string
}{
	{oidHMACWithSHA1, sha1.New, "hmacWithSHA1"},
	{oidHMACWithSHA224, sha256.New224, "hmacWithSHA224"},
	{oidHMACWithSHA256, sha256.New, "hmacWithSHA256"},
	{oidHMACWithSHA384, sha512.New384, "hmacWithSHA384"},
	{oidHMACWithSHA512, sha512.New, "hmacWithSHA512"},
}

// aesCBC maps the AES-CBC encryption schemes Decrypt accepts to their key sizes.
var aesCBC = []struct {
	oid     asn1.ObjectIdentifier
	keySize int
}{
	{oidAES128CBC, 16},
	{oidAES192CBC, 24},
	{oidAES256CBC, 32},
}

// encryptedPrivateKeyInfo is the EncryptedPrivateKeyInfo of RFC 5958, section 3.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbes2Params is PBES2-params of RFC 8018, appendix A.4.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2Params is PBKDF2-params of RFC 8018, appendix A.2. Only the "specified"
// choice of salt (an OCTET STRING) is supported; no tool in use writes the other.
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// Encrypt wraps a PKCS #8 PrivateKeyInfo (DER) into an EncryptedPrivateKeyInfo
// (DER) under passphrase: PBES2 with PBKDF2-HMAC-SHA256 at Iterations rounds and a
// fresh random 16-byte salt, and AES-256-CBC with a fresh random IV. OpenSSL
// reads the result (PEM type "ENCRYPTED PRIVATE KEY").
func Encrypt(privateKeyInfo, passphrase []byte) ([]byte, error) {
	return encrypt(rand.Reader, privateKeyInfo, passphrase, Iterations)
}

func encrypt(rnd io.Reader, plain, passphrase []byte, iterations int) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("encrypt private key: empty passphrase")
	}
	salt := make([]byte, saltSize)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return nil, fmt.Errorf("encrypt private key: read salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, fmt.Errorf("encrypt private key: read IV: %w", err)
	}

	key, err := pbkdf2.Key(sha256.New, string(passphrase), salt, iterations, 32)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: derive key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	// PKCS #7 padding (RFC 8018, section 6.1.1): always 1 to 16 bytes.
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	data := make([]byte, len(plain)+pad)
	copy(data, plain)
	for i := len(plain); i < len(data); i++ {
		data[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)

	kdf, err := asn1.Marshal(pbkdf2Params{
		Salt:           salt,
		IterationCount: iterations,
		PRF: pkix.AlgorithmIdentifier{
			Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: encode PBKDF2 parameters: %w", err)
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: encode IV: %w", err)
	}
	params, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{
			Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		EncryptionScheme: pkix.AlgorithmIdentifier{
			Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: encode PBES2 parameters: %w", err)
	}
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{
			Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		EncryptedData: data,
	})
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: encode: %w", err)
	}
	return out, nil
}

// Decrypt unwraps an EncryptedPrivateKeyInfo (DER) and returns the PKCS #8
// PrivateKeyInfo (DER) inside it. It accepts PBES2 with PBKDF2 (HMAC with SHA-1,
// SHA-224, SHA-256, SHA-384 or SHA-512) and AES-128, AES-192 or AES-256 in CBC
// mode, which covers what Encrypt and OpenSSL 1.1 and 3 write. A passphrase that
// does not decrypt the key gives an error wrapping ErrWrongPassphrase.
func Decrypt(encryptedPrivateKeyInfoDER, passphrase []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if err := unmarshalAll(encryptedPrivateKeyInfoDER, &info); err != nil {
		return nil, fmt.Errorf("malformed EncryptedPrivateKeyInfo: %w", err)
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encryptionAlgorithm %s is not supported (want PBES2); "+
			"re-encrypt the key with: openssl pkcs8 -topk8 -v2 aes-256-cbc "+
			"-v2prf hmacWithSHA256 -in OLD -out NEW", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if err := unmarshalAll(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("malformed PBES2 parameters: %w", err)
	}

	prf, keySize, kdf, err := parseKDF(params.KeyDerivationFunc)
	if err != nil {
		return nil, err
	}
	enc := params.EncryptionScheme
	keySize2 := 0
	for _, c := range aesCBC {
		if enc.Algorithm.Equal(c.oid) {
			keySize2 = c.keySize
		}
	}
	if keySize2 == 0 {
		return nil, fmt.Errorf("PBES2 encryptionScheme %s is not supported "+
			"(want AES-128-CBC, AES-192-CBC or AES-256-CBC)", enc.Algorithm)
	}
	if keySize != 0 && keySize != keySize2 {
		return nil, fmt.Errorf("PBKDF2 keyLength %d does not match the AES key size %d",
			keySize, keySize2)
	}
	var iv []byte
	if err := unmarshalAll(enc.Parameters.FullBytes, &iv); err != nil {
		return nil, fmt.Errorf("malformed AES-CBC IV: %w", err)
	}
	if len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("AES-CBC IV is %d bytes (want %d)", len(iv), aes.BlockSize)
	}
	data := info.EncryptedData
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("encryptedData is %d bytes (want a non-zero multiple of %d)",
			len(data), aes.BlockSize)
	}
	if len(passphrase) == 0 {
		return nil, ErrPassphraseRequired
	}

	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.IterationCount, keySize2)
	if err != nil {
		return nil, fmt.Errorf("derive key with PBKDF2: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	plain, ok := unpad(plain)
	// CBC has no integrity check: a wrong key shows as bad padding, or, about once
	// in 256 tries, as good padding around garbage. The DER check catches that.
	if !ok || !isDERSequence(plain) {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

// parseKDF checks PBES2's keyDerivationFunc and returns the PRF, the key length
// it names (0 when absent) and its parameters.
func parseKDF(alg pkix.AlgorithmIdentifier) (func() hash.Hash, int, pbkdf2Params, error) {
	var p pbkdf2Params
	if !alg.Algorithm.Equal(oidPBKDF2) {
		return nil, 0, p, fmt.Errorf(
			"PBES2 keyDerivationFunc %s is not supported (want PBKDF2)", alg.Algorithm)
	}
	if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
		return nil, 0, p, fmt.Errorf("malformed PBKDF2 parameters: %w", err)
	}
	if len(p.Salt) == 0 || len(p.Salt) > maxSaltSize {
		return nil, 0, p, fmt.Errorf("PBKDF2 salt is %d bytes (want 1 to %d)",
			len(p.Salt), maxSaltSize)
	}
	if p.IterationCount < 1 || p.IterationCount > maxIterations {
		return nil, 0, p, fmt.Errorf("PBKDF2 iterationCount %d is out of range (want 1 to %d)",
			p.IterationCount, maxIterations)
	}
	if p.KeyLength < 0 {
		return nil, 0, p, fmt.Errorf("PBKDF2 keyLength %d is negative", p.KeyLength)
	}
	if len(p.PRF.Algorithm) == 0 {
		return sha1.New, p.KeyLength, p, nil // the DEFAULT of RFC 8018, appendix A.2
	}
	for _, f := range prfs {
		if p.PRF.Algorithm.Equal(f.oid) {
			return f.hash, p.KeyLength, p, nil
		}
	}
	return nil, 0, p, fmt.Errorf("PBKDF2 prf %s is not supported (want hmacWithSHA256)",
		p.PRF.Algorithm)
}

// unpad strips PKCS #7 padding. It looks at every padding byte whatever their
// values, so its time does not depend on where the padding goes wrong.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	want := bytes.Repeat([]byte{byte(n)}, n)
	if subtle.ConstantTimeCompare(b[len(b)-n:], want) != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}

// isDERSequence reports whether b is exactly one DER SEQUENCE, as a decrypted
// PrivateKeyInfo must be.
func isDERSequence(b []byte) bool {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	return err == nil && len(rest) == 0 && v.Class == asn1.ClassUniversal &&
		v.Tag == asn1.TagSequence && v.IsCompound
}

// unmarshalAll decodes DER into v and rejects trailing bytes.
func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	return nil
}
