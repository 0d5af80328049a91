// Job routes: enqueue (single, batch, coalesced), read, wait, find, bulk,
// cancel, purge, edit, retry, promote; and the work routes a Worker uses
// (claim, heartbeat, complete, fail, settle), public for callers that drive
// leases by hand.
package baton

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func (c *Client) enqueueHeader() http.Header {
	if !c.minimalReturn {
		return nil
	}
	return http.Header{"Prefer": []string{"return=minimal"}}
}

// Enqueue enqueues one job. A repeat of an idempotency_key or a key clash
// answers the existing job with Duplicate (or Replaced) set. With
// WithCoalescing, concurrent calls share batch requests.
func (c *Client) Enqueue(ctx context.Context, req EnqueueRequest) (*Job, error) {
	if c.coalesce {
		return c.enqueueCoalesced(ctx, req)
	}
	return c.enqueueOne(ctx, req)
}

func (c *Client) enqueueOne(ctx context.Context, req EnqueueRequest) (*Job, error) {
	var out struct {
		Job       *Job `json:"job"`
		Duplicate bool `json:"duplicate"`
		Replaced  bool `json:"replaced"`
	}
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/jobs", body: req, header: c.enqueueHeader()}, &out); err != nil {
		return nil, err
	}
	if out.Job == nil {
		return nil, errors.New("baton: enqueue answer without a job")
	}
	out.Job.Duplicate, out.Job.Replaced = out.Duplicate, out.Replaced
	return out.Job, nil
}

// EnqueueBatch enqueues up to 1,000 jobs atomically: all are stored or none
// (the *Error's Field names the element at fault, "jobs[3].queue"). The jobs
// come back in request order, repeats marked Duplicate or Replaced.
func (c *Client) EnqueueBatch(ctx context.Context, reqs []EnqueueRequest) ([]*Job, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	var out struct {
		Jobs []*Job `json:"jobs"`
	}
	body := struct {
		Jobs []EnqueueRequest `json:"jobs"`
	}{reqs}
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/jobs", body: body, header: c.enqueueHeader()}, &out); err != nil {
		return nil, err
	}
	if len(out.Jobs) != len(reqs) {
		return nil, fmt.Errorf("baton: batch answer has %d jobs for %d sent", len(out.Jobs), len(reqs))
	}
	return out.Jobs, nil
}

// pendingEnqueue is one coalesced Enqueue call waiting for its batch.
type pendingEnqueue struct {
	req  EnqueueRequest
	done chan enqueueOutcome // buffered 1: the flusher never blocks on a caller that left
}

type enqueueOutcome struct {
	job *Job
	err error
}

// enqueueCoalesced queues the call and makes sure one flusher runs. The
// flusher sends what has gathered as one batch; calls arriving meanwhile form
// the next batch. Nothing waits on a timer: the batching comes only from
// calls overlapping a request in flight.
func (c *Client) enqueueCoalesced(ctx context.Context, req EnqueueRequest) (*Job, error) {
	p := &pendingEnqueue{req: req, done: make(chan enqueueOutcome, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, p)
	if !c.flushing {
		c.flushing = true
		go c.flushEnqueues()
	}
	c.mu.Unlock()
	select {
	case o := <-p.done:
		return o.job, o.err
	case <-ctx.Done():
		// The job may still be stored by the batch in flight; the caller
		// only stops waiting for it (as with any cancelled request).
		return nil, ctx.Err()
	}
}

// flushEnqueues runs while calls are pending and exits when none are, so no
// goroutine outlives the calls it serves.
func (c *Client) flushEnqueues() {
	for {
		c.mu.Lock()
		n := len(c.pending)
		if n == 0 {
			c.flushing = false
			c.mu.Unlock()
			return
		}
		if n > c.coalesceMax {
			n = c.coalesceMax
		}
		batch := c.pending[:n:n]
		c.pending = append([]*pendingEnqueue(nil), c.pending[n:]...)
		c.mu.Unlock()
		c.sendCoalesced(batch)
	}
}

var elementField = regexp.MustCompile(`^jobs\[(\d+)\]`)

// sendCoalesced sends one gathered batch. A batch is atomic on the server,
// so one caller's bad job would refuse everybody's: when the error names an
// element, that caller's job is sent alone (so it gets exactly the answer it
// would have had without coalescing) and the rest are sent again. A single
// call goes out as a plain enqueue.
func (c *Client) sendCoalesced(batch []*pendingEnqueue) {
	ctx := context.Background()
	for len(batch) > 0 {
		if len(batch) == 1 {
			job, err := c.enqueueOne(ctx, batch[0].req)
			batch[0].done <- enqueueOutcome{job, err}
			return
		}
		reqs := make([]EnqueueRequest, len(batch))
		for i, p := range batch {
			reqs[i] = p.req
		}
		jobs, err := c.EnqueueBatch(ctx, reqs)
		if err == nil {
			for i, p := range batch {
				p.done <- enqueueOutcome{jobs[i], nil}
			}
			return
		}
		var be *Error
		idx := -1
		if errors.As(err, &be) && be.Status < 500 && be.Status != http.StatusTooManyRequests {
			if m := elementField.FindStringSubmatch(be.Field); m != nil {
				if i, convErr := strconv.Atoi(m[1]); convErr == nil && i < len(batch) {
					idx = i
				}
			}
		}
		if idx < 0 {
			// Not about one element (auth, a full queue, the network): it is
			// every caller's answer.
			for _, p := range batch {
				p.done <- enqueueOutcome{nil, err}
			}
			return
		}
		culprit := batch[idx]
		job, oneErr := c.enqueueOne(ctx, culprit.req)
		culprit.done <- enqueueOutcome{job, oneErr}
		batch = append(batch[:idx:idx], batch[idx+1:]...)
	}
}

// GetJob reads a job.
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	return c.getJob(ctx, id, 0)
}

