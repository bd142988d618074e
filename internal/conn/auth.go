package conn

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

const (
	// refuseAfter is how many connections closed during authentication
	// in a row, with no success between, make the tracker refuse to
	// authenticate: one close may be a broker restarting, two are a
	// broker saying no.
	refuseAfter = 2
	// refuseFor is how long it then refuses before it lets one attempt
	// through (a password file fixed meanwhile is read again then).
	refuseFor = 30 * time.Second
)

// errClosedInAuth is what a broker did that closed the connection while
// the client authenticated: most brokers answer a bad password that way
// (Kafka answers SASL_AUTHENTICATION_FAILED, then closes). Deliberately
// not io.EOF, which franz-go would retry.
var errClosedInAuth = errors.New("the broker closed the connection during authentication")

// tracker watches how connections go, for every client of one Security:
// it is a kgo hook (reads of ApiVersions and SaslAuthenticate, dials) and
// wraps the SASL mechanism. Safe for concurrent use: franz-go calls hooks
// and mechanisms from its connection goroutines.
type tracker struct {
	mechanism, user string

	mu struct {
		sync.Mutex
		closes     int       // connections closed in authentication since the last success
		lastClose  time.Time // when the last one was
		broker     string    // where
		refusedAt  time.Time // when a refusal began; zero when not refusing
		versionsOK bool      // a broker answered ApiVersions
		// versionsErr is the last failed read of an ApiVersions answer
		// before any succeeded: a plaintext client talking to a TLS
		// listener gets a TLS alert or EOF there.
		versionsErr error
		dialErr     error // the last failed dial (TLS handshake included)
	}
}

var (
	_ kgo.HookBrokerE2E     = (*tracker)(nil)
	_ kgo.HookBrokerConnect = (*tracker)(nil)
)

// OnBrokerE2E sees every request's write and read.
func (t *tracker) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	err := e2e.Err()
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed)) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch kmsg.Key(key) {
	case kmsg.ApiVersions:
		switch {
		case err == nil:
			t.mu.versionsOK = true
		case !t.mu.versionsOK && !timeout(err):
			// An answer that is not Kafka's, or a close: a broker
			// that does not answer at all is another matter.
			t.mu.versionsErr = err
		}
	case kmsg.SASLAuthenticate:
		if err != nil {
			t.mu.closes++
			t.mu.lastClose = time.Now()
			t.mu.broker = net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
		}
	}
}

// OnBrokerConnect sees every dial, the TLS handshake included.
func (t *tracker) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	t.mu.Lock()
	t.mu.dialErr = err
	t.mu.Unlock()
}

// timeout reports whether err is a deadline that passed, of a context or
// of a connection.
func timeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// succeeded records a finished authentication.
func (t *tracker) succeeded() {
	t.mu.Lock()
	t.mu.closes, t.mu.refusedAt = 0, time.Time{}
	t.mu.Unlock()
}

// refusal returns the error to fail an authentication with instead of
// trying it, or nil to try.
func (t *tracker) refusal(broker string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closes < refuseAfter {
		return nil
	}
	now := time.Now()
	switch {
	case t.mu.refusedAt.IsZero():
		t.mu.refusedAt = now
	case now.Sub(t.mu.refusedAt) >= refuseFor && now.Sub(t.mu.lastClose) >= refuseFor:
		// Long enough: let this one try. If it is closed too, the
		// count is still past refuseAfter and refusing starts again.
		t.mu.refusedAt = time.Time{}
		return nil
	}
	return &AuthError{Mechanism: t.mechanism, User: t.user, Broker: t.mu.broker,
		Err: &closedError{n: t.mu.closes}}
}

// closedError says how many connections in a row were closed during
// authentication.
type closedError struct{ n int }

func (e *closedError) Error() string {
	return errClosedInAuth.Error() + " (" + strconv.Itoa(e.n) + " times in a row)"
}

func (e *closedError) Is(target error) bool { return target == errClosedInAuth }

// observation is what a tracker saw of the connections.
type observation struct {
	versionsOK  bool
	versionsErr error
	dialErr     error
}

// observed returns what the tracker saw of the connections.
func (t *tracker) observed() observation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return observation{versionsOK: t.mu.versionsOK, versionsErr: t.mu.versionsErr, dialErr: t.mu.dialErr}
}

// trackedMechanism is a SASL mechanism whose outcomes the tracker sees,
// and that fails at once while the tracker refuses.
type trackedMechanism struct {
	sasl.Mechanism
	t *tracker
}

func (m trackedMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	if err := m.t.refusal(host); err != nil {
		return nil, nil, err
	}
	s, first, err := m.Mechanism.Authenticate(ctx, host)
	if err != nil {
		// A file that cannot be read, AWS credentials not found:
		// nothing the broker said, and not retryable.
		return nil, nil, err
	}
	return trackedSession{Session: s, t: m.t, broker: host}, first, nil
}

// trackedSession reports a finished authentication to the tracker, and
// makes a failed one an AuthError.
type trackedSession struct {
	sasl.Session
	t      *tracker
	broker string
}

func (s trackedSession) Challenge(resp []byte) (bool, []byte, error) {
	done, next, err := s.Session.Challenge(resp)
	switch {
	case err != nil:
		return false, nil, &AuthError{Mechanism: s.t.mechanism, User: s.t.user, Broker: s.broker, Err: err}
	case done:
		s.t.succeeded()
	}
	return done, next, nil
}
