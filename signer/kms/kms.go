// Package kms signs with CA keys held in AWS Key Management Service.
//
// The private key never leaves KMS. A Signer learns the key's spec and public key
// once, in New, and then sends only digests to KMS (MessageType DIGEST), so that
// certificates and CRLs of any size are signed with one small request each; KMS
// refuses raw messages over 4096 bytes, and a large CRL is far bigger.
//
// Supported keys are asymmetric KMS keys with key usage SIGN_VERIFY and key spec
// ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, RSA_2048, RSA_3072 or RSA_4096,
// matching signer.KeyTypes one for one. The signing algorithm follows the key
// spec and the hash the caller asks for (crypto.SignerOpts): ECDSA_SHA_256 for
// P-256 with SHA-256, RSASSA_PKCS1_V1_5_SHA_256 for RSA with SHA-256,
// RSASSA_PSS_SHA_256 when the options are *rsa.PSSOptions, and so on. KMS lets a
// NIST curve sign only with its own hash (P-256 with SHA-256, P-384 with SHA-384,
// P-521 with SHA-512), which is also the hash package signer picks for it.
//
// New resolves an alias to its key ARN and pins the ARN, so re-pointing the
// alias later does not change the key under a running CA. Create makes a key and
// its alias for `anchor init` and never re-points an existing alias.
//
// The client is any value with the methods of *kms.Client that this package
// calls (Client, AdminClient), so tests may pass a fake. For a KMS-compatible
// server on another address, set the client's BaseEndpoint.
package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/anchorpki/anchor/signer"
)

// Client is the part of *kms.Client (aws-sdk-go-v2) that a Signer uses.
type Client interface {
	DescribeKey(ctx context.Context, in *awskms.DescribeKeyInput,
		optFns ...func(*awskms.Options)) (*awskms.DescribeKeyOutput, error)
	GetPublicKey(ctx context.Context, in *awskms.GetPublicKeyInput,
		optFns ...func(*awskms.Options)) (*awskms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *awskms.SignInput,
		optFns ...func(*awskms.Options)) (*awskms.SignOutput, error)
}

// AdminClient adds the calls Create makes to Client. *kms.Client satisfies it.
type AdminClient interface {
	Client
	CreateKey(ctx context.Context, in *awskms.CreateKeyInput,
		optFns ...func(*awskms.Options)) (*awskms.CreateKeyOutput, error)
	CreateAlias(ctx context.Context, in *awskms.CreateAliasInput,
		optFns ...func(*awskms.Options)) (*awskms.CreateAliasOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *awskms.ScheduleKeyDeletionInput,
		optFns ...func(*awskms.Options)) (*awskms.ScheduleKeyDeletionOutput, error)
}

// ErrAliasExists is returned by Create when the alias already names a key. It
// wraps fs.ErrExist, as an existing key file does in package signer/file.
var ErrAliasExists = fmt.Errorf("KMS alias already exists and Anchor never re-points "+
	"it: %w", fs.ErrExist)

// SignTimeout bounds a Sign call, which has no context of its own; SignContext
// takes the caller's context instead. It covers the SDK's retries.
const SignTimeout = 30 * time.Second

// keySpecs maps Anchor's key types to KMS key specs, with the hash KMS lets each
// ECC spec sign with (zero for RSA, which signs with SHA-256, -384 or -512).
var keySpecs = []struct {
	keyType signer.KeyType
	spec    types.KeySpec
	ecHash  crypto.Hash
}{
	{signer.ECDSAP256, types.KeySpecEccNistP256, crypto.SHA256},
	{signer.ECDSAP384, types.KeySpecEccNistP384, crypto.SHA384},
	{signer.ECDSAP521, types.KeySpecEccNistP521, crypto.SHA512},
	{signer.RSA2048, types.KeySpecRsa2048, 0},
	{signer.RSA3072, types.KeySpecRsa3072, 0},
	{signer.RSA4096, types.KeySpecRsa4096, 0},
}

// KeySpec returns the KMS key spec for an Anchor key type.
func KeySpec(kt signer.KeyType) (types.KeySpec, error) {
	for _, s := range keySpecs {
		if s.keyType == kt {
			return s.spec, nil
		}
	}
	return "", fmt.Errorf("key type %q has no KMS key spec", kt)
}

// Signer is a crypto.Signer for one KMS key. It is safe for concurrent use.
type Signer struct {
	client  Client
	arn     string
	keyType signer.KeyType
	spec    types.KeySpec
	algs    []types.SigningAlgorithmSpec // what the key may sign with
	pub     crypto.PublicKey
}

