// Package s3 publishes CRLs and CA certificates to an S3 bucket or to any
// S3-compatible object store (MinIO, Ceph RGW, ...), for deployments with
// several replicas or where relying parties fetch from the bucket, or a CDN
// in front of it, rather than from `anchor serve`.
//
// Each object is stored under Config.Prefix + its name, with the content
// type implied by the name and a Cache-Control header from
// publish.CacheControl, computed when the object is written (the store
// serves that value until the next publication). A PUT replaces an object
// atomically: S3 readers see the old or the new object, never a part.
//
// Get reads an object back. Its ETag is publish.ETag of the data, not the
// store's own ETag, so it equals what package publish/dir reports for the
// same bytes; its Expires is read from the CRL, as everywhere in package
// publish.
//
// # AWS S3
//
// Leave Endpoint empty and PathStyle false; set Bucket and Region (or
// AWS_REGION). Credentials come from the SDK's default chain (environment,
// shared config and credentials files, SSO, web identity, ECS and EC2 roles)
// unless AccessKeyID and SecretAccessKey are set. The principal needs
// s3:PutObject and s3:GetObject on the keys under the prefix. To let
// relying parties fetch the objects, allow public s3:GetObject on that
// prefix, or put CloudFront in front; the base URL in the CA configuration
// must then be that public URL, e.g. https://BUCKET.s3.REGION.amazonaws.com
// with an empty prefix.
//
// # MinIO and other S3-compatible stores
//
// Set Endpoint to the server's URL, e.g. http://127.0.0.1:9000, PathStyle to
// true (most such stores do not resolve bucket names as host names), Region
// to the server's region (MinIO's default is us-east-1), and the access key
// and secret as AccessKeyID and SecretAccessKey. With an Endpoint set, the
// SDK computes request checksums only where an operation requires them:
// many S3-compatible stores reject the CRC32 checksums it would otherwise
// add to every PutObject. To serve the objects publicly from MinIO, give the
// prefix an anonymous download policy (`mc anonymous set download
// ALIAS/BUCKET/PREFIX`).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/anchorpki/anchor/publish"
)

// Config says where to publish and how to authenticate.
type Config struct {
	// Bucket is the bucket name. Required.
	Bucket string
	// Prefix is prepended to object names, e.g. "pki" stores
	// "pki/anchor-root-ca-dev.crl". Slashes at either end are optional.
	// Empty stores objects at the top of the bucket.
	Prefix string
	// Region is the bucket's region. Empty takes it from the default chain
	// (AWS_REGION, the shared config file).
	Region string
	// Endpoint is the URL of an S3-compatible server. Empty means AWS S3.
	Endpoint string
	// PathStyle addresses the bucket in the URL path (ENDPOINT/BUCKET/KEY)
	// instead of the host name (BUCKET.ENDPOINT/KEY). MinIO needs it.
	PathStyle bool
	// AccessKeyID, SecretAccessKey and the optional SessionToken are static
	// credentials. When AccessKeyID is empty, the SDK's default credential
	// chain is used.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Publisher writes objects to one bucket and prefix. It is safe for
// concurrent use.
type Publisher struct {
	client *awss3.Client
	bucket string
	prefix string           // "" or ending in "/"
	now    func() time.Time // the clock for Cache-Control; tests replace it
}

var _ publish.Publisher = (*Publisher)(nil)

// New checks cfg, loads the AWS configuration and returns a Publisher. It
// does not contact the store.
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: bucket: empty")
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: endpoint %q: want an http or https URL", cfg.Endpoint)
		}
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("s3: access key id and secret access key: " +
			"set both or neither")
	}

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(
				cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.Endpoint != "" {
		opts = append(opts,
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("s3: region: empty; set it in the configuration or AWS_REGION")
	}

	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &Publisher{client: client, bucket: cfg.Bucket, prefix: prefix, now: time.Now}, nil
}

// cleanPrefix trims slashes at the ends and refuses empty, "." and ".."
// segments, which some stores and every URL normalise away.
func cleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("s3: prefix %q: empty, \".\" or \"..\" segment", p)
		}
	}
	return p + "/", nil
}

// Key returns the object key for name in the bucket.
func (p *Publisher) Key(name string) string { return p.prefix + name }

// Publish checks all objects with publish.Prepare, then puts each one, in
// order, with its content type and Cache-Control header. It stops at the
// first error.
func (p *Publisher) Publish(ctx context.Context, objs ...publish.Object) error {
	ready := make([]publish.Object, len(objs))
	for i, o := range objs {
		var err error
		if ready[i], err = publish.Prepare(o); err != nil {
			return err
		}
	}

	for _, o := range ready {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := p.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket:        aws.String(p.bucket),
			Key:           aws.String(p.Key(o.Name)),
			Body:          bytes.NewReader(o.Data),
			ContentLength: aws.Int64(int64(len(o.Data))),
			ContentType:   aws.String(o.ContentType),
			CacheControl:  aws.String(publish.CacheControl(o, p.now())),
		})
		if err != nil {
			return fmt.Errorf("s3: put s3://%s/%s: %w", p.bucket, p.Key(o.Name), err)
		}
	}
	return nil
}

// Get reads the object name back, with the content type the store holds
// and ModTime from its Last-Modified time. A missing object gives an error
// wrapping publish.ErrNotFound.
func (p *Publisher) Get(ctx context.Context, name string) (*publish.Object, error) {
	if err := publish.ValidName(name); err != nil {
		return nil, err
	}
	key := p.Key(name)

	out, err := p.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(p.bucket),
		Key:    aws.String(key),
	})
	if isNotFound(err) {
		return nil, fmt.Errorf("%w: s3://%s/%s", publish.ErrNotFound, p.bucket, key)
	}
	if err != nil {
		return nil, fmt.Errorf("s3: get s3://%s/%s: %w", p.bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("s3: get s3://%s/%s: read body: %w", p.bucket, key, err)
	}

	return publish.StoredObject(name, aws.ToString(out.ContentType), data,
		aws.ToTime(out.LastModified)), nil
}

// isNotFound recognises a missing key: S3 says NoSuchKey, and some
// compatible stores answer a bare 404. A missing bucket is not "not found":
// it is a configuration error and must not look like an empty publisher.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var noKey *types.NoSuchKey
	if errors.As(err, &noKey) {
		return true
	}
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket" {
		return false
	}
	var status interface{ HTTPStatusCode() int }
	return errors.As(err, &status) && status.HTTPStatusCode() == 404
}
