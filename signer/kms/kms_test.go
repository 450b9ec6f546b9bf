package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/anchorpki/anchor/signer"
)

const testARN = "arn:aws:kms:us-east-1:111122223333:key/" +
	"0f8e9d2c-0000-4000-8000-000000000001"

// fakeKMS answers the calls of AdminClient from fields a test sets, and records
// what it was asked.
type fakeKMS struct {
	md          types.KeyMetadata
	publicDER   []byte
	describeErr error
	aliases     map[string]bool
	aliasErr    error

	signs     []*awskms.SignInput
	createdID string
	deleted   []string
	deleteIn  *awskms.ScheduleKeyDeletionInput
}

func (f *fakeKMS) DescribeKey(_ context.Context, in *awskms.DescribeKeyInput,
	_ ...func(*awskms.Options)) (*awskms.DescribeKeyOutput, error) {
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	id := aws.ToString(in.KeyId)
	if strings.HasPrefix(id, "alias/") && !f.aliases[id] {
		return nil, &types.NotFoundException{Message: aws.String("Alias " + id + " not found")}
	}
	md := f.md
	return &awskms.DescribeKeyOutput{KeyMetadata: &md}, nil
}

func (f *fakeKMS) GetPublicKey(_ context.Context, in *awskms.GetPublicKeyInput,
	_ ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error) {
	return &awskms.GetPublicKeyOutput{PublicKey: f.publicDER, KeyId: in.KeyId}, nil
}

func (f *fakeKMS) Sign(_ context.Context, in *awskms.SignInput,
	_ ...func(*awskms.Options)) (*awskms.SignOutput, error) {
	f.signs = append(f.signs, in)
	return &awskms.SignOutput{Signature: []byte{0x30, 0}}, nil
}

func (f *fakeKMS) CreateKey(_ context.Context, in *awskms.CreateKeyInput,
	_ ...func(*awskms.Options)) (*awskms.CreateKeyOutput, error) {
	f.createdID = "0f8e9d2c-0000-4000-8000-000000000001"
	f.md.KeySpec = in.KeySpec
	return &awskms.CreateKeyOutput{KeyMetadata: &types.KeyMetadata{KeyId: &f.createdID}}, nil
}

func (f *fakeKMS) CreateAlias(_ context.Context, in *awskms.CreateAliasInput,
	_ ...func(*awskms.Options)) (*awskms.CreateAliasOutput, error) {
	if f.aliasErr != nil {
		return nil, f.aliasErr
	}
	if f.aliases == nil {
		f.aliases = map[string]bool{}
	}
	f.aliases[aws.ToString(in.AliasName)] = true
	return &awskms.CreateAliasOutput{}, nil
}

func (f *fakeKMS) ScheduleKeyDeletion(_ context.Context,
	in *awskms.ScheduleKeyDeletionInput,
	_ ...func(*awskms.Options)) (*awskms.ScheduleKeyDeletionOutput, error) {
	f.deleteIn = in
	f.deleted = append(f.deleted, aws.ToString(in.KeyId))
	return &awskms.ScheduleKeyDeletionOutput{}, nil
}

func spki(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

var (
	p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2k   *rsa.PrivateKey
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	if rsa2k == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsa2k = k
	}
	return rsa2k
}

func enabled(spec types.KeySpec) types.KeyMetadata {
	return types.KeyMetadata{
		Arn: aws.String(testARN), KeyId: aws.String("0f8e9d2c"), KeySpec: spec,
		KeyState: types.KeyStateEnabled, KeyUsage: types.KeyUsageTypeSignVerify,
	}
}