// New looks up the key keyID (a key ID, key ARN, alias name such as
// "alias/anchor/issuing", or alias ARN) and returns a Signer for it. It checks
// that the key is enabled, is for signing, has a supported spec, and that its
// public key matches the spec.
func New(ctx context.Context, client Client, keyID string) (*Signer, error) {
	if keyID == "" {
		return nil, errors.New("KMS key ID is empty")
	}
	desc, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &keyID})
	if err != nil {
		return nil, fmt.Errorf("describe KMS key %s: %w", keyID, err)
	}
	md := desc.KeyMetadata
	if md == nil || md.Arn == nil || *md.Arn == "" {
		return nil, fmt.Errorf("describe KMS key %s: answer has no key ARN", keyID)
	}
	s := &Signer{client: client, arn: *md.Arn, spec: md.KeySpec, algs: md.SigningAlgorithms}
	if md.KeyState != types.KeyStateEnabled {
		return nil, fmt.Errorf("KMS key %s is in state %s (want Enabled)", s.arn, md.KeyState)
	}
	if md.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("KMS key %s has KeyUsage %s (want SIGN_VERIFY)",
			s.arn, md.KeyUsage)
	}
	for _, ks := range keySpecs {
		if ks.spec == s.spec {
			s.keyType = ks.keyType
		}
	}
	if s.keyType == "" {
		return nil, fmt.Errorf("KMS key %s has KeySpec %s (want one of %s)",
			s.arn, s.spec, strings.Join(specNames(), ", "))
	}
	if len(s.algs) == 0 {
		s.algs = defaultAlgorithms(s.spec)
	}

	pk, err := client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: &s.arn})
	if err != nil {
		return nil, fmt.Errorf("get public key of KMS key %s: %w", s.arn, err)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("KMS key %s: malformed public key: %w", s.arn, err)
	}
	if got := keyTypeOf(pub); got != s.keyType {
		return nil, fmt.Errorf("KMS key %s: KeySpec %s but the public key is %s",
			s.arn, s.spec, signer.Describe(pub))
	}
	if err := signer.CheckPublicKey(pub); err != nil {
		return nil, fmt.Errorf("KMS key %s: %w", s.arn, err)
	}
	s.pub = pub
	return s, nil
}

// Create makes a new signing key of type kt in KMS, names it alias, and returns
// a Signer for it. alias may be given with or without the "alias/" prefix. If the
// alias exists, Create makes nothing and returns an error wrapping
// ErrAliasExists. If the alias cannot be made, the new key is scheduled for
// deletion so that no unnamed key is left behind.
func Create(ctx context.Context, client AdminClient, kt signer.KeyType,
	alias string) (*Signer, error) {
	spec, err := KeySpec(kt)
	if err != nil {
		return nil, err
	}
	alias, err = aliasName(alias)
	if err != nil {
		return nil, err
	}
	_, err = client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &alias})
	if err == nil {
		return nil, fmt.Errorf("create KMS key %s: %w", alias, ErrAliasExists)
	}
	if _, ok := errors.AsType[*types.NotFoundException](err); !ok {
		return nil, fmt.Errorf("create KMS key %s: look up alias: %w", alias, err)
	}

	desc := "Anchor CA key " + alias
	out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{
		KeySpec:     spec,
		KeyUsage:    types.KeyUsageTypeSignVerify,
		Description: &desc,
	})
	if err != nil {
		return nil, fmt.Errorf("create KMS key %s: %w", alias, err)
	}
	if out.KeyMetadata == nil || out.KeyMetadata.KeyId == nil {
		return nil, fmt.Errorf("create KMS key %s: answer has no key ID", alias)
	}
	keyID := *out.KeyMetadata.KeyId
	_, err = client.CreateAlias(ctx, &awskms.CreateAliasInput{
		AliasName: &alias, TargetKeyId: &keyID})
	if err != nil {
		err = fmt.Errorf("create KMS alias %s for key %s: %w", alias, keyID, err)
		if _, ok := errors.AsType[*types.AlreadyExistsException](err); ok {
			err = fmt.Errorf("%w (%w)", err, ErrAliasExists)
		}
		days := int32(7) // the shortest window KMS allows
		_, derr := client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{
			KeyId: &keyID, PendingWindowInDays: &days})
		if derr != nil {
			return nil, fmt.Errorf("%w; deleting the new key failed too, delete it by "+
				"hand: %w", err, derr)
		}
		return nil, fmt.Errorf("%w; the new key is scheduled for deletion", err)
	}
	return New(ctx, client, keyID)
}

// aliasNameRE is KMS's rule for alias names. Names under alias/aws/ belong to AWS.
var aliasNameRE = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

func aliasName(alias string) (string, error) {
	if !strings.HasPrefix(alias, "alias/") {
		alias = "alias/" + alias
	}
	if !aliasNameRE.MatchString(alias) {
		return "", fmt.Errorf("KMS alias %q is not valid (want alias/NAME, NAME of up to "+
			"250 letters, digits, /, _ and -)", alias)
	}
	if strings.HasPrefix(alias, "alias/aws/") {
		return "", fmt.Errorf("KMS alias %q is reserved for AWS managed keys", alias)
	}
	return alias, nil
}

// Public returns the key's public key: *ecdsa.PublicKey or *rsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// KeyARN returns the ARN of the KMS key, resolved from the ID New was given.
func (s *Signer) KeyARN() string { return s.arn }

// KeyType returns the Anchor key type of the KMS key.
func (s *Signer) KeyType() signer.KeyType { return s.keyType }

// String describes the signer, e.g. "ECDSA P-256 KMS key arn:aws:kms:...".
func (s *Signer) String() string {
	return signer.Describe(s.pub) + " KMS key " + s.arn
}

