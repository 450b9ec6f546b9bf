package ca

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/anchorpki/anchor/signer"
	"github.com/anchorpki/anchor/signer/file"
	"github.com/anchorpki/anchor/signer/kms"
	"github.com/anchorpki/anchor/signer/pkcs11"
)

// FileKeys keeps CA keys as PKCS#8 PEM files in Dir, mode 0600, encrypted when
// Passphrase is set.
type FileKeys struct {
	Dir        string
	Passphrase []byte
}

// Ref names the key file of a CA.
func (k FileKeys) Ref(slug string) string { return slug + ".key" }

// Create makes a new key file named ref.
func (k FileKeys) Create(_ context.Context, ref string, kt signer.KeyType) (crypto.Signer, error) {
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return nil, err
	}
	return file.Create(filepath.Join(k.Dir, ref), kt, k.Passphrase)
}

// Load reads the key file named ref.
func (k FileKeys) Load(_ context.Context, ref string) (crypto.Signer, error) {
	return file.Load(filepath.Join(k.Dir, ref), k.Passphrase)
}

// KMSKeys keeps CA keys in AWS KMS (or a KMS-compatible service), addressed by
// alias: alias/{AliasPrefix}{slug}. Signing sends digests only, so no key
// material ever leaves KMS.
type KMSKeys struct {
	Client      *awskms.Client
	AliasPrefix string
}

// Ref is the alias of a CA's key.
func (k KMSKeys) Ref(slug string) string { return "alias/" + k.AliasPrefix + slug }

// Create makes a new KMS key and its alias.
func (k KMSKeys) Create(ctx context.Context, ref string, kt signer.KeyType) (crypto.Signer, error) {
	return kms.Create(ctx, k.Client, kt, ref)
}

// Load opens the KMS key the alias points to; a missing alias is
// fs.ErrNotExist, so that Init creates it.
func (k KMSKeys) Load(ctx context.Context, ref string) (crypto.Signer, error) {
	s, err := kms.New(ctx, k.Client, ref)
	if _, ok := errors.AsType[*types.NotFoundException](err); ok {
		return nil, fmt.Errorf("KMS key %s: %w", ref, fs.ErrNotExist)
	}
	return s, err
}

// PKCS11Keys keeps CA keys on a PKCS#11 token (an HSM), labelled with the CA's
// slug.
type PKCS11Keys struct {
	Token *pkcs11.Context
}

// Ref is the label of a CA's key pair on the token.
func (k PKCS11Keys) Ref(slug string) string { return slug }

// Create generates a key pair on the token.
func (k PKCS11Keys) Create(_ context.Context, ref string, kt signer.KeyType) (crypto.Signer, error) {
	return k.Token.Generate(ref, kt)
}

// Load finds the key pair labelled ref; a missing one is fs.ErrNotExist.
func (k PKCS11Keys) Load(_ context.Context, ref string) (crypto.Signer, error) {
	s, err := k.Token.Signer(ref)
	if errors.Is(err, pkcs11.ErrKeyNotFound) {
		return nil, fmt.Errorf("PKCS#11 key %s: %w", ref, fs.ErrNotExist)
	}
	return s, err
}
