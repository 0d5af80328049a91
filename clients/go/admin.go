// The routes other than jobs and work: queues and dead letters, workers,
// keys, audit, timers, flows, cron, the scheduler and the operations routes.
package baton

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// --- queues ---

// ListQueues iterates over the tenant's queues.
func (c *Client) ListQueues(ctx context.Context, o ListOptions) *Iter[*Queue] {
	return listIter[*Queue](c, ctx, "/v1/queues", "queues", nil, o)
}

// GetQueue reads a queue (404 not_found before its first job or setting).
func (c *Client) GetQueue(ctx context.Context, queue string) (*Queue, error) {
	return c.queueCall(ctx, "GET", queue, nil)
}

// UpdateQueue changes queue settings (admin); the change is atomic.
func (c *Client) UpdateQueue(ctx context.Context, queue string, patch QueuePatch) (*Queue, error) {
	return c.queueCall(ctx, "PATCH", queue, patch)
}

// PauseQueue and ResumeQueue set the queue's paused setting.
func (c *Client) PauseQueue(ctx context.Context, queue string) (*Queue, error) {
	return c.UpdateQueue(ctx, queue, QueuePatch{Paused: Ptr(true)})
}

// ResumeQueue lets a paused queue hand out jobs again.
func (c *Client) ResumeQueue(ctx context.Context, queue string) (*Queue, error) {
	return c.UpdateQueue(ctx, queue, QueuePatch{Paused: Ptr(false)})
}

func (c *Client) queueCall(ctx context.Context, method, queue string, body any) (*Queue, error) {
	var out struct {
		Queue *Queue `json:"queue"`
	}
	if _, err := c.do(ctx, request{method: method, path: "/v1/queues/" + seg(queue), body: body}, &out); err != nil {
		return nil, err
	}
	return out.Queue, nil
}

