package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/opperotel/bridge/opperapi"
)

var apiClient = &http.Client{Timeout: 30 * time.Second}

// TotalTraces asks the receiver at base (http://host:port) how many traces
// it lists.
func TotalTraces(base string) (int64, error) {
	var page opperapi.List[opperapi.TraceListItem]
	if err := getJSON(base+"/v2/traces?limit=1", &page); err != nil {
		return 0, err
	}
	return page.Meta.TotalCount, nil
}

// SpanCounts pages through the whole trace list and returns each trace's
// span count.
func SpanCounts(base string) (map[string]int64, error) {
	out := map[string]int64{}
	for offset := 0; ; offset += 100 {
		var page opperapi.List[opperapi.TraceListItem]
		if err := getJSON(fmt.Sprintf("%s/v2/traces?limit=100&offset=%d", base, offset), &page); err != nil {
			return nil, err
		}
		for _, it := range page.Data {
			out[it.ID] = it.SpanCount
		}
		if len(page.Data) < 100 {
			return out, nil
		}
	}
}

// Missing returns the acknowledged traces that are not stored whole.
func Missing(counts map[string]int64, acked []string) []string {
	var out []string
	for _, id := range acked {
		if counts[id] != SpansPerTrace {
			out = append(out, id)
		}
	}
	return out
}

func getJSON(url string, out any) error {
	resp, err := apiClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.300s", url, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}
