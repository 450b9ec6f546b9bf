// Package anywhere is Anchor's relying party: a server that speaks the IAM
// Roles Anywhere protocol and a minimal STS, so that the unmodified AWS
// clients (aws_signing_helper, the AWS CLI v2, the aws-sdk-go-v2
// rolesanywhere and sts clients) exchange an X.509 certificate for
// short-lived credentials and use them.
//
// # Model
//
// An administrator, authenticated with ordinary SigV4 (service
// "rolesanywhere") and an admin access key, declares trust anchors (a bundle
// of CA certificates), profiles (which roles may be assumed and for how long)
// and CRLs (one or more per trust anchor). A workload then calls
// CreateSession (POST /sessions) signed with SigV4-X509: the request is
// signed with the private key of its certificate, and the certificate rides
// in the X-Amz-X509 header. The server
//
//  1. rebuilds the canonical request (always with the literal path
//     "/sessions", whatever prefix the client's endpoint had) and verifies
//     the signature with the certificate's public key;
//  2. validates the certification path to the enabled trust anchor's
//     certificates (RFC 5280, via crypto/x509), treating X-Amz-X509-Chain as
//     an unordered, size-capped pool of intermediates;
//  3. applies the end-entity rules (v3, not a CA, digitalSignature, a
//     SHA-256 or stronger signature) and checks every certificate of the
//     path against the enabled CRLs of that trust anchor;
//  4. checks the profile, the role and the duration, and issues session
//     credentials (an ASIA access key, a secret and a session token).
//
// Every attempt, failed ones too, is recorded on a subject keyed by the
// certificate's subject DN. The session credentials then work with STS
// GetCallerIdentity (POST /, query protocol, SigV4 service "sts"); a session
// whose certificate is revoked after issue is refused at use.
//
// The package relies on the CA only through certificates and CRLs: it never
// reads the CA's store or keys.
//
// # Keeping CRLs current
//
// CRLs arrive three ways: imported by an administrator (ImportCrl,
// UpdateCrl, EnableCrl), followed from a URL by a Follower (an HTTP long-poll
// with If-None-Match and "Prefer: wait=25", falling back to plain polling
// against servers that answer 304 at once), or pushed by a Pusher, which
// calls UpdateCrl on a remote server through the real SDK client.
//
// # Storage and secrets
//
// State lives behind the Store interface; the default is SQLite in
// DATA/anywhere.db. Reads on the hot path never touch the database: trust
// anchor pools, profiles and CRL serial sets are held in an immutable
// in-memory snapshot that is rebuilt on every change. Subject records and
// new sessions are written in batches by a background goroutine, so a
// CreateSession never waits for an fsync; a crash can lose the last fraction
// of a second of attempt records and sessions (the client simply asks again).
// Written sessions are read back from the store on use and kept in a bounded
// cache, so memory does not grow with the number of live sessions.
//
// SigV4 HMAC verification needs the secret itself, so admin and session
// secrets cannot be stored as one-way hashes. They are sealed with AES-256-GCM
// under a key derived (HKDF-SHA256) from a 32-byte server secret kept in
// DATA/server.secret (mode 0600); the record's access key id is the
// additional authenticated data. Session tokens are only compared, so they
// are stored as SHA-256 hashes.
//
// # Compatibility notes
//
// The requested durationSeconds must lie in 900..43200; it is then lowered
// to the profile's durationSeconds and the credentials never outlive the
// certificate's notAfter. Principal tags (x509Subject/CN, x509Issuer/O,
// x509SAN/DNS, ...) are derived from the certificate; roles may be given
// conditions on them in the server's configuration (RoleConfig).
package anywhere
