// Command pageviews is Eddy's table example: it counts views per page.
// Records on "page-views" are keyed by page name with a JSON view event as
// value; the table "page_views" holds an int64 count per page, durable in
// the compacted changelog "pageviews-page_views-changelog" and kept in
// RocksDB (or the store table_store names). A tombstone for a page (a
// record with a null value) deletes its count.
//
//	go run ./examples/pageviews demo      # embedded broker, generated views, top pages
//	go run ./examples/pageviews worker    # embedded broker; send your own views
//
// While it runs, GET /tables/page_views/<page> returns a page's count.
package main

import (
	"context"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// View is one page view.
type View struct {
	User string `json:"user"`
	At   int64  `json:"at"` // Unix milliseconds
}

// counter counts views per page in its table.
type counter struct {
	views *tables.Table[string, int64]
}

// OnMessage adds one view to the page's count.
func (c *counter) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, View]) error {
	n, _, err := c.views.Get(ctx, msg.Key)
	if err != nil {
		return err
	}
	return c.views.Set(ctx, msg.Key, n+1)
}

// OnTombstone deletes the page's count.
func (c *counter) OnTombstone(ctx *runtime.Context, msg *runtime.Message[string, View]) error {
	return c.views.Delete(ctx, msg.Key)
}

// newApp builds the pageviews app.
func newApp() (*runtime.App, *tables.Table[string, int64]) {
	app := runtime.NewApp("pageviews")
	views := runtime.NewTable(app, "page_views", serde.String(), serde.Int64(), tables.Options{})
	runtime.Handle(app, &counter{views: views}, serde.String(), serde.JSON[View](), "page-views")
	return app, views
}

func main() {
	app, views := newApp()
	app.Command("demo", "count generated page views on an embedded broker and print the top pages", func(ctx context.Context, args []string) error {
		return demo(ctx, app, views, args)
	})
	runtime.Main(app)
}
