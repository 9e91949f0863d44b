package opperreceiver // import "github.com/opperotel/bridge/receiver/opperreceiver"

import (
	"context"
	"errors"
	"sync"

	"github.com/opperotel/bridge/store"
	"github.com/opperotel/bridge/translator"
)

// errShuttingDown answers writes that arrive while the receiver stops.
var errShuttingDown = errors.New("the receiver is shutting down")

// maxGroupSpans bounds the spans of one group commit.
const maxGroupSpans = 5000

// groupWriter commits the writes of concurrent requests together: a write
// that arrives while another commits waits for it, then goes in one store
// call with every other write that queued meanwhile (group commit). Each
// request still gets its answer only after its own spans are durable. A
// store that serializes writes (SQLite has one writer) then pays one
// transaction per group instead of one per request.
type groupWriter struct {
	store store.Store
	reqs  chan *writeReq // unbuffered: a send succeeds only into a group
	stop  chan struct{}
	wg    sync.WaitGroup
}

type writeReq struct {
	project string
	spans   []translator.Span
	forward bool
	done    chan error
}

func newGroupWriter(st store.Store) *groupWriter {
	w := &groupWriter{store: st, reqs: make(chan *writeReq), stop: make(chan struct{})}
	w.wg.Go(w.run)
	return w
}

// upsert writes spans with the next group and returns its result.
func (w *groupWriter) upsert(ctx context.Context, project string, spans []translator.Span, forward bool) error {
	req := &writeReq{project: project, spans: spans, forward: forward, done: make(chan error, 1)}
	select {
	case w.reqs <- req:
	case <-w.stop:
		return errShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once taken, the write happens whatever the request's context does;
	// wait for its outcome.
	return <-req.done
}

// close stops taking writes and waits for the group in progress.
func (w *groupWriter) close() {
	if w == nil {
		return
	}
	close(w.stop)
	w.wg.Wait()
}

func (w *groupWriter) run() {
	for {
		var first *writeReq
		select {
		case first = <-w.reqs:
		case <-w.stop:
			return
		}
		group := []*writeReq{first}
		n := len(first.spans)
	collect:
		for n < maxGroupSpans {
			select {
			case r := <-w.reqs:
				group = append(group, r)
				n += len(r.spans)
			default:
				break collect
			}
		}
		w.commit(group)
	}
}

// commit writes a group, one store call per project and forward flag. If a
// combined call fails, each request is retried alone, so one request's
// failure is not another's.
func (w *groupWriter) commit(group []*writeReq) {
	type key struct {
		project string
		forward bool
	}
	var order []key
	parts := make(map[key][]*writeReq)
	for _, r := range group {
		k := key{r.project, r.forward}
		if _, ok := parts[k]; !ok {
			order = append(order, k)
		}
		parts[k] = append(parts[k], r)
	}
	// The requests' own contexts are not used: a canceled request must not
	// fail the others in its group.
	ctx := context.Background()
	for _, k := range order {
		reqs := parts[k]
		if len(reqs) == 1 {
			reqs[0].done <- w.store.UpsertSpans(ctx, k.project, reqs[0].spans, k.forward)
			continue
		}
		var spans []translator.Span
		for _, r := range reqs {
			spans = append(spans, r.spans...)
		}
		err := w.store.UpsertSpans(ctx, k.project, spans, k.forward)
		for _, r := range reqs {
			if err != nil {
				r.done <- w.store.UpsertSpans(ctx, k.project, r.spans, k.forward)
				continue
			}
			r.done <- nil
		}
	}
}
