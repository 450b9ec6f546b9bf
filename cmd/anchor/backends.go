package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/anchorpki/anchor/ca"
	"github.com/anchorpki/anchor/config"
	"github.com/anchorpki/anchor/publish"
	"github.com/anchorpki/anchor/publish/dir"
	"github.com/anchorpki/anchor/publish/s3"
	"github.com/anchorpki/anchor/signer/pkcs11"
)

// openKeys opens the configured key backend. The returned close function
// releases a PKCS#11 session; it is never nil.
func openKeys(ctx context.Context, cfg *config.Config, home string, pass []byte) (
	ca.Keys, func(), error) {
	switch cfg.Keys.Backend {
	case "kms":
		k := cfg.Keys.KMS
		aws, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(k.Region))
		if err != nil {
			return nil, nil, fmt.Errorf("keys.kms: %w", err)
		}
		client := awskms.NewFromConfig(aws, func(o *awskms.Options) {
			if k.Endpoint != "" {
				o.BaseEndpoint = &k.Endpoint
			}
		})
		return ca.KMSKeys{Client: client, AliasPrefix: k.AliasPrefix}, func() {}, nil
	case "pkcs11":
		p := cfg.Keys.PKCS11
		pin := os.Getenv("ANCHOR_PKCS11_PIN")
		if p.PINFile != "" {
			data, err := os.ReadFile(p.PINFile)
			if err != nil {
				return nil, nil, fmt.Errorf("keys.pkcs11.pin_file: %w", err)
			}
			pin = strings.TrimSpace(string(data))
		}
		token, err := pkcs11.Open(pkcs11.Config{Module: p.Module, TokenLabel: p.TokenLabel,
			PIN: pin})
		if err != nil {
			return nil, nil, fmt.Errorf("keys.pkcs11: %w", err)
		}
		return ca.PKCS11Keys{Token: token}, func() { token.Close() }, nil
	}
	return ca.FileKeys{Dir: filepath.Join(home, keysDir), Passphrase: pass}, func() {}, nil
}

// openPublisher opens the configured publisher.
func openPublisher(ctx context.Context, cfg *config.Config, home string) (publish.Publisher, error) {
	if cfg.Publish.Backend == "s3" {
		c := cfg.Publish.S3
		return s3.New(ctx, s3.Config{Bucket: c.Bucket, Prefix: c.Prefix, Region: c.Region,
			Endpoint: c.Endpoint, PathStyle: c.PathStyle})
	}
	if cfg.Publish.Dir != "" {
		return dir.New(cfg.Publish.Dir)
	}
	return dir.New(filepath.Join(home, publicDir))
}