func TestNewChecksKey(t *testing.T) {
	lookupErr := errors.New("connection refused")
	tests := []struct {
		name   string
		change func(*fakeKMS)
		want   string
	}{
		{"good", func(*fakeKMS) {}, ""},
		{"disabled", func(f *fakeKMS) { f.md.KeyState = types.KeyStateDisabled },
			"is in state Disabled (want Enabled)"},
		{"pending deletion",
			func(f *fakeKMS) { f.md.KeyState = types.KeyStatePendingDeletion },
			"is in state PendingDeletion (want Enabled)"},
		{"encryption key",
			func(f *fakeKMS) { f.md.KeyUsage = types.KeyUsageTypeEncryptDecrypt },
			"has KeyUsage ENCRYPT_DECRYPT (want SIGN_VERIFY)"},
		{"secp256k1", func(f *fakeKMS) { f.md.KeySpec = types.KeySpecEccSecgP256k1 },
			"has KeySpec ECC_SECG_P256K1 (want one of ECC_NIST_P256, ECC_NIST_P384, " +
				"ECC_NIST_P521, RSA_2048, RSA_3072, RSA_4096)"},
		{"spec and key disagree", func(f *fakeKMS) { f.publicDER = spki(t, &p384.PublicKey) },
			"KeySpec ECC_NIST_P256 but the public key is ECDSA P-384"},
		{"bad public key", func(f *fakeKMS) { f.publicDER = []byte{0x30, 0} },
			"malformed public key"},
		{"no ARN", func(f *fakeKMS) { f.md.Arn = nil }, "answer has no key ARN"},
		{"lookup fails", func(f *fakeKMS) { f.describeErr = lookupErr },
			"describe KMS key alias/anchor/issuing: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKMS{md: enabled(types.KeySpecEccNistP256),
				publicDER: spki(t, &p256.PublicKey),
				aliases:   map[string]bool{"alias/anchor/issuing": true}}
			tc.change(f)
			s, err := New(context.Background(), f, "alias/anchor/issuing")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.KeyARN() != testARN || s.KeyType() != signer.ECDSAP256 {
					t.Errorf("ARN %q, type %s", s.KeyARN(), s.KeyType())
				}
				if !p256.PublicKey.Equal(s.Public()) {
					t.Error("wrong public key")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := New(context.Background(), &fakeKMS{}, ""); err == nil {
		t.Error("New with an empty key ID succeeded")
	}
	f := &fakeKMS{describeErr: lookupErr}
	if _, err := New(context.Background(), f, "k"); !errors.Is(err, lookupErr) {
		t.Errorf("err = %v, want it to wrap the client's error", err)
	}
}

func TestSignRequest(t *testing.T) {
	d := func(n int) []byte { return make([]byte, n) }
	pss := func(h crypto.Hash, salt int) *rsa.PSSOptions {
		return &rsa.PSSOptions{Hash: h, SaltLength: salt}
	}
	tests := []struct {
		name   string
		spec   types.KeySpec
		algs   []types.SigningAlgorithmSpec
		digest []byte
		opts   crypto.SignerOpts
		want   types.SigningAlgorithmSpec
		err    string
	}{
		{"P-256 SHA-256", types.KeySpecEccNistP256, nil, d(32), crypto.SHA256,
			types.SigningAlgorithmSpecEcdsaSha256, ""},
		{"P-256 SHA-384", types.KeySpecEccNistP256, nil, d(48), crypto.SHA384, "",
			"KeySpec ECC_NIST_P256 cannot sign with ECDSA_SHA_384"},
		{"P-256 listed algorithms", types.KeySpecEccNistP256,
			[]types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256},
			d(32), crypto.SHA256, types.SigningAlgorithmSpecEcdsaSha256, ""},
		{"RSA SHA-256", types.KeySpecRsa2048, nil, d(32), crypto.SHA256,
			types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, ""},
		{"RSA SHA-512", types.KeySpecRsa2048, nil, d(64), crypto.SHA512,
			types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, ""},
		{"RSA PSS SHA-384", types.KeySpecRsa2048, nil, d(48),
			pss(crypto.SHA384, rsa.PSSSaltLengthEqualsHash),
			types.SigningAlgorithmSpecRsassaPssSha384, ""},
		{"RSA PSS salt 48", types.KeySpecRsa2048, nil, d(48), pss(crypto.SHA384, 48),
			types.SigningAlgorithmSpecRsassaPssSha384, ""},
		{"RSA PSS salt 20", types.KeySpecRsa2048, nil, d(32), pss(crypto.SHA256, 20), "",
			"PSS salt length 20 is not supported"},
		{"RSA PSS not listed", types.KeySpecRsa2048,
			[]types.SigningAlgorithmSpec{types.SigningAlgorithmSpecRsassaPkcs1V15Sha256},
			d(32), pss(crypto.SHA256, rsa.PSSSaltLengthEqualsHash), "",
			"KeySpec RSA_2048 cannot sign with RSASSA_PSS_SHA_256"},
		{"SHA-1", types.KeySpecRsa2048, nil, d(20), crypto.SHA1, "",
			"hash SHA-1 is not supported"},
		{"no hash", types.KeySpecEccNistP256, nil, d(32), crypto.Hash(0), "",
			"hash none is not supported"},
		{"nil opts", types.KeySpecEccNistP256, nil, d(32), nil, "", "opts is nil"},
		{"wrong digest length", types.KeySpecRsa2048, nil, d(20), crypto.SHA256, "",
			"digest is 20 bytes, want 32 for SHA-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKMS{md: enabled(tc.spec)}
			f.md.SigningAlgorithms = tc.algs
			if tc.spec == types.KeySpecRsa2048 {
				f.publicDER = spki(t, &rsaKey(t).PublicKey)
			} else {
				f.publicDER = spki(t, &p256.PublicKey)
			}
			s, err := New(context.Background(), f, "key")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Sign(rand.Reader, tc.digest, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				if len(f.signs) != 0 {
					t.Error("a refused request reached KMS")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.signs) != 1 {
				t.Fatalf("%d Sign calls, want 1", len(f.signs))
			}
			in := f.signs[0]
			if aws.ToString(in.KeyId) != testARN || in.MessageType != types.MessageTypeDigest ||
				in.SigningAlgorithm != tc.want || len(in.Message) != len(tc.digest) {
				t.Errorf("request KeyId %q, MessageType %s, algorithm %s, %d bytes; "+
					"want %q, DIGEST, %s, %d", aws.ToString(in.KeyId), in.MessageType,
					in.SigningAlgorithm, len(in.Message), testARN, tc.want, len(tc.digest))
			}
		})
	}
}

func TestCreateCleansUp(t *testing.T) {
	f := &fakeKMS{md: enabled(""), publicDER: spki(t, &p256.PublicKey),
		aliasErr: &types.AlreadyExistsException{Message: aws.String("alias exists")}}
	_, err := Create(context.Background(), f, signer.ECDSAP256, "anchor/root")
	if !errors.Is(err, ErrAliasExists) || !errors.Is(err, fs.ErrExist) {
		t.Errorf("err = %v, want ErrAliasExists", err)
	}
	if !strings.Contains(err.Error(), "scheduled for deletion") {
		t.Errorf("err = %v, want it to say the key is scheduled for deletion", err)
	}
	if len(f.deleted) != 1 || f.deleted[0] != f.createdID ||
		aws.ToInt32(f.deleteIn.PendingWindowInDays) != 7 {
		t.Errorf("deleted %v, want [%s] with a 7-day window", f.deleted, f.createdID)
	}
}

func TestCreateAlias(t *testing.T) {
	f := &fakeKMS{md: enabled(""), publicDER: spki(t, &p256.PublicKey)}
	s, err := Create(context.Background(), f, signer.ECDSAP256, "anchor/root")
	if err != nil {
		t.Fatal(err)
	}
	if !f.aliases["alias/anchor/root"] || s.spec != types.KeySpecEccNistP256 {
		t.Errorf("aliases %v, spec %s", f.aliases, s.spec)
	}
	_, err = Create(context.Background(), f, signer.ECDSAP256, "alias/anchor/root")
	if !errors.Is(err, ErrAliasExists) {
		t.Errorf("second Create: err = %v, want ErrAliasExists", err)
	}
	if _, err := Create(context.Background(), f, "ed25519", "x"); err == nil ||
		!strings.Contains(err.Error(), `key type "ed25519" has no KMS key spec`) {
		t.Errorf("unknown key type: err = %v", err)
	}
}

func TestAliasName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"anchor/root", "alias/anchor/root", ""},
		{"alias/anchor/root", "alias/anchor/root", ""},
		{"anchor_issuing-2", "alias/anchor_issuing-2", ""},
		{"", "", "is not valid"},
		{"alias/", "", "is not valid"},
		{"anchor root", "", "is not valid"},
		{"anchör", "", "is not valid"},
		{"aws/mine", "", "reserved for AWS"},
		{strings.Repeat("a", 251), "", "is not valid"},
	}
	for _, tc := range tests {
		got, err := aliasName(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("aliasName(%q): err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("aliasName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestKeySpec(t *testing.T) {
	want := map[signer.KeyType]types.KeySpec{
		signer.ECDSAP256: "ECC_NIST_P256", signer.ECDSAP384: "ECC_NIST_P384",
		signer.ECDSAP521: "ECC_NIST_P521", signer.RSA2048: "RSA_2048",
		signer.RSA3072: "RSA_3072", signer.RSA4096: "RSA_4096",
	}
	for _, kt := range signer.KeyTypes {
		got, err := KeySpec(kt)
		if err != nil || got != want[kt] {
			t.Errorf("KeySpec(%s) = %s, %v; want %s", kt, got, err, want[kt])
		}
	}
}
