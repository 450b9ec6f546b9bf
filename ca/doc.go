// Package ca is the certificate authority: it creates the two-tier hierarchy
// and issues and revokes end-entity certificates.
//
// The hierarchy is a self-signed root CA (by default ECDSA P-384, 20 years,
// pathLen 1) and an issuing CA signed by it (P-256, 10 years, pathLen 0). Init
// makes both once and records them in the store; later calls load them. Keys are
// reached through the Keys seam, so they may be files, KMS keys or HSM objects.
//
// Issue runs one path for every entry point (HTTP API, CLI and GitOps): the
// request is evaluated by package profile into a template, the template is
// signed by the issuing CA's key, and the certificate is recorded in the store
// before it is returned. A certificate that was handed out is therefore always
// in the store, and so is always revocable; a crash between signing and
// recording loses only a certificate nobody has seen.
//
// End-entity certificates follow the serverless CA's profile: notBefore five
// minutes in the past, notAfter the requested number of days from now (clamped
// to the configured maximum), KeyUsage digitalSignature (plus keyEncipherment
// for RSA keys), EKU, SAN, SKI, AKI, and CRL Distribution Point and Authority
// Information Access URLs under the public base URL.
package ca
