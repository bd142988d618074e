package conn

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// InsecureWarning is what a process logs at every start while
// tls.insecure_skip_verify is on.
const InsecureWarning = "tls.insecure_skip_verify is on: the brokers' certificates are not verified, " +
	"so anyone on the network path can impersonate them; use it for development only, and set tls.ca_file instead"

// Security is the connection security of every client of a process,
// built once from Settings. Its methods are safe for concurrent use.
type Security struct {
	settings Settings
	tls      *tls.Config    // nil without TLS
	sasl     sasl.Mechanism // nil without SASL; wrapped by the tracker
	tracker  *tracker
}

// New builds s's TLS config and SASL mechanism, reading the files s names
// (the CA, the client certificate and key, the password or token file).
// Its errors name the setting and the path of a file it cannot use, and
// list the valid choices of an unknown protocol or mechanism.
func New(s Settings) (*Security, error) {
	if s.Protocol == "" {
		s.Protocol = Plaintext
	}
	if !slices.Contains(Protocols, s.Protocol) {
		return nil, fmt.Errorf("conn: unknown security protocol %q: use one of %s", s.Protocol, strings.Join(Protocols, ", "))
	}
	sec := &Security{settings: s, tracker: &tracker{mechanism: s.Mechanism, user: user(s)}}
	if s.TLS() {
		c, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		sec.tls = c
	} else if s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.ServerName != "" || s.InsecureSkipVerify {
		return nil, fmt.Errorf("conn: TLS settings are set, but security protocol %s does not use TLS: use %s or %s, or remove them",
			s.Protocol, SSL, SASLSSL)
	}
	if s.SASL() {
		m, err := mechanism(s)
		if err != nil {
			return nil, err
		}
		sec.sasl = trackedMechanism{Mechanism: m, t: sec.tracker}
	} else if s.Mechanism != "" {
		return nil, fmt.Errorf("conn: sasl.mechanism %s is set, but security protocol %s does not use SASL: use %s or %s",
			s.Mechanism, s.Protocol, SASLPlaintext, SASLSSL)
	}
	return sec, nil
}

// Options are the franz-go options that connect a client as the settings
// say: TLS, SASL, and the hook through which the Security watches its
// connections. They do not name the brokers or the client id.
func (s *Security) Options() []kgo.Opt {
	opts := []kgo.Opt{kgo.WithHooks(s.tracker)}
	if s.tls != nil {
		// franz-go clones the config per dial and sets ServerName to
		// the broker's host unless tls.server_name set it.
		opts = append(opts, kgo.DialTLSConfig(s.tls))
	}
	if s.sasl != nil {
		opts = append(opts, kgo.SASL(s.sasl))
	}
	return opts
}

// Insecure reports whether certificates go unverified
// (tls.insecure_skip_verify): the process should log InsecureWarning.
func (s *Security) Insecure() bool { return s.tls != nil && s.tls.InsecureSkipVerify }

// Protocol returns the security protocol, for logs and errors.
func (s *Security) Protocol() string { return s.settings.Protocol }
