package conn

import "slices"

// Security protocols, as Kafka names them (in lower case).
const (
	Plaintext     = "plaintext"
	SSL           = "ssl"
	SASLPlaintext = "sasl_plaintext"
	SASLSSL       = "sasl_ssl"
)

// Protocols lists the security protocols, the default first.
var Protocols = []string{Plaintext, SSL, SASLPlaintext, SASLSSL}

// SASL mechanisms, as Kafka names them.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	OAuthBearer = "OAUTHBEARER"
	AWSMSKIAM   = "AWS_MSK_IAM"
)

// Mechanisms lists the SASL mechanisms New can build.
var Mechanisms = []string{Plain, ScramSHA256, ScramSHA512, OAuthBearer, AWSMSKIAM}

// Settings are the connection settings of every client. The zero value
// connects in plaintext without authentication. Package runtime fills it
// from its settings table, whose checks guarantee a consistent
// combination; New rejects an inconsistent one too.
type Settings struct {
	// Protocol is one of Protocols; "" is Plaintext.
	Protocol string

	// CAFile is a PEM file of the authorities that sign the brokers'
	// certificates; empty trusts the system's roots.
	CAFile string
	// CertFile and KeyFile are the client's certificate and private key
	// (PEM), for brokers that require mutual TLS.
	CertFile, KeyFile string
	// ServerName is the name the brokers' certificates must hold; empty
	// checks each broker's host as it is dialled.
	ServerName string
	// InsecureSkipVerify accepts any certificate: for development only.
	InsecureSkipVerify bool

	// Mechanism is one of Mechanisms; empty with a non-SASL protocol.
	Mechanism string
	// Username, and Password or PasswordFile, authenticate PLAIN and
	// SCRAM. The file's text is read at New and again whenever it
	// changes; a trailing newline is dropped.
	Username     string
	Password     Secret
	PasswordFile string
	// TokenFile holds the OAUTHBEARER token, read at New and again
	// whenever it changes (a sidecar renews it).
	TokenFile string
}

// TLS reports whether the protocol encrypts with TLS.
func (s Settings) TLS() bool { return s.Protocol == SSL || s.Protocol == SASLSSL }

// SASL reports whether the protocol authenticates with SASL.
func (s Settings) SASL() bool { return s.Protocol == SASLPlaintext || s.Protocol == SASLSSL }

// UsesPassword reports whether mechanism authenticates with a username and
// a password (PLAIN and SCRAM).
func UsesPassword(mechanism string) bool {
	return slices.Contains([]string{Plain, ScramSHA256, ScramSHA512}, mechanism)
}
