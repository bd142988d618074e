// Command enrich is Eddy's step-mode example: it joins orders with the
// profiles of their users. Records on "users" are keyed by user id with a
// JSON profile as value; a tombstone (a record with a null value) deletes
// the user. They are kept in the table "users", durable in the compacted
// changelog "enrich-users-changelog". Records on "orders" are keyed by
// user id too, with a JSON order as value; each is written to
// "enriched-orders" with its user's profile, or with profile_missing: true
// when the user is unknown: no order is dropped silently. (An order keyed
// by anything but its user id is refused: logged, counted as a handler
// error and skipped; see joiner.OnMessage.)
//
// The worker runs with the step plan [[users]]: it reads every "users"
// partition it is assigned up to the end it finds at start, in bulk,
// before it handles any order, so that no order is joined against a
// half-loaded table; then every topic runs in auto mode. The runtime has
// no per-app default for settings, so the worker refuses to start unless
// its steps load users before orders:
//
//	go run ./examples/enrich demo                   # embedded broker, generated users and orders, a summary
//	go run ./examples/enrich worker --steps users   # embedded broker; send your own users and orders
//
// (EDDY_STEPS=users, or steps: [[users]] in a config file, do the same as
// --steps users.) Then, from another terminal:
//
//	printf 'user-1\t{"name":"Ada","email":"ada@example.com","tier":"pro"}\n' |
//	  go run ./examples/enrich produce --brokers 127.0.0.1:9092 --topic users
//	printf 'user-1\t{"order_id":"o-1","user_id":"user-1","amount":12.5}\n' |
//	  go run ./examples/enrich produce --brokers 127.0.0.1:9092 --topic orders
//	go run ./examples/enrich consume --brokers 127.0.0.1:9092 --topic enriched-orders --from-beginning --max 1
//
// While it runs, GET /tables/users/<user id> returns a user's profile, and
// orders of unknown users are logged at debug level (--log-level debug).
//
// Several workers may share the group: the runtime keeps users/p and
// orders/p on one worker (an app whose tables have several source topics
// uses the range balancer), and each worker runs the users step on the
// partitions it holds.
package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

const (
	usersTopic    = "users"
	ordersTopic   = "orders"
	enrichedTopic = "enriched-orders"
)

// defaultSteps is the step plan the demo runs and the worker needs: users
// first.
var defaultSteps = [][]string{{usersTopic}}

// Profile is a user's profile, the value of a "users" record.
type Profile struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Tier  string `json:"tier"`
}

// Order is the value of an "orders" record.
type Order struct {
	OrderID string  `json:"order_id"`
	UserID  string  `json:"user_id"`
	Amount  float64 `json:"amount"`
	Item    string  `json:"item,omitempty"`
}

// Enriched is what enrich writes to "enriched-orders" for each order:
// the order with its user's profile, or with ProfileMissing set and no
// profile when the user is unknown.
type Enriched struct {
	Order          Order    `json:"order"`
	Profile        *Profile `json:"profile,omitempty"`
	ProfileMissing bool     `json:"profile_missing,omitempty"`
}

// profiles keeps the users table: the last profile of each user.
type profiles struct {
	users *tables.Table[string, Profile]
}

// OnBulk stores a batch of profiles: the users step, and any users
// backlog in auto mode, arrive this way. The batch is in offset order and
// holds the tombstones too (profiles has OnTombstone), so applying it in
// order leaves each user's last version.
func (p *profiles) OnBulk(ctx *runtime.Context, msgs []*runtime.Message[string, Profile]) error {
	for _, msg := range msgs {
		var err error
		if msg.Record.Value == nil {
			err = p.users.Delete(ctx, msg.Key)
		} else {
			err = p.users.Set(ctx, msg.Key, msg.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// OnMessage stores one profile: once users is caught up, auto mode hands
// records over one at a time.
func (p *profiles) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, Profile]) error {
	return p.users.Set(ctx, msg.Key, msg.Value)
}

// OnTombstone deletes the user.
func (p *profiles) OnTombstone(ctx *runtime.Context, msg *runtime.Message[string, Profile]) error {
	return p.users.Delete(ctx, msg.Key)
}

// joiner writes each order to "enriched-orders" with its user's profile.
type joiner struct {
	users *tables.Table[string, Profile]
	out   *runtime.Output[string, Enriched]
	// missing counts the orders written with profile_missing since the
	// worker started (again after a crash: at least once).
	missing atomic.Int64
}

// OnStart refuses a step plan that does not load users before orders.
func (j *joiner) OnStart(_ context.Context, cfg runtime.Config) error {
	for _, step := range cfg.Steps {
		if slices.Contains(step, ordersTopic) {
			break
		}
		if slices.Contains(step, usersTopic) {
			return nil
		}
	}
	plan := "no steps"
	if len(cfg.Steps) > 0 {
		plan = fmt.Sprintf("steps %v", cfg.Steps)
	}
	return fmt.Errorf("enrich: %s: the worker must load %q before it joins %q, or orders meet a half-loaded users table; "+
		"run it with --steps %[2]s (or EDDY_STEPS=%[2]s, or steps: [[%[2]s]] in the config file)", plan, usersTopic, ordersTopic)
}

// OnMessage joins the order with its user's profile.
//
// Orders must be keyed by user id, like users: a table is sharded by
// source partition, so while orders/p is handled users.Get reads shard p,
// which holds exactly the profiles of users/p. Records with the same key
// go to the same partition number of both topics (same partition count,
// same partitioner); an order keyed otherwise would look in the wrong
// shard and miss its profile, so it is refused instead.
func (j *joiner) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, Order]) error {
	order := msg.Value
	if msg.Key != order.UserID {
		return fmt.Errorf("enrich: order %q has key %q but user_id %q: key orders by their user id, "+
			"so that they reach the partition that holds the user's profile", order.OrderID, msg.Key, order.UserID)
	}
	e := Enriched{Order: order}
	profile, ok, err := j.users.Get(ctx, msg.Key)
	switch {
	case err != nil:
		return err
	case ok:
		e.Profile = &profile
	default:
		e.ProfileMissing = true
		n := j.missing.Add(1)
		ctx.Logger().Debug("order of an unknown user: written with profile_missing",
			"user", msg.Key, "order", order.OrderID, "missing_since_start", n)
	}
	return j.out.Produce(ctx, enrichedTopic, msg.Key, e)
}

// newApp builds the enrich app.
func newApp(opts ...runtime.Option) (*runtime.App, *joiner) {
	app := runtime.NewApp("enrich", opts...)
	users := runtime.NewTable(app, "users", serde.String(), serde.JSON[Profile](), tables.Options{})
	out := runtime.NewOutput(app, serde.String(), serde.JSON[Enriched](), enrichedTopic)
	j := &joiner{users: users, out: out}
	runtime.Handle(app, &profiles{users: users}, serde.String(), serde.JSON[Profile](), usersTopic)
	runtime.Handle(app, j, serde.String(), serde.JSON[Order](), ordersTopic)
	return app, j
}

func main() {
	app, j := newApp()
	app.Command("demo", "load generated users, then enrich generated orders with them, on an embedded broker, and print a summary", func(ctx context.Context, args []string) error {
		return demo(ctx, app, j, args)
	})
	runtime.Main(app)
}
