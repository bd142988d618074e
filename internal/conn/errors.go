package conn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// AuthError is an authentication the brokers refused: a wrong user,
// password or token, or a mechanism the user is not set up for.
type AuthError struct {
	// Mechanism is the SASL mechanism, User the user authenticated as
	// (empty for OAUTHBEARER and AWS_MSK_IAM).
	Mechanism, User string
	// Broker is the broker's host:port, when known.
	Broker string
	// Err is what the broker answered, or that it closed the connection.
	Err error
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("conn: authentication failed: ")
	if e.Broker != "" {
		fmt.Fprintf(&b, "the broker %s refused SASL %s", e.Broker, e.Mechanism)
	} else {
		fmt.Fprintf(&b, "the brokers refused SASL %s", e.Mechanism)
	}
	if e.User != "" {
		fmt.Fprintf(&b, " as user %q", e.User)
	}
	fmt.Fprintf(&b, ": %v (%s)", e.Err, authHint(e.Mechanism))
	return b.String()
}

// Unwrap returns what the broker answered.
func (e *AuthError) Unwrap() error { return e.Err }

// authHint says what to check when mechanism's authentication fails.
func authHint(mechanism string) string {
	switch mechanism {
	case OAuthBearer:
		return "check that the token in sasl.token_file is valid and not expired, and that the brokers enable OAUTHBEARER"
	case AWSMSKIAM:
		return "check the AWS credentials the default chain finds (AWS_PROFILE, AWS_ACCESS_KEY_ID, the instance's role) " +
			"and that their IAM policy allows kafka-cluster:Connect on the cluster"
	}
	return "check sasl.username and the password (EDDY_SASL_PASSWORD, sasl.password or sasl.password_file), " +
		"and that the brokers enable sasl.mechanism " + mechanism + " for that user"
}

// Explain returns err explained when it is a failure to connect securely
// (authentication refused, a certificate not trusted or not valid for the
// broker, TLS or SASL on one side only), or nil when it is not: the caller
// then keeps its own message. What the clients of s saw of their
// connections helps: a broker's TLS alert or closed connection says
// little on its own.
func (s *Security) Explain(err error) error {
	if err == nil {
		return nil
	}
	if e := s.explain(err); e != nil {
		return e
	}
	// The request failed otherwise (its deadline passed while retrying);
	// a dial that failed for a reason of security explains why.
	if dialErr := s.tracker.observed().dialErr; dialErr != nil {
		if e := s.explain(dialErr); e != nil {
			return fmt.Errorf("%w (while %v)", e, err)
		}
	}
	return nil
}

