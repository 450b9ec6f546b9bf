package anywhere

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
)

// Pusher sends new CRLs to a Roles Anywhere–compatible server (this package's
// or AWS's) by calling UpdateCrl through the AWS SDK. It suits a CA that
// cannot be reached by the relying party: the CA pushes instead of being
// followed.
type Pusher struct {
	// Endpoint is the server's base URL; empty means the AWS endpoint of
	// Region.
	Endpoint string
	Region   string
	// AccessKeyID and SecretAccessKey are static administrator credentials.
	AccessKeyID     string
	SecretAccessKey string
	// CRLID is the id of the CRL to replace (import it once beforehand).
	CRLID string
	// HTTPClient is optional.
	HTTPClient *http.Client
}

// Push replaces the CRL's data with crl (DER or PEM).
func (p *Pusher) Push(ctx context.Context, crl []byte) error {
	if p.CRLID == "" || p.Region == "" || p.AccessKeyID == "" || p.SecretAccessKey == "" {
		return errors.New("anywhere: Pusher needs CRLID, Region, AccessKeyID and " +
			"SecretAccessKey")
	}
	opts := rolesanywhere.Options{
		Region: p.Region,
		Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID,
			p.SecretAccessKey, ""),
	}
	if p.Endpoint != "" {
		opts.BaseEndpoint = aws.String(p.Endpoint)
	}
	if p.HTTPClient != nil {
		opts.HTTPClient = p.HTTPClient
	}
	client := rolesanywhere.New(opts)
	_, err := client.UpdateCrl(ctx, &rolesanywhere.UpdateCrlInput{
		CrlId:   aws.String(p.CRLID),
		CrlData: crl,
	})
	if err != nil {
		return fmt.Errorf("anywhere: push CRL %s: %w", p.CRLID, err)
	}
	return nil
}
