package file

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/anchorpki/anchor/signer"
)

func pkcs8(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testKey(t, signer.ECDSAP256))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestEncryptDecrypt(t *testing.T) {
	plain := pkcs8(t)
	enc, err := Encrypt(plain, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, plain[len(plain)-32:]) {
		t.Fatal("ciphertext contains the key's last 32 bytes")
	}
	enc2, _ := Encrypt(plain, testPassphrase)
	if bytes.Equal(enc, enc2) {
		t.Fatal("two encryptions are equal: salt or IV is not random")
	}
	got, err := Decrypt(enc, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("Decrypt(Encrypt(x)) != x")
	}
	if _, err := Encrypt(plain, nil); err == nil {
		t.Fatal("Encrypt with an empty passphrase succeeded")
	}
}

// TestDecryptWrongPassphrase tries many wrong passphrases: about one in 256 gives
// valid padding by chance, and must still be reported as a wrong passphrase.
func TestDecryptWrongPassphrase(t *testing.T) {
	plain := pkcs8(t)
	enc, err := encrypt(rand.Reader, plain, testPassphrase, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		_, err := Decrypt(enc, fmt.Appendf(nil, "wrong %d", i))
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("passphrase %d: err = %v, want ErrWrongPassphrase", i, err)
		}
	}
	if _, err := Decrypt(enc, nil); !errors.Is(err, ErrPassphraseRequired) {
		t.Fatalf("no passphrase: err = %v, want ErrPassphraseRequired", err)
	}
}

// params lets a test build an EncryptedPrivateKeyInfo field by field.
type params struct {
	pbes2OID, kdfOID, prfOID, encOID asn1.ObjectIdentifier
	salt, iv, data                   []byte
	iterations, keyLength            int
	trailing                         []byte
}

