package anywhere

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	ratypes "github.com/aws/aws-sdk-go-v2/service/rolesanywhere/types"
	"github.com/aws/smithy-go"
)

var uuidRE = regexp.MustCompile(
	`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestControlPlaneTrustAnchorsAndProfiles(t *testing.T) {
	e := newEnv(t, Config{Region: "eu-west-1", Account: "111122223333"})
	ctx := context.Background()

	if !uuidRE.MatchString(e.taID) || !uuidRE.MatchString(e.profileID) {
		t.Fatalf("ids %q %q", e.taID, e.profileID)
	}
	if e.taArn != "arn:aws:rolesanywhere:eu-west-1:111122223333:trust-anchor/"+e.taID {
		t.Fatalf("trust anchor arn %q", e.taArn)
	}
	if e.profileArn != "arn:aws:rolesanywhere:eu-west-1:111122223333:profile/"+e.profileID {
		t.Fatalf("profile arn %q", e.profileArn)
	}

	got, err := e.ra.GetTrustAnchor(ctx, &rolesanywhere.GetTrustAnchorInput{
		TrustAnchorId: aws.String(e.taID)})
	if err != nil {
		t.Fatal(err)
	}
	ta := got.TrustAnchor
	src := ta.Source.SourceData.(*ratypes.SourceDataMemberX509CertificateData)
	if *ta.Name != "test-root" || !*ta.Enabled || src.Value != e.ca.pem() ||
		ta.Source.SourceType != ratypes.TrustAnchorTypeCertificateBundle ||
		ta.CreatedAt == nil || ta.UpdatedAt == nil {
		t.Fatalf("GetTrustAnchor = %+v", ta)
	}

	dis, err := e.ra.DisableTrustAnchor(ctx, &rolesanywhere.DisableTrustAnchorInput{
		TrustAnchorId: aws.String(e.taID)})
	if err != nil || *dis.TrustAnchor.Enabled {
		t.Fatalf("disable: %v", err)
	}
	en, err := e.ra.EnableTrustAnchor(ctx, &rolesanywhere.EnableTrustAnchorInput{
		TrustAnchorId: aws.String(e.taID)})
	if err != nil || !*en.TrustAnchor.Enabled {
		t.Fatalf("enable: %v", err)
	}
	up, err := e.ra.UpdateTrustAnchor(ctx, &rolesanywhere.UpdateTrustAnchorInput{
		TrustAnchorId: aws.String(e.taID), Name: aws.String("renamed")})
	if err != nil || *up.TrustAnchor.Name != "renamed" {
		t.Fatalf("update: %v", err)
	}

	// Paging: 5 profiles in all, pages of 2.
	for _, n := range []string{"p2", "p3", "p4", "p5"} {
		if _, err := e.ra.CreateProfile(ctx, &rolesanywhere.CreateProfileInput{
			Name: aws.String(n), RoleArns: []string{e.roleArn}}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	pager := rolesanywhere.NewListProfilesPaginator(e.ra, &rolesanywhere.ListProfilesInput{
		PageSize: aws.Int32(2)})
	pages := 0
	for pager.HasMorePages() {
		pg, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(pg.Profiles) > 2 {
			t.Fatalf("page of %d", len(pg.Profiles))
		}
		for _, p := range pg.Profiles {
			names = append(names, *p.Name)
		}
	}
	if pages != 3 || strings.Join(names, ",") != "backup,p2,p3,p4,p5" {
		t.Fatalf("%d pages: %v", pages, names)
	}

	p, err := e.ra.GetProfile(ctx, &rolesanywhere.GetProfileInput{
		ProfileId: aws.String(e.profileID)})
	if err != nil {
		t.Fatal(err)
	}
	if *p.Profile.DurationSeconds != 3600 || !*p.Profile.AcceptRoleSessionName ||
		len(p.Profile.RoleArns) != 1 || p.Profile.RoleArns[0] != e.roleArn {
		t.Fatalf("GetProfile = %+v", p.Profile)
	}
	up2, err := e.ra.UpdateProfile(ctx, &rolesanywhere.UpdateProfileInput{
		ProfileId: aws.String(e.profileID), DurationSeconds: aws.Int32(7200)})
	if err != nil || *up2.Profile.DurationSeconds != 7200 {
		t.Fatalf("UpdateProfile: %v", err)
	}
	if _, err := e.ra.DisableProfile(ctx, &rolesanywhere.DisableProfileInput{
		ProfileId: aws.String(e.profileID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ra.DeleteProfile(ctx, &rolesanywhere.DeleteProfileInput{
		ProfileId: aws.String(e.profileID)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ra.GetProfile(ctx, &rolesanywhere.GetProfileInput{
		ProfileId: aws.String(e.profileID)})
	if apiCode(err) != codeNotFound {
		t.Fatalf("deleted profile: %v", err)
	}

	// Validation errors name the field.
	_, err = e.ra.CreateProfile(ctx, &rolesanywhere.CreateProfileInput{
		Name: aws.String("x"), RoleArns: []string{e.roleArn}, DurationSeconds: aws.Int32(60)})
	if apiCode(err) != codeValidation || !strings.Contains(err.Error(), "durationSeconds") {
		t.Fatalf("bad duration: %v", err)
	}
	_, err = e.ra.CreateTrustAnchor(ctx, &rolesanywhere.CreateTrustAnchorInput{
		Name: aws.String("bad"),
		Source: &ratypes.Source{SourceType: ratypes.TrustAnchorTypeCertificateBundle,
			SourceData: &ratypes.SourceDataMemberX509CertificateData{Value: "not pem"}}})
	if apiCode(err) != codeValidation || !strings.Contains(err.Error(), "x509CertificateData") {
		t.Fatalf("bad bundle: %v", err)
	}

	if _, err := e.ra.DeleteTrustAnchor(ctx, &rolesanywhere.DeleteTrustAnchorInput{
		TrustAnchorId: aws.String(e.taID)}); err != nil {
		t.Fatal(err)
	}
	list, err := e.ra.ListTrustAnchors(ctx, &rolesanywhere.ListTrustAnchorsInput{})
	if err != nil || len(list.TrustAnchors) != 0 || list.NextToken != nil {
		t.Fatalf("list after delete: %v %+v", err, list)
	}
}

func TestControlPlaneCRLs(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	l := e.ca.leaf(t, leafOpts{})

	// DER is accepted as well as PEM.
	imp, err := e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("der"), CrlData: e.ca.crl(t, 1), TrustAnchorArn: aws.String(e.taArn)})
	if err != nil {
		t.Fatal(err)
	}
	c := imp.Crl
	if !uuidRE.MatchString(*c.CrlId) || *c.CrlArn !=
		"arn:aws:rolesanywhere:us-east-1:000000000000:crl/"+*c.CrlId ||
		*c.TrustAnchorArn != e.taArn || *c.Enabled {
		t.Fatalf("ImportCrl = %+v", c)
	}
	en, err := e.ra.EnableCrl(ctx, &rolesanywhere.EnableCrlInput{CrlId: c.CrlId})
	if err != nil || !*en.Crl.Enabled {
		t.Fatalf("EnableCrl: %v", err)
	}
	if status, _, _ := e.createSession(sessionReq{leaf: l}); status != 201 {
		t.Fatalf("empty CRL: %d", status)
	}
	// UpdateCrl (PATCH) with a CRL that revokes l.
	upd, err := e.ra.UpdateCrl(ctx, &rolesanywhere.UpdateCrlInput{CrlId: c.CrlId,
		CrlData: crlPEM(e.ca.crl(t, 2, l.cert.SerialNumber))})
	if err != nil || !strings.Contains(string(upd.Crl.CrlData), "X509 CRL") {
		t.Fatalf("UpdateCrl: %v", err)
	}
	if _, _, body := e.createSession(sessionReq{leaf: l}); !strings.Contains(string(body),
		"Certificate revoked") {
		t.Fatalf("after UpdateCrl: %s", body)
	}
	if _, err := e.ra.DisableCrl(ctx, &rolesanywhere.DisableCrlInput{
		CrlId: c.CrlId}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.createSession(sessionReq{leaf: l}); status != 201 {
		t.Fatalf("disabled CRL still applied: %d", status)
	}
	got, err := e.ra.GetCrl(ctx, &rolesanywhere.GetCrlInput{CrlId: c.CrlId})
	if err != nil || *got.Crl.Enabled || *got.Crl.Name != "der" {
		t.Fatalf("GetCrl: %v", err)
	}
	list, err := e.ra.ListCrls(ctx, &rolesanywhere.ListCrlsInput{})
	if err != nil || len(list.Crls) != 1 {
		t.Fatalf("ListCrls: %v", err)
	}

	_, err = e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("big"), CrlData: make([]byte, 300001),
		TrustAnchorArn: aws.String(e.taArn)})
	if apiCode(err) != codeValidation || !strings.Contains(err.Error(), "at most 300000") {
		t.Fatalf("oversized CRL: %v", err)
	}
	_, err = e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("x"), CrlData: []byte("garbage"), TrustAnchorArn: aws.String(e.taArn)})
	if apiCode(err) != codeValidation || !strings.Contains(err.Error(), "crlData") {
		t.Fatalf("garbage CRL: %v", err)
	}
	_, err = e.ra.ImportCrl(ctx, &rolesanywhere.ImportCrlInput{
		Name: aws.String("x"), CrlData: e.ca.crl(t, 3),
		TrustAnchorArn: aws.String("arn:aws:rolesanywhere:us-east-1:000000000000:" +
			"trust-anchor/00000000-0000-4000-8000-000000000000")})
	if apiCode(err) != codeNotFound {
		t.Fatalf("unknown trust anchor: %v", err)
	}

	if _, err := e.ra.DeleteCrl(ctx, &rolesanywhere.DeleteCrlInput{
		CrlId: c.CrlId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ra.GetCrl(ctx, &rolesanywhere.GetCrlInput{CrlId: c.CrlId})
	if apiCode(err) != codeNotFound {
		t.Fatalf("deleted CRL: %v", err)
	}
}

func TestControlPlaneAuth(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	bad := raClient(e.ts.URL, AccessKey{AccessKeyID: e.key.AccessKeyID,
		SecretAccessKey: e.key.SecretAccessKey + "x"})
	_, err := bad.ListTrustAnchors(ctx, &rolesanywhere.ListTrustAnchorsInput{})
	if apiCode(err) != codeAccessDenied || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("wrong secret: %v", err)
	}
	unknown := raClient(e.ts.URL, AccessKey{AccessKeyID: "AKIAUNKNOWNUNKNOWN12",
		SecretAccessKey: "x"})
	_, err = unknown.ListTrustAnchors(ctx, &rolesanywhere.ListTrustAnchorsInput{})
	if apiCode(err) != codeAccessDenied {
		t.Fatalf("unknown key: %v", err)
	}
	resp, err := http.Get(e.ts.URL + "/trustanchors")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != codeAccessDenied {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestMatchRoute(t *testing.T) {
	tests := []struct {
		method, path, want, id string
		known                  bool
	}{
		{"GET", "/trustanchors", "trustanchors", "", true},
		{"GET", "/prefix/trustanchor/abc", "trustanchor/{id}", "abc", true},
		{"POST", "/crl/abc/enable", "crl/{id}/enable", "abc", true},
		{"GET", "/crl/abc/enable", "", "", true},
		{"PUT", "/profiles", "", "", true},
		{"GET", "/nothing", "", "", false},
	}
	for _, tc := range tests {
		rt, id, known := matchRoute(tc.method, tc.path)
		got := ""
		if rt != nil {
			got = strings.Join(rt.pattern, "/")
		}
		if got != tc.want || id != tc.id || known != tc.known {
			t.Errorf("%s %s = %q %q %v, want %q %q %v", tc.method, tc.path, got, id, known,
				tc.want, tc.id, tc.known)
		}
	}
}
