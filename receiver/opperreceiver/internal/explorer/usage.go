package explorer

import (
	"net/http"
	"net/url"

	"github.com/opperotel/bridge/translator"
)

type usageView struct {
	Filter url.Values // from and to, as given
	Ranges []rangeLink
	Rows   []usageRow
	Calls  int64
	Tokens int64
	Cost   float64
	Error  string
}

type usageRow struct {
	translator.ModelUsage
	// Share is the row's part of the total cost (of the tokens when
	// nothing has a cost), in percent, for its bar.
	Share float64
	// ListURL is the trace list of the model over the same range.
	ListURL string
}

// usage serves GET /usage?from=&to=: calls, tokens and cost per model over
// the traces that start in the range. The list page shows it too, fetched
// after the list so that the list never waits for it.
func (e *Explorer) usage(r *http.Request, project string) (string, any, error) {
	v := r.URL.Query()
	view := usageView{Filter: url.Values{}}
	for _, k := range []string{"from", "to"} {
		if s := v.Get(k); s != "" {
			view.Filter.Set(k, s)
		}
	}
	view.Ranges = e.ranges("/usage", view.Filter)
	// The same parsing as the list's, for the same messages.
	q, err := e.opts.ParseQuery(view.Filter)
	if err != nil {
		view.Error = errorText(err)
		return "usage", view, &pageError{status: http.StatusBadRequest, view: view}
	}
	totals, err := e.opts.Store.UsageByModel(r.Context(), project, q.From, q.To)
	if err != nil {
		return "", nil, err
	}
	var tokens int64
	for _, u := range totals {
		view.Calls += u.Calls
		tokens += u.Tokens
		view.Cost += u.Cost
	}
	view.Tokens = tokens
	for _, u := range totals {
		row := usageRow{ModelUsage: u}
		switch {
		case view.Cost > 0:
			row.Share = 100 * u.Cost / view.Cost
		case tokens > 0:
			row.Share = 100 * float64(u.Tokens) / float64(tokens)
		}
		if u.Model != "" {
			lv := url.Values{"model": {u.Model}}
			for k, vals := range view.Filter {
				lv[k] = vals
			}
			row.ListURL = listURL(lv)
		}
		view.Rows = append(view.Rows, row)
	}
	return "usage", view, nil
}
