// Package baton is the Go client of the baton job server: a Client for every
// route of the HTTP API (docs/api.md, docs/openapi.json) and a Worker that
// claims, heartbeats and settles jobs. Standard library only.
//
// This file holds the Client, its options and the one request path every
// call goes through (auth header, JSON bodies, error answers, retries of
// 429/503 after Retry-After).
//
// Assumptions: the server speaks HTTP/1.1 keep-alive; a 429 or 503 answer
// means nothing was done (docs/api.md, Conventions), so any call, whatever its
// method, may be sent again after Retry-After.
package baton

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is this library's version, sent in the default User-Agent.
const Version = "0.1.0"

// Client calls the baton API. It is safe for concurrent use; make one and
// share it.
type Client struct {
	base          string // e.g. http://127.0.0.1:7700 (no trailing slash)
	key           string
	hc            *http.Client
	ownTransport  *http.Transport // non-nil when the client made its transport (Close closes it)
	userAgent     string
	maxRetries    int
	maxRetryWait  time.Duration
	timeout       time.Duration
	coalesce      bool
	coalesceMax   int
	minimalReturn bool

	mu       sync.Mutex // guards the coalescing state below
	pending  []*pendingEnqueue
	flushing bool
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send through hc (its Transport, Timeout and
// so on are used as they are). By default the client makes its own keep-alive
// transport with enough idle connections for a busy Worker.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc; c.ownTransport = nil }
}

// WithRetries sets how many times a 429 or 503 answer is retried after its
// Retry-After (default 3; 0 turns retries off and returns the *Error).
func WithRetries(n int) Option {
	return func(c *Client) {
		if n < 0 {
			n = 0
		}
		c.maxRetries = n
	}
}

// WithMaxRetryWait caps the wait before one retry (default 30 s). A
// Retry-After above the cap is not waited for: the *Error is returned.
func WithMaxRetryWait(d time.Duration) Option {
	return func(c *Client) { c.maxRetryWait = d }
}

// WithUserAgent sets the User-Agent header (default "baton-go/<Version>").
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithTimeout bounds each HTTP request (default 30 s; 0 means no bound other
// than the context's). A long poll (claim or GetJob wait) gets its wait added
// on top, so the bound never cuts a wait short.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithCoalescing turns on (or off) the coalescing of concurrent Enqueue calls:
// calls made while an enqueue request is in flight are sent together as one
// batch request (up to max jobs, default and ceiling 1000) as soon as it
// returns, and each caller gets its own job or error. No wait is added. Off by
// default.
func WithCoalescing(on bool, max int) Option {
	return func(c *Client) {
		c.coalesce = on
		if max <= 0 || max > 1000 {
			max = 1000
		}
		c.coalesceMax = max
	}
}

// WithMinimalEnqueue sends "Prefer: return=minimal" on enqueues: the answered
// jobs hold only ID, State and Version (and Duplicate/Replaced). Saves the
// server and the client work when only the id is kept.
func WithMinimalEnqueue(on bool) Option { return func(c *Client) { c.minimalReturn = on } }

// NewClient makes a client of the server at baseURL (e.g.
// "http://127.0.0.1:7700") with the API key (the "bk_..." secret; "" for a
// server run with --insecure-no-auth).
func NewClient(baseURL, key string, opts ...Option) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// A Worker runs up to Concurrency heartbeats and settles at once; the
	// default of 2 idle connections per host would make it reconnect all the time.
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 512
	tr.IdleConnTimeout = 50 * time.Second // below the server's --idle-timeout-ms default of 60 s
	c := &Client{
		base:         strings.TrimRight(baseURL, "/"),
		key:          key,
		hc:           &http.Client{Transport: tr},
		ownTransport: tr,
		userAgent:    "baton-go/" + Version,
		maxRetries:   3,
		maxRetryWait: 30 * time.Second,
		timeout:      30 * time.Second,
		coalesceMax:  1000,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Close releases the idle connections of the client's own transport (not of
// one given WithHTTPClient). The client stays usable.
func (c *Client) Close() {
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
}

// request is one call: method, path (already escaped), query, body.
type request struct {
	method  string
	path    string
	query   url.Values
	body    any // marshalled to JSON when non-nil
	wait    time.Duration
	noRetry bool
	header  http.Header
	noAuth  bool
}

// answer is what the server sent back on success.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends r, retrying 429/503 after Retry-After up to the bound, and
// decodes a 2xx body into out (when out is non-nil).
func (c *Client) do(ctx context.Context, r request, out any) (*answer, error) {
	var body []byte
	if r.body != nil {
		var err error
		if raw, ok := r.body.(json.RawMessage); ok {
			body = raw
		} else if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("baton: encoding the request: %w", err)
		}
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	for attempt := 0; ; attempt++ {
		ans, err := c.once(ctx, r, u, body)
		if err == nil {
			if out != nil && len(ans.body) > 0 {
				if err := json.Unmarshal(ans.body, out); err != nil {
					return ans, fmt.Errorf("baton: decoding the answer of %s %s: %w", r.method, r.path, err)
				}
			}
			return ans, nil
		}
		var be *Error
		if r.noRetry || attempt >= c.maxRetries || !errors.As(err, &be) ||
			(be.Status != http.StatusTooManyRequests && be.Status != http.StatusServiceUnavailable) {
			return ans, err
		}
		wait := be.RetryAfter
		if wait <= 0 {
			wait = time.Duration(100<<attempt) * time.Millisecond // no Retry-After: a short growing pause
		}
		if wait > c.maxRetryWait {
			return ans, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ans, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, r request, u string, body []byte) (*answer, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+r.wait)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.key != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	ans := &answer{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode >= 400 {
		return ans, parseError(resp, data)
	}
	return ans, nil
}

// parseError turns an error answer into *Error; a body that is not the
// error shape still gives the status and a code derived from it.
func parseError(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
			JobID   string `json:"job_id"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Field, e.JobID = env.Error.Code, env.Error.Message, env.Error.Field, env.Error.JobID
	} else {
		e.Code = "http_" + strconv.Itoa(resp.StatusCode)
		e.Message = strings.TrimSpace(string(data))
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			if d := time.Until(t); d > 0 {
				e.RetryAfter = d
			}
		}
	}
	return e
}

// isTransient reports whether err is worth retrying by a Worker loop: a
// transport failure, a timeout, or a 5xx/429 answer.
func isTransient(err error) bool {
	var be *Error
	if errors.As(err, &be) {
		return be.Status >= 500 || be.Status == http.StatusTooManyRequests
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return !errors.Is(err, context.Canceled)
}

// seg escapes one path segment (a queue name, a key, an id).
func seg(s string) string { return url.PathEscape(s) }
