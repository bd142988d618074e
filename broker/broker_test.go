package broker_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/broker"
)

// listTopics returns the topics of the broker at addrs with their
// partition counts.
func listTopics(t *testing.T, addrs []string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range details {
		out[d.Topic] = len(d.Partitions)
	}
	return out
}

func TestStartCreatesTopics(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(broker.Options{Topics: []string{"a", "b"}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := listTopics(t, b.Addrs())
	if got["a"] != 3 || got["b"] != 3 {
		t.Fatalf("topics = %v, want a and b with 3 partitions", got)
	}
}

func TestDataDirKeepsTopicsAndCreatesNewOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := broker.Start(broker.Options{DataDir: dir, Topics: []string{"a"}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "a", Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	b, err = broker.Start(broker.Options{DataDir: dir, Topics: []string{"a", "b"}, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Created(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("Created() = %q after a restart with a new topic b, want [b]", got)
	}
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics("a"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fs := cl.PollRecords(t.Context(), 1)
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "kept" {
		t.Fatalf("after the restart topic a holds %v (errors %v), want the record produced before", recs, fs.Errors())
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	if _, err := broker.Start(broker.Options{Listen: taken}); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a taken port: %v, want EADDRINUSE", err)
	}
	b, err := broker.Start(broker.Options{Listen: taken, FallbackToFreePort: true})
	if err != nil {
		t.Fatalf("Start with FallbackToFreePort on a taken port: %v", err)
	}
	defer b.Close()
	if b.Addrs()[0] == taken {
		t.Fatalf("listening on the taken address %s", taken)
	}
}

func TestBadListenAddress(t *testing.T) {
	t.Parallel()
	if _, err := broker.Start(broker.Options{Listen: "nonsense"}); err == nil {
		t.Fatal("Start with listen address \"nonsense\" gave no error")
	}
}

// TestMinSessionTimeout: a group member may ask for a session as short as
// Options.MinSessionTimeout, and no shorter; by default Kafka's 6s.
func TestMinSessionTimeout(t *testing.T) {
	t.Parallel()
	// join sends one JoinGroup with the session timeout and returns its
	// error code's error (a first join is answered MEMBER_ID_REQUIRED).
	join := func(b *broker.Broker, session time.Duration) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = "g"
		req.SessionTimeoutMillis = int32(session.Milliseconds())
		req.RebalanceTimeoutMillis = 10000
		req.ProtocolType = "consumer"
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name = "range"
		req.Protocols = append(req.Protocols, proto)
		resp, err := req.RequestWith(t.Context(), cl)
		if err != nil {
			t.Fatalf("JoinGroup: %v", err)
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	def, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if err := join(def, time.Second); !errors.Is(err, kerr.InvalidSessionTimeout) {
		t.Errorf("a 1s session on a broker with the default minimum: %v, want INVALID_SESSION_TIMEOUT", err)
	}
	short, err := broker.Start(broker.Options{MinSessionTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if err := join(short, time.Second); !errors.Is(err, kerr.MemberIDRequired) {
		t.Errorf("a 1s session on a broker with a minimum of 500ms: %v, want the first join's MEMBER_ID_REQUIRED", err)
	}
	if err := join(short, 400*time.Millisecond); !errors.Is(err, kerr.InvalidSessionTimeout) {
		t.Errorf("a 400ms session on a broker with a minimum of 500ms: %v, want INVALID_SESSION_TIMEOUT", err)
	}
	if _, err := broker.Start(broker.Options{MinSessionTimeout: -time.Second}); err == nil {
		t.Error("Start with a negative minimum session timeout gave no error")
	}
}