// Sign signs digest, the hash of a message under opts.HashFunc(), with the KMS
// key; rand is not used, since KMS draws its own randomness. The call times out
// after SignTimeout. ECDSA signatures are ASN.1 DER, as crypto/ecdsa makes them.
func (s *Signer) Sign(_ io.Reader, digest []byte,
	opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), SignTimeout)
	defer cancel()
	return s.SignContext(ctx, digest, opts)
}

// SignContext is Sign with the caller's context.
func (s *Signer) SignContext(ctx context.Context, digest []byte,
	opts crypto.SignerOpts) ([]byte, error) {
	alg, err := s.algorithm(opts)
	if err != nil {
		return nil, err
	}
	if h := opts.HashFunc(); len(digest) != h.Size() {
		return nil, fmt.Errorf("sign with KMS key %s: digest is %d bytes, want %d for %s",
			s.arn, len(digest), h.Size(), h)
	}
	out, err := s.client.Sign(ctx, &awskms.SignInput{
		KeyId:            &s.arn,
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: alg,
	})
	if err != nil {
		return nil, fmt.Errorf("sign with KMS key %s (%s): %w", s.arn, alg, err)
	}
	if len(out.Signature) == 0 {
		return nil, fmt.Errorf("sign with KMS key %s (%s): empty signature", s.arn, alg)
	}
	return out.Signature, nil
}

// algorithm picks the KMS signing algorithm for the key and opts.
func (s *Signer) algorithm(opts crypto.SignerOpts) (types.SigningAlgorithmSpec, error) {
	if opts == nil {
		return "", fmt.Errorf("sign with KMS key %s: no hash given (opts is nil)", s.arn)
	}
	h := opts.HashFunc()
	suffix := map[crypto.Hash]string{
		crypto.SHA256: "SHA_256", crypto.SHA384: "SHA_384", crypto.SHA512: "SHA_512",
	}[h]
	if suffix == "" {
		return "", fmt.Errorf("sign with KMS key %s: hash %s is not supported "+
			"(want SHA-256, SHA-384 or SHA-512)", s.arn, hashName(h))
	}

	var alg types.SigningAlgorithmSpec
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		alg = types.SigningAlgorithmSpec("ECDSA_" + suffix)
	case *rsa.PublicKey:
		alg = types.SigningAlgorithmSpec("RSASSA_PKCS1_V1_5_" + suffix)
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			// KMS's PSS salt is as long as the hash.
			if pss.SaltLength != rsa.PSSSaltLengthAuto &&
				pss.SaltLength != rsa.PSSSaltLengthEqualsHash &&
				pss.SaltLength != h.Size() {
				return "", fmt.Errorf("sign with KMS key %s: PSS salt length %d is not "+
					"supported (KMS uses the hash length, %d)", s.arn, pss.SaltLength, h.Size())
			}
			alg = types.SigningAlgorithmSpec("RSASSA_PSS_" + suffix)
		}
	}
	if !slices.Contains(s.algs, alg) {
		return "", fmt.Errorf("sign with KMS key %s: KeySpec %s cannot sign with %s",
			s.arn, s.spec, alg)
	}
	return alg, nil
}

// defaultAlgorithms is what KMS lets a key spec sign with, for servers whose
// DescribeKey leaves SigningAlgorithms out: an ECC key only with its own hash.
func defaultAlgorithms(spec types.KeySpec) []types.SigningAlgorithmSpec {
	for _, ks := range keySpecs {
		if ks.spec != spec {
			continue
		}
		switch ks.ecHash {
		case crypto.SHA256:
			return []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}
		case crypto.SHA384:
			return []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha384}
		case crypto.SHA512:
			return []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha512}
		}
		return []types.SigningAlgorithmSpec{
			types.SigningAlgorithmSpecRsassaPkcs1V15Sha256,
			types.SigningAlgorithmSpecRsassaPkcs1V15Sha384,
			types.SigningAlgorithmSpecRsassaPkcs1V15Sha512,
			types.SigningAlgorithmSpecRsassaPssSha256,
			types.SigningAlgorithmSpecRsassaPssSha384,
			types.SigningAlgorithmSpecRsassaPssSha512,
		}
	}
	return nil
}

// keyTypeOf names the Anchor key type of a public key, or "" if none fits.
func keyTypeOf(pub crypto.PublicKey) signer.KeyType {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return signer.ECDSAP256
		case elliptic.P384():
			return signer.ECDSAP384
		case elliptic.P521():
			return signer.ECDSAP521
		}
	case *rsa.PublicKey:
		switch pub.N.BitLen() {
		case 2048:
			return signer.RSA2048
		case 3072:
			return signer.RSA3072
		case 4096:
			return signer.RSA4096
		}
	}
	return ""
}

func specNames() []string {
	names := make([]string, len(keySpecs))
	for i, ks := range keySpecs {
		names[i] = string(ks.spec)
	}
	return names
}

func hashName(h crypto.Hash) string {
	if h == 0 {
		return "none"
	}
	return h.String()
}
