// Package runtimetest lets a `go test` run an app's handlers without
// broker plumbing, what Kafka Streams' TopologyTestDriver and goka's tester
// give their users.
//
// Start runs the app as it runs in production, actors, ledger, commits and
// tables included, against an embedded broker of its own (package broker),
// so parallel tests never share topics or groups. A test sends typed
// records with an Input, waits with Driver.Idle until every record sent is
// handled, committed and its outputs acknowledged, then reads what the app
// produced (Output.Read), its tables (Get), its committed offsets and the
// outcome of each record (Driver.Outcomes):
//
//	d := runtimetest.Start(t, app)
//	orders := runtimetest.NewInput(d, "orders", serde.String(), serde.JSON[Order]())
//	orders.Send("o-1", Order{Total: 12})
//	d.Idle()
//	got := runtimetest.NewOutput(d, "heavy", serde.String(), serde.JSON[Order]()).Read()
//
// Every Driver method fails the test (t.Fatalf) when it cannot do what it
// says; outside a test (an Example, a TestMain), New makes a driver whose
// failures panic instead. Defaults suit tests: one partition per topic,
// tables in memory, commits every 10ms, no HTTP server; Configure changes
// any setting. BrokerOptions makes the broker require SASL users or TLS,
// to test an app's connection settings: the driver's own clients connect
// as the app does (Config.ClientOptions).
package runtimetest
