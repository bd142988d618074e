package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// httpClient bounds each request of Get and GetJSON: a worker answers
// its endpoints at once or not at all.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// Get fetches url, such as a worker's /status, and returns its status and
// its body without surrounding white space. It fails nothing: a test
// polling a server that is not listening yet gets the error.
func Get(url string) (code int, body []byte, err error) {
	code, _, body, err = get(url)
	return code, body, err
}

func get(url string) (code int, contentType string, body []byte, err error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), bytes.TrimSpace(body), err
}

// GetJSON fetches url and decodes its JSON body into v, whatever the
// status (an error answer of a worker is JSON too). An answer that is not
// Content-Type application/json, or does not decode, is an error.
func GetJSON(url string, v any) (code int, err error) {
	code, ct, body, err := get(url)
	switch {
	case err != nil:
		return code, err
	case ct != "application/json":
		return code, fmt.Errorf("GET %s: %d with Content-Type %q, want application/json: %s", url, code, ct, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return code, fmt.Errorf("GET %s: %d, %v in %s", url, code, err, body)
	}
	return code, nil
}