func (s *Security) explain(err error) error {
	st := s.settings
	seen := s.tracker.observed()
	versionsOK := seen.versionsOK
	var (
		authErr     *AuthError
		verifyErr   *tls.CertificateVerificationError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		remote      *net.OpError
		recordErr   tls.RecordHeaderError
		firstEOF    *kgo.ErrFirstReadEOF
		mechanismOf = func() string {
			if st.Mechanism == "" {
				return "(none)"
			}
			return st.Mechanism
		}
	)
	switch {
	case errors.As(err, &authErr):
		return authErr
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return &AuthError{Mechanism: st.Mechanism, User: user(st), Err: err}
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("conn: the brokers do not enable SASL mechanism %s: %w "+
			"(set sasl.mechanism to one they enable; this client knows %s)", mechanismOf(), err, strings.Join(Mechanisms, ", "))
	case errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("conn: the broker did not expect SASL on this listener: %w "+
			"(use security_protocol ssl or plaintext for it, or the brokers' SASL port)", err)
	case errors.As(err, &unknownCA):
		hint := "set tls.ca_file to the CA certificate (PEM) that signed the brokers' certificates"
		if st.CAFile != "" {
			hint = fmt.Sprintf("tls.ca_file %s did not sign it: point tls.ca_file at the CA that did", st.CAFile)
		}
		return fmt.Errorf("conn: TLS: the broker's certificate is signed by an unknown authority: %w (%s)", err, hint)
	case errors.As(err, &hostErr):
		return fmt.Errorf("conn: TLS: the broker's certificate is not valid for the name dialled: %w "+
			"(it holds %s: connect with one of those names, or set tls.server_name to one)", err, certNames(hostErr.Certificate))
	case errors.As(err, &invalidErr) && (invalidErr.Reason == x509.Expired):
		return fmt.Errorf("conn: TLS: the broker's certificate has expired or is not valid yet: %w "+
			"(renew the broker's certificate, or check this machine's clock)", err)
	case errors.As(err, &verifyErr):
		return fmt.Errorf("conn: TLS: the broker's certificate cannot be verified: %w", err)
	case errors.As(err, &remote) && remote.Op == "remote error":
		// A TLS alert the broker sent (crypto/tls's own type for it
		// is unexported).
		return explainAlert(st, remote.Err.Error(), err)
	case errors.As(err, &recordErr):
		return fmt.Errorf("conn: TLS: the broker answered the TLS handshake with something that is not TLS: %w "+
			"(it is a plaintext listener: set security_protocol %s, or use the brokers' TLS port)", err, withoutTLS(st))
	case st.TLS() && !versionsOK && closed(err):
		// No broker has answered in Kafka's protocol yet: the
		// connection ended in the TLS handshake (a plaintext listener
		// closes, or resets, on a ClientHello).
		return fmt.Errorf("conn: TLS: the broker closed the connection during the TLS handshake: %w "+
			"(it is likely a plaintext listener: set security_protocol %s, or use the brokers' TLS port)", err, withoutTLS(st))
	case errors.As(err, &firstEOF):
		switch {
		case versionsOK && !st.SASL():
			return fmt.Errorf("conn: the broker closed the connection at the first request after connecting: it requires SASL authentication "+
				"(security_protocol is %s: set it to %s with sasl.mechanism, sasl.username and a password)", protocol(st), withSASL(st))
		case !st.TLS():
			return fmt.Errorf("conn: the broker closed the connection at once: it requires TLS "+
				"(security_protocol is %s: set it to %s)", protocol(st), withTLS(st))
		}
	case !st.TLS() && !versionsOK && seen.versionsErr != nil && !timeout(err):
		// A TLS listener answers a plaintext request with a TLS alert
		// record, which franz-go reads as an absurd response size.
		return fmt.Errorf("conn: the broker did not answer in Kafka's protocol: it requires TLS: %w "+
			"(security_protocol is %s: set it to %s)", err, protocol(st), withTLS(st))
	case errors.Is(err, kerr.ClusterAuthorizationFailed), errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed):
		if st.SASL() {
			return fmt.Errorf("conn: the brokers authenticated user %q but refuse it this: %w (grant it the ACLs the app needs)", user(st), err)
		}
		return fmt.Errorf("conn: the brokers refuse this client: %w (they may require SASL: set security_protocol %s)", err, withSASL(st))
	}
	return nil
}

// closed reports whether err is a connection the other end closed or
// reset.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// certNames lists the names a certificate is valid for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "other names"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no names (no subject alternative names)"
	}
	return strings.Join(names, ", ")
}

// explainAlert explains a TLS alert the broker sent.
func explainAlert(st Settings, msg string, err error) error {
	if strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate authority") {
		if st.CertFile == "" {
			return fmt.Errorf("conn: TLS: the broker requires a client certificate (mutual TLS): %w "+
				"(set tls.cert_file and tls.key_file to a certificate its CA signed)", err)
		}
		return fmt.Errorf("conn: TLS: the broker refused this client's certificate: %w "+
			"(tls.cert_file %s must be signed by a CA the brokers trust for clients)", err, st.CertFile)
	}
	return fmt.Errorf("conn: TLS: the broker refused the TLS handshake: %w", err)
}

func user(st Settings) string {
	if UsesPassword(st.Mechanism) {
		return st.Username
	}
	return ""
}

func protocol(st Settings) string {
	if st.Protocol == "" {
		return Plaintext
	}
	return st.Protocol
}

// withTLS, withoutTLS and withSASL name the protocol that differs from
// st's in one respect.
func withTLS(st Settings) string {
	if st.SASL() {
		return SASLSSL
	}
	return SSL + " (or " + SASLSSL + " with SASL)"
}

func withoutTLS(st Settings) string {
	if st.SASL() {
		return SASLPlaintext
	}
	return Plaintext
}

func withSASL(st Settings) string {
	if st.TLS() {
		return SASLSSL
	}
	return SASLPlaintext + " (or " + SASLSSL + " with TLS)"
}