func (c *Client) getJob(ctx context.Context, id string, wait time.Duration) (*Job, error) {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait_ms": {strconv.FormatInt(wait.Milliseconds(), 10)}}
	}
	var out struct {
		Job *Job `json:"job"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: "/v1/jobs/" + seg(id), query: q, wait: wait}, &out); err != nil {
		return nil, err
	}
	return out.Job, nil
}

// WaitJob waits until the job is terminal (completed, dead or cancelled) and
// returns it, long-polling the server in waits of up to 60 s. Bound it with
// the context (context.WithTimeout); on expiry the context's error is returned.
func (c *Client) WaitJob(ctx context.Context, id string) (*Job, error) {
	for {
		wait := 60 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl) - 50*time.Millisecond; left < wait {
				wait = left
			}
		}
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		job, err := c.getJob(ctx, id, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if job.Terminal() {
			return job, nil
		}
		if err := ctx.Err(); err != nil {
			return job, err
		}
	}
}

func (f JobFilter) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	tm := func(k string, t *time.Time) {
		if t != nil {
			q.Set(k, t.UTC().Format(time.RFC3339Nano))
		}
	}
	set("queue", f.Queue)
	set("state", strings.Join(f.State, ","))
	set("type", f.Type)
	set("group", f.Group)
	set("key", f.Key)
	set("idempotency_key", f.IdempotencyKey)
	set("request_id", f.RequestID)
	set("execution_id", f.ExecutionID)
	set("worker", f.Worker)
	tm("created_after", f.CreatedAfter)
	tm("created_before", f.CreatedBefore)
	tm("finished_after", f.FinishedAfter)
	tm("finished_before", f.FinishedBefore)
	set("order", f.Order)
	return q
}

// listPage fetches one page of GET path?query&limit&after into {"<kind>": [...], "next"}.
func listPage[T any](c *Client, ctx context.Context, path, kind string, q url.Values, limit int, after string) ([]T, *string, error) {
	qq := url.Values{}
	for k, v := range q {
		qq[k] = v
	}
	if limit > 0 {
		qq.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		qq.Set("after", after)
	}
	var raw map[string]json.RawMessage
	if _, err := c.do(ctx, request{method: "GET", path: path, query: qq}, &raw); err != nil {
		return nil, nil, err
	}
	var items []T
	if r, ok := raw[kind]; ok {
		if err := json.Unmarshal(r, &items); err != nil {
			return nil, nil, fmt.Errorf("baton: decoding %s: %w", kind, err)
		}
	}
	var next *string
	if r, ok := raw["next"]; ok {
		if err := json.Unmarshal(r, &next); err != nil {
			return nil, nil, fmt.Errorf("baton: decoding next: %w", err)
		}
	}
	return items, next, nil
}

func listIter[T any](c *Client, ctx context.Context, path, kind string, q url.Values, o ListOptions) *Iter[T] {
	return newIter(ctx, o.After, func(ctx context.Context, after string) ([]T, *string, error) {
		return listPage[T](c, ctx, path, kind, q, o.PageSize, after)
	})
}

// ListJobs iterates over the jobs the filter finds (ascending by id, or
// newest first with Order "desc"), page after page.
func (c *Client) ListJobs(ctx context.Context, f JobFilter) *Iter[*Job] {
	return listIter[*Job](c, ctx, "/v1/jobs", "jobs", f.query(), ListOptions{PageSize: f.PageSize, After: f.After})
}

// BulkJobs applies an action to at most Limit (1,000) jobs the filter finds,
// in one transaction. Call again with After = *Next while Next is non-nil,
// or use BulkJobsAll.
func (c *Client) BulkJobs(ctx context.Context, req BulkRequest) (*BulkResult, error) {
	var out BulkResult
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/jobs/bulk", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// BulkJobsAll repeats BulkJobs until nothing more matches and sums the counts.
func (c *Client) BulkJobsAll(ctx context.Context, req BulkRequest) (*BulkResult, error) {
	total := &BulkResult{}
	for i := 0; ; i++ {
		r, err := c.BulkJobs(ctx, req)
		if err != nil {
			return total, err
		}
		total.Matched += r.Matched
		total.Changed += r.Changed
		if r.Next == nil || *r.Next == "" || *r.Next == req.After {
			return total, nil
		}
		req.After = *r.Next
	}
}

// CancelJob cancels a job that has not ended; a running one is marked
// cancel_requested and its worker learns it on its next heartbeat.
func (c *Client) CancelJob(ctx context.Context, id string) (*Job, error) {
	return c.jobCall(ctx, "DELETE", "/v1/jobs/"+seg(id), nil, nil)
}

// PurgeJob deletes an ended job and everything of it; it answers the job as it was.
func (c *Client) PurgeJob(ctx context.Context, id string) (*Job, error) {
	return c.jobCall(ctx, "DELETE", "/v1/jobs/"+seg(id), url.Values{"purge": {"true"}}, nil)
}

// EditJob changes the priority, run_at or payload of a job that has not started.
func (c *Client) EditJob(ctx context.Context, id string, patch JobPatch) (*Job, error) {
	return c.jobCall(ctx, "PATCH", "/v1/jobs/"+seg(id), nil, patch)
}

// RetryJob runs a dead or cancelled job again with a fresh attempt budget.
func (c *Client) RetryJob(ctx context.Context, id string) (*Job, error) {
	return c.jobCall(ctx, "POST", "/v1/jobs/"+seg(id)+"/retry", nil, nil)
}

// PromoteJob makes a scheduled or retrying job queued now.
func (c *Client) PromoteJob(ctx context.Context, id string) (*Job, error) {
	return c.jobCall(ctx, "POST", "/v1/jobs/"+seg(id)+"/promote", nil, nil)
}

func (c *Client) jobCall(ctx context.Context, method, path string, q url.Values, body any) (*Job, error) {
	var out struct {
		Job *Job `json:"job"`
	}
	if _, err := c.do(ctx, request{method: method, path: path, query: q, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Job, nil
}

// Claim leases up to req.Max queued jobs of the queue, waiting up to
// req.WaitMs for one to become ready. Each job carries its Lease token.
func (c *Client) Claim(ctx context.Context, queue string, req ClaimRequest) ([]*Job, error) {
	var out struct {
		Jobs []*Job `json:"jobs"`
	}
	r := request{method: "POST", path: "/v1/queues/" + seg(queue) + "/claim", body: req,
		wait: time.Duration(req.WaitMs) * time.Millisecond}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// Heartbeat extends a lease (and stores progress). CancelRequested in the
// answer says the job was cancelled meanwhile; a lost lease is a 409 *Error
// (lease_mismatch or lease_expired).
func (c *Client) Heartbeat(ctx context.Context, id string, req HeartbeatRequest) (*HeartbeatResult, error) {
	var out HeartbeatResult
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/jobs/" + seg(id) + "/heartbeat", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CompleteJob completes an attempt with its result (nil: null).
func (c *Client) CompleteJob(ctx context.Context, id, lease string, result json.RawMessage) (*SettleResult, error) {
	body := struct {
		Lease  string          `json:"lease"`
		Result json.RawMessage `json:"result,omitempty"`
	}{lease, result}
	var out SettleResult
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/jobs/" + seg(id) + "/complete", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FailJob fails an attempt: retried per the job's backoff, or dead.
func (c *Client) FailJob(ctx context.Context, id string, req FailRequest) (*SettleResult, error) {
	var out SettleResult
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/jobs/" + seg(id) + "/fail", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Settle completes or fails up to 1,000 attempts in one request; each item
// is settled or refused on its own (SettleItemResult.Err).
func (c *Client) Settle(ctx context.Context, items []SettleItem) ([]SettleItemResult, error) {
	body := struct {
		Items []SettleItem `json:"items"`
	}{items}
	var out struct {
		Items []struct {
			ID     string     `json:"id"`
			OK     bool       `json:"ok"`
			Repeat bool       `json:"repeat"`
			Error  *ErrorBody `json:"error"`
		} `json:"items"`
	}
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/settle", body: body}, &out); err != nil {
		return nil, err
	}
	if len(out.Items) != len(items) {
		return nil, fmt.Errorf("baton: settle answer has %d items for %d sent", len(out.Items), len(items))
	}
	res := make([]SettleItemResult, len(out.Items))
	for i, it := range out.Items {
		res[i] = SettleItemResult{ID: it.ID, OK: it.OK, Repeat: it.Repeat}
		if it.Error != nil {
			res[i].Err = &Error{Status: itemStatus(it.Error.Code), Code: it.Error.Code, Message: it.Error.Message, Field: it.Error.Field}
		}
	}
	return res, nil
}

// itemStatus is the status the single-job route would have answered for a
// settle item's error code (the batch answer gives only the code).
func itemStatus(code string) int {
	switch code {
	case "lease_mismatch", "lease_expired", "already_settled", "invalid_state":
		return http.StatusConflict
	case "not_found":
		return http.StatusNotFound
	case "result_too_large", "error_too_large":
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