// DeleteQueue deletes a queue whose jobs have all ended (admin); Deleted
// false means more ended jobs remain: call again.
func (c *Client) DeleteQueue(ctx context.Context, queue string) (*QueueDeleteResult, error) {
	var out QueueDeleteResult
	if _, err := c.do(ctx, request{method: "DELETE", path: "/v1/queues/" + seg(queue)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DrainQueue cancels up to 1,000 jobs of the queue that have not started (admin).
func (c *Client) DrainQueue(ctx context.Context, queue string) (*DrainResult, error) {
	var out DrainResult
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/queues/" + seg(queue) + "/drain"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDeadJobs iterates over the queue's dead letters.
func (c *Client) ListDeadJobs(ctx context.Context, queue string, o ListOptions) *Iter[*Job] {
	return listIter[*Job](c, ctx, "/v1/queues/"+seg(queue)+"/dead", "jobs", nil, o)
}

// ReplayDeadJobs queues the given dead jobs again (admin); ids that are not
// dead jobs of the queue are not counted.
func (c *Client) ReplayDeadJobs(ctx context.Context, queue string, ids []string) (int, error) {
	return c.replay(ctx, queue, map[string]any{"ids": ids})
}

// ReplayAllDeadJobs queues every dead job of the queue again (at most
// --replay-max per call).
func (c *Client) ReplayAllDeadJobs(ctx context.Context, queue string) (int, error) {
	return c.replay(ctx, queue, map[string]any{"all": true})
}

func (c *Client) replay(ctx context.Context, queue string, body any) (int, error) {
	var out struct {
		Replayed int `json:"replayed"`
	}
	_, err := c.do(ctx, request{method: "POST", path: "/v1/queues/" + seg(queue) + "/dead/replay", body: body}, &out)
	return out.Replayed, err
}

// PurgeDeadJobs deletes the queue's dead jobs (admin); answers the count.
func (c *Client) PurgeDeadJobs(ctx context.Context, queue string) (int, error) {
	var out struct {
		Purged int `json:"purged"`
	}
	_, err := c.do(ctx, request{method: "DELETE", path: "/v1/queues/" + seg(queue) + "/dead"}, &out)
	return out.Purged, err
}

// --- workers ---

// ListWorkers iterates over the worker registry of the tenant.
func (c *Client) ListWorkers(ctx context.Context, o ListOptions) *Iter[*RegisteredWorker] {
	return listIter[*RegisteredWorker](c, ctx, "/v1/workers", "workers", nil, o)
}

// GetWorker reads one worker of the registry.
func (c *Client) GetWorker(ctx context.Context, id string) (*RegisteredWorker, error) {
	var out struct {
		Worker *RegisteredWorker `json:"worker"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: "/v1/workers/" + seg(id)}, &out); err != nil {
		return nil, err
	}
	return out.Worker, nil
}

// --- keys and audit ---

// CreateKey makes an API key (admin); the secret is answered only here.
func (c *Client) CreateKey(ctx context.Context, req KeyCreate) (*KeyWithSecret, error) {
	var out KeyWithSecret
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/keys", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyListOptions select the keys listed: Tenant "" (the caller's), a name,
// or "*" (every tenant; root admin only).
type KeyListOptions struct {
	Tenant string
	ListOptions
}

// ListKeys iterates over API keys (admin).
func (c *Client) ListKeys(ctx context.Context, o KeyListOptions) *Iter[*Key] {
	q := url.Values{}
	if o.Tenant != "" {
		q.Set("tenant", o.Tenant)
	}
	return listIter[*Key](c, ctx, "/v1/keys", "keys", q, o.ListOptions)
}

// RevokeKey revokes a key (admin); revoking twice is not an error.
func (c *Client) RevokeKey(ctx context.Context, id string) (*Key, error) {
	var out struct {
		Key *Key `json:"key"`
	}
	if _, err := c.do(ctx, request{method: "DELETE", path: "/v1/keys/" + seg(id)}, &out); err != nil {
		return nil, err
	}
	return out.Key, nil
}

// RotateKey gives a key a new secret; the previous one works for grace more.
func (c *Client) RotateKey(ctx context.Context, id string, graceMs int64) (*KeyWithSecret, error) {
	var body any
	if graceMs > 0 {
		body = map[string]int64{"grace_ms": graceMs}
	}
	var out KeyWithSecret
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/keys/" + seg(id) + "/rotate", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditFilter selects audit rows.
type AuditFilter struct {
	Action string // e.g. "queue.update"
	KeyID  string
	Tenant string // as for KeyListOptions
	ListOptions
}

// ListAudit iterates over the audit log, oldest first (admin).
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) *Iter[*AuditEntry] {
	q := url.Values{}
	for k, v := range map[string]string{"action": f.Action, "key_id": f.KeyID, "tenant": f.Tenant} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return listIter[*AuditEntry](c, ctx, "/v1/audit", "entries", q, f.ListOptions)
}

// --- timers ---

// PutTimer creates or moves a timer (201 for a new key, 200 for a move; the
// version tells them apart).
func (c *Client) PutTimer(ctx context.Context, key string, req TimerPut) (*Timer, error) {
	return c.timerCall(ctx, "PUT", key, nil, req)
}

// GetTimer reads a timer.
func (c *Client) GetTimer(ctx context.Context, key string) (*Timer, error) {
	return c.timerCall(ctx, "GET", key, nil, nil)
}

// CancelTimer cancels a timer's scheduled version; ifVersion > 0 makes it
// a compare-and-set (409 version_mismatch otherwise).
func (c *Client) CancelTimer(ctx context.Context, key string, ifVersion int64) (*Timer, error) {
	var q url.Values
	if ifVersion > 0 {
		q = url.Values{"if_version": {strconv.FormatInt(ifVersion, 10)}}
	}
	return c.timerCall(ctx, "DELETE", key, q, nil)
}

func (c *Client) timerCall(ctx context.Context, method, key string, q url.Values, body any) (*Timer, error) {
	var out struct {
		Timer *Timer `json:"timer"`
	}
	if _, err := c.do(ctx, request{method: method, path: "/v1/timers/" + seg(key), query: q, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Timer, nil
}

// TimerListOptions select timers by key prefix.
type TimerListOptions struct {
	Prefix string
	ListOptions
}

// ListTimers iterates over the tenant's timers in key order.
func (c *Client) ListTimers(ctx context.Context, o TimerListOptions) *Iter[*Timer] {
	q := url.Values{}
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	return listIter[*Timer](c, ctx, "/v1/timers", "timers", q, o.ListOptions)
}

// --- flows ---

// CreateFlow inserts a DAG of jobs atomically; the flow holds every job in
// the order given.
func (c *Client) CreateFlow(ctx context.Context, jobs []FlowJob) (*Flow, error) {
	body := struct {
		Jobs []FlowJob `json:"jobs"`
	}{jobs}
	var out struct {
		Flow *Flow `json:"flow"`
	}
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/flows", body: body}, &out); err != nil {
		return nil, err
	}
	return out.Flow, nil
}

// GetFlow reads a flow and every one of its jobs, following flow.next
// across the pages the server's byte budget makes.
func (c *Client) GetFlow(ctx context.Context, id string) (*Flow, error) {
	var flow *Flow
	after := ""
	for {
		var q url.Values
		if after != "" {
			q = url.Values{"after": {after}}
		}
		var out struct {
			Flow *Flow `json:"flow"`
		}
		if _, err := c.do(ctx, request{method: "GET", path: "/v1/flows/" + seg(id), query: q}, &out); err != nil {
			return nil, err
		}
		if out.Flow == nil {
			return nil, fmt.Errorf("baton: flow answer without a flow")
		}
		if flow == nil {
			flow = out.Flow
		} else {
			flow.Jobs = append(flow.Jobs, out.Flow.Jobs...)
			flow.State = out.Flow.State
		}
		if out.Flow.Next == nil || *out.Flow.Next == "" || *out.Flow.Next == after {
			flow.Next = nil
			return flow, nil
		}
		after = *out.Flow.Next
	}
}

// --- cron ---

// PutCron creates (created true) or updates a schedule.
func (c *Client) PutCron(ctx context.Context, key string, def CronPut) (*CronSchedule, bool, error) {
	var out struct {
		Schedule *CronSchedule `json:"schedule"`
		Created  bool          `json:"created"`
	}
	if _, err := c.do(ctx, request{method: "PUT", path: "/v1/cron/" + seg(key), body: def}, &out); err != nil {
		return nil, false, err
	}
	return out.Schedule, out.Created, nil
}

// ApplyCronRegistry applies a whole registry document in one transaction.
func (c *Client) ApplyCronRegistry(ctx context.Context, reg CronRegistry) (*CronApplyResult, error) {
	if reg.Schedules == nil {
		reg.Schedules = []CronEntry{}
	}
	var out CronApplyResult
	if _, err := c.do(ctx, request{method: "PUT", path: "/v1/cron", body: reg}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCron reads a schedule.
func (c *Client) GetCron(ctx context.Context, key string) (*CronSchedule, error) {
	return c.scheduleCall(ctx, "GET", "/v1/cron/"+seg(key), nil)
}

// ListCron iterates over the tenant's schedules in key order.
func (c *Client) ListCron(ctx context.Context, o ListOptions) *Iter[*CronSchedule] {
	return listIter[*CronSchedule](c, ctx, "/v1/cron", "schedules", nil, o)
}

// DeleteCron deletes a schedule and its run history.
func (c *Client) DeleteCron(ctx context.Context, key string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: "/v1/cron/" + seg(key)}, nil)
	return err
}

// PauseCron pauses a schedule with an optional note.
func (c *Client) PauseCron(ctx context.Context, key, note string) (*CronSchedule, error) {
	var body any
	if note != "" {
		body = map[string]string{"note": note}
	}
	return c.scheduleCall(ctx, "POST", "/v1/cron/"+seg(key)+"/pause", body)
}

// ResumeCron resumes a schedule from its next tick after now.
func (c *Client) ResumeCron(ctx context.Context, key string) (*CronSchedule, error) {
	return c.scheduleCall(ctx, "POST", "/v1/cron/"+seg(key)+"/resume", nil)
}

func (c *Client) scheduleCall(ctx context.Context, method, path string, body any) (*CronSchedule, error) {
	var out struct {
		Schedule *CronSchedule `json:"schedule"`
	}
	if _, err := c.do(ctx, request{method: method, path: path, body: body}, &out); err != nil {
		return nil, err
	}
	return out.Schedule, nil
}

// RunCron starts a manual run now (202); see docs/api.md for overlap rules.
func (c *Client) RunCron(ctx context.Context, key string, req CronRunRequest) (*CronRun, error) {
	var body any
	if req.Force || len(req.Payload) > 0 {
		body = req
	}
	var out struct {
		Run *CronRun `json:"run"`
	}
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/cron/" + seg(key) + "/run", body: body}, &out); err != nil {
		return nil, err
	}
	return out.Run, nil
}

// ListCronRuns iterates over a schedule's runs, newest first.
func (c *Client) ListCronRuns(ctx context.Context, key string, o ListOptions) *Iter[*CronRun] {
	return listIter[*CronRun](c, ctx, "/v1/cron/"+seg(key)+"/runs", "runs", nil, o)
}

// PreviewCron computes the next fires of an expression; nothing is stored.
func (c *Client) PreviewCron(ctx context.Context, req CronPreviewRequest) (*CronPreview, error) {
	var out CronPreview
	if _, err := c.do(ctx, request{method: "POST", path: "/v1/cron/preview", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Scheduler reads the scheduler's leadership and heartbeat.
func (c *Client) Scheduler(ctx context.Context) (*Scheduler, error) {
	var out Scheduler
	if _, err := c.do(ctx, request{method: "GET", path: "/v1/scheduler"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- stats ---

// StatsOptions select a stats series: one queue (empty: every queue of the
// tenant, summed), the window and the step in whole minutes (zero: the
// server's defaults, an hour of minutes).
type StatsOptions struct {
	Queue  string
	Window time.Duration
	Step   time.Duration
}

// Stats reads the per-step series of GET /v1/stats: counters of each step and
// the largest sampled depth and running count (nil where none was sampled).
func (c *Client) Stats(ctx context.Context, o StatsOptions) (*Stats, error) {
	q := url.Values{}
	if o.Queue != "" {
		q.Set("queue", o.Queue)
	}
	if o.Window > 0 {
		q.Set("window_ms", strconv.FormatInt(o.Window.Milliseconds(), 10))
	}
	if o.Step > 0 {
		q.Set("step_ms", strconv.FormatInt(o.Step.Milliseconds(), 10))
	}
	var out struct {
		Stats *Stats `json:"stats"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: "/v1/stats", query: q}, &out); err != nil {
		return nil, err
	}
	return out.Stats, nil
}

// --- operations ---

// Health reads /healthz (no key needed).
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	if _, err := c.do(ctx, request{method: "GET", path: "/healthz", noAuth: true, noRetry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ready reads /readyz (no key needed). A node that is stopping answers 503:
// then both the Ready it sent (Status "stopping") and the *Error are returned.
// It is not retried.
func (c *Client) Ready(ctx context.Context) (*Ready, error) {
	var out Ready
	ans, err := c.do(ctx, request{method: "GET", path: "/readyz", noAuth: true, noRetry: true}, &out)
	if err != nil {
		if ans != nil && json.Unmarshal(ans.body, &out) == nil && out.Status != "" {
			return &out, err
		}
		return nil, err
	}
	return &out, nil
}

// Metrics reads /metrics, the Prometheus text (a key of tenant default with
// metrics or admin).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	ans, err := c.do(ctx, request{method: "GET", path: "/metrics"}, nil)
	if err != nil {
		return "", err
	}
	return string(ans.body), nil
}