func goodParams(t *testing.T) params {
	enc, err := encrypt(rand.Reader, pkcs8(t), testPassphrase, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var info encryptedPrivateKeyInfo
	var p2 pbes2Params
	var kdf pbkdf2Params
	var iv []byte
	if err := unmarshalAll(enc, &info); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalAll(info.Algorithm.Parameters.FullBytes, &p2); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalAll(p2.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalAll(p2.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		t.Fatal(err)
	}
	return params{oidPBES2, oidPBKDF2, kdf.PRF.Algorithm, p2.EncryptionScheme.Algorithm,
		kdf.Salt, iv, info.EncryptedData, kdf.IterationCount, 0, nil}
}

func (p params) der(t *testing.T) []byte {
	prf := pkix.AlgorithmIdentifier{Algorithm: p.prfOID, Parameters: asn1.NullRawValue}
	if p.prfOID == nil {
		prf = pkix.AlgorithmIdentifier{}
	}
	kdf, err := asn1.Marshal(pbkdf2Params{p.salt, p.iterations, p.keyLength, prf})
	if err != nil {
		t.Fatal(err)
	}
	iv, _ := asn1.Marshal(p.iv)
	p2, err := asn1.Marshal(pbes2Params{
		algID(p.kdfOID, kdf),
		algID(p.encOID, iv),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{
		algID(p.pbes2OID, p2),
		p.data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(out, p.trailing...)
}

func algID(oid asn1.ObjectIdentifier, params []byte) pkix.AlgorithmIdentifier {
	raw := asn1.RawValue{FullBytes: params}
	return pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: raw}
}

func oid(arcs ...int) asn1.ObjectIdentifier { return arcs }

func TestDecryptMalformed(t *testing.T) {
	tests := []struct {
		name   string
		change func(*params)
		want   string
	}{
		{"unchanged", func(*params) {}, ""},
		{"PBES1", func(p *params) { p.pbes2OID = oid(1, 2, 840, 113549, 1, 5, 3) },
			"encryptionAlgorithm 1.2.840.113549.1.5.3 is not supported (want PBES2)"},
		{"scrypt", func(p *params) { p.kdfOID = oid(1, 3, 6, 1, 4, 1, 11591, 4, 11) },
			"keyDerivationFunc 1.3.6.1.4.1.11591.4.11 is not supported"},
		{"MD5 PRF", func(p *params) { p.prfOID = oid(1, 2, 840, 113549, 2, 5) },
			"prf 1.2.840.113549.2.5 is not supported"},
		{"3DES", func(p *params) { p.encOID = oid(1, 2, 840, 113549, 3, 7) },
			"encryptionScheme 1.2.840.113549.3.7 is not supported"},
		{"zero iterations", func(p *params) { p.iterations = 0 },
			"iterationCount 0 is out of range"},
		{"too many iterations", func(p *params) { p.iterations = maxIterations + 1 },
			"iterationCount 10000001 is out of range"},
		{"empty salt", func(p *params) { p.salt = nil }, "salt is 0 bytes"},
		{"huge salt", func(p *params) { p.salt = make([]byte, 2000) }, "salt is 2000 bytes"},
		{"short IV", func(p *params) { p.iv = p.iv[:8] }, "IV is 8 bytes (want 16)"},
		{"key length", func(p *params) { p.keyLength = 16 },
			"keyLength 16 does not match the AES key size 32"},
		{"negative key length", func(p *params) { p.keyLength = -1 },
			"keyLength -1 is negative"},
		{"ragged data", func(p *params) { p.data = p.data[:len(p.data)-1] },
			"want a non-zero multiple of 16"},
		{"no data", func(p *params) { p.data = nil }, "encryptedData is 0 bytes"},
		{"trailing bytes", func(p *params) { p.trailing = []byte{0} },
			"malformed EncryptedPrivateKeyInfo: 1 trailing bytes"},
		{"flipped last block", func(p *params) { p.data[len(p.data)-1] ^= 0x80 },
			"wrong passphrase"},
		{"other passphrase's salt", func(p *params) { p.salt[0] ^= 1 }, "wrong passphrase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := goodParams(t)
			tc.change(&p)
			_, err := Decrypt(p.der(t), testPassphrase)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDecryptDefaultPRFIsSHA1 encrypts by hand with PBKDF2-HMAC-SHA1 and leaves
// out the prf field, which then means hmacWithSHA1 (RFC 8018, appendix A.2).
func TestDecryptDefaultPRFIsSHA1(t *testing.T) {
	plain := pkcs8(t)
	p := goodParams(t)
	key, err := pbkdf2.Key(sha1.New, string(testPassphrase), p.salt, p.iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	n := aes.BlockSize - len(plain)%aes.BlockSize
	p.data = append(bytes.Clone(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(block, p.iv).CryptBlocks(p.data, p.data)
	p.prfOID = nil

	got, err := Decrypt(p.der(t), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("wrong plaintext")
	}
	p.prfOID = oidHMACWithSHA256
	if _, err := Decrypt(p.der(t), testPassphrase); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("with prf SHA-256: err = %v, want ErrWrongPassphrase", err)
	}
}

func TestDecryptGarbage(t *testing.T) {
	inputs := [][]byte{nil, {0x30}, {0x30, 0x80}, {0x04, 0x01, 0x00}, {0x30, 0x00}}
	for _, in := range inputs {
		if _, err := Decrypt(in, testPassphrase); err == nil {
			t.Errorf("Decrypt(%x) succeeded", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	key := testKey(f, signer.ECDSAP256)
	plain, _ := Marshal(key, nil)
	f.Add(plain, []byte(nil))
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	enc, _ := encrypt(rand.Reader, der, testPassphrase, 2)
	f.Add(enc, testPassphrase)
	empty := &pem.Block{Type: BlockEncryptedPrivateKey, Bytes: []byte{0x30, 0}}
	f.Add(pem.EncodeToMemory(empty), testPassphrase)
	f.Fuzz(func(t *testing.T, data, passphrase []byte) {
		// Only panics and hangs matter here; errors are expected.
		Parse(data, passphrase)
		Decrypt(data, passphrase)
	})
}

func BenchmarkEncrypt(b *testing.B) {
	der := pkcs8(b)
	for b.Loop() {
		if _, err := Encrypt(der, testPassphrase); err != nil {
			b.Fatal(err)
		}
	}
}
