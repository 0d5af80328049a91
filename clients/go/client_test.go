// Tests of the Client against a real batond: fields, errors, retries,
// iterators, coalescing, idempotency, tenants and scopes, and every route.
package baton_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

func TestEnqueueEveryFieldAndGetJob(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	runAt := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	req := baton.EnqueueRequest{
		Queue: q, Type: "welcome", Payload: json.RawMessage(`{"user":7}`), Priority: baton.PriorityHigh,
		RunAt: &runAt, MaxAttempts: 6, Backoff: &baton.Backoff{Type: "fixed", BaseMs: baton.Ptr(int64(250))},
		LeaseMs: 12000, TimeoutMs: 60000, IdempotencyKey: "idem-" + q, Key: "k-" + q, OnKey: "keep",
		UniqueWhile: "pending", RequestID: "req-" + q, ExecutionID: "exec-1", Traceparent: "00-abc-def-01",
		OnParentFailure: "run", Group: "g1",
	}
	job, err := c.Enqueue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if job.Duplicate || job.ID == "" || job.State != baton.StateScheduled {
		t.Fatalf("enqueue answered %+v", job)
	}
	got, err := c.GetJob(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]any{
		"queue": {got.Queue, q}, "type": {got.Type, "welcome"}, "priority": {got.Priority, "high"},
		"max_attempts": {got.MaxAttempts, 6}, "lease_ms": {got.LeaseMs, int64(12000)},
		"timeout_ms": {*got.TimeoutMs, int64(60000)}, "idempotency_key": {got.IdempotencyKey, "idem-" + q},
		"key": {got.Key, "k-" + q}, "unique_while": {got.UniqueWhile, "pending"}, "group": {got.Group, "g1"},
		"request_id": {got.RequestID, "req-" + q}, "execution_id": {got.ExecutionID, "exec-1"},
		"traceparent": {got.Traceparent, "00-abc-def-01"}, "on_parent_failure": {got.OnParentFailure, "run"},
		"backoff.type": {got.Backoff.Type, "fixed"}, "backoff.base_ms": {*got.Backoff.BaseMs, int64(250)},
		"run_at": {got.RunAt.Equal(runAt), true}, "version": {got.Version, int64(1)},
		"payload": {string(got.Payload), `{"user":7}`}, "started_at": {got.StartedAt == nil, true},
		"depends_on": {len(got.DependsOn), 0},
	}
	for name, pair := range checks {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: got %v, want %v", name, pair[0], pair[1])
		}
	}
}

// jsonTags lists the json names of a struct type's fields (embedded ones included).
func jsonTags(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			for k := range jsonTags(f.Type) {
				out[k] = true
			}
			continue
		}
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// rawGet reads path with the admin key and returns the object under member.
func rawGet(t *testing.T, path, member string) map[string]json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest("GET", serverURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if member == "" {
		return env
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(env[member], &obj); err != nil {
		t.Fatalf("GET %s: member %s: %v", path, member, err)
	}
	return obj
}

// TestWireNamesMatch checks that every member the server answers for each
// object has a Go field with exactly that json name (nothing is dropped).
func TestWireNamesMatch(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 15*time.Second)
	q := queueName(t)
	job, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTimer(ctx, q+"-timer", baton.TimerPut{Queue: q, Type: "t", DelayMs: baton.Ptr(int64(3600000))}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PutCron(ctx, q+"-cron", baton.CronPut{Cron: "0 3 * * *", Job: baton.CronJobTemplate{Queue: q, Type: "t"}}); err != nil {
		t.Fatal(err)
	}
	claimed, err := c.Claim(ctx, q, baton.ClaimRequest{Worker: "wire-" + q, Max: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	keys := rawGet(t, "/v1/keys?limit=1", "")
	var keyList []map[string]json.RawMessage
	_ = json.Unmarshal(keys["keys"], &keyList)
	audit := rawGet(t, "/v1/audit?limit=1", "")
	var auditList []map[string]json.RawMessage
	_ = json.Unmarshal(audit["entries"], &auditList)
	if len(keyList) == 0 || len(auditList) == 0 {
		t.Fatal("no key or audit entry to compare")
	}
	cases := []struct {
		name string
		obj  map[string]json.RawMessage
		typ  reflect.Type
	}{
		{"job", rawGet(t, "/v1/jobs/"+job.ID, "job"), reflect.TypeOf(baton.Job{})},
		{"queue", rawGet(t, "/v1/queues/"+q, "queue"), reflect.TypeOf(baton.Queue{})},
		{"timer", rawGet(t, "/v1/timers/"+q+"-timer", "timer"), reflect.TypeOf(baton.Timer{})},
		{"schedule", rawGet(t, "/v1/cron/"+q+"-cron", "schedule"), reflect.TypeOf(baton.CronSchedule{})},
		{"worker", rawGet(t, "/v1/workers/wire-"+q, "worker"), reflect.TypeOf(baton.RegisteredWorker{})},
		{"scheduler", rawGet(t, "/v1/scheduler", ""), reflect.TypeOf(baton.Scheduler{})},
		{"readyz", rawGet(t, "/readyz", ""), reflect.TypeOf(baton.Ready{})},
		{"key", keyList[0], reflect.TypeOf(baton.Key{})},
		{"audit", auditList[0], reflect.TypeOf(baton.AuditEntry{})},
	}
	for _, cs := range cases {
		tags := jsonTags(cs.typ)
		var missing []string
		for k := range cs.obj {
			if !tags[k] {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: members without a Go field: %v", cs.name, missing)
		}
	}
	var qo map[string]json.RawMessage
	_ = json.Unmarshal(rawGet(t, "/v1/queues/"+q, "queue")["defaults"], &qo)
	for k := range qo {
		if !jsonTags(reflect.TypeOf(baton.QueueDefaults{}))[k] {
			t.Errorf("queue.defaults.%s has no Go field", k)
		}
	}
}

func TestErrorFromRealAnswer(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 5*time.Second)
	_, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: "bad name!", Type: "t"})
	var be *baton.Error
	if !errors.As(err, &be) {
		t.Fatalf("want *baton.Error, got %T %v", err, err)
	}
	if be.Status != 400 || be.Code != "name_invalid" || be.Field != "queue" || be.Message == "" || be.RequestID == "" {
		t.Fatalf("error fields: %+v", be)
	}
	if !errors.Is(err, &baton.Error{Code: "name_invalid"}) || errors.Is(err, &baton.Error{Code: "not_found"}) {
		t.Fatal("errors.Is by code does not work")
	}
	if !baton.HasCode(err, "name_invalid") {
		t.Fatal("HasCode")
	}
	_, err = c.GetJob(ctx, "999999999")
	if !errors.As(err, &be) || be.Status != 404 || be.Code != "not_found" {
		t.Fatalf("missing job: %v", err)
	}
	_, err = c.GetJob(ctx, "abc")
	if !errors.As(err, &be) || be.Status != 400 || be.Code != "invalid_id" || be.Field != "id" {
		t.Fatalf("bad id: %v", err)
	}
	bad := baton.NewClient(serverURL, "bk_nope_00000000000000000000000000000000")
	_, err = bad.GetJob(ctx, "1")
	if !errors.As(err, &be) || be.Status != 401 || be.Code != "unauthenticated" {
		t.Fatalf("bad key: %v", err)
	}
}

func TestScopesAndTenants(t *testing.T) {
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	reader := baton.NewClient(serverURL, newKey(t, "", []string{"jobs:read"}, nil))
	_, err := reader.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	var be *baton.Error
	if !errors.As(err, &be) || be.Status != 403 || be.Code != "forbidden" {
		t.Fatalf("reader enqueue: %v", err)
	}
	job, err := admin().Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.GetJob(ctx, job.ID); err != nil {
		t.Fatalf("reader GetJob: %v", err)
	}
	other := baton.NewClient(serverURL, newKey(t, "tenant-"+q, []string{"admin"}, nil))
	if _, err := other.GetJob(ctx, job.ID); !baton.HasCode(err, "not_found") {
		t.Fatalf("another tenant read the job: %v", err)
	}
	n := 0
	it := other.ListJobs(ctx, baton.JobFilter{Queue: q})
	for it.Next() {
		n++
	}
	if it.Err() != nil || n != 0 {
		t.Fatalf("another tenant lists %d jobs, err %v", n, it.Err())
	}
}

func TestIdempotencyDuplicateAndConflict(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 5*time.Second)
	q := queueName(t)
	req := baton.EnqueueRequest{Queue: q, Type: "t", Payload: json.RawMessage(`{"a":1}`), IdempotencyKey: "once-" + q}
	first, err := c.Enqueue(ctx, req)
	if err != nil || first.Duplicate {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := c.Enqueue(ctx, req)
	if err != nil || !again.Duplicate || again.ID != first.ID {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	req.Payload = json.RawMessage(`{"a":2}`)
	_, err = c.Enqueue(ctx, req)
	var be *baton.Error
	if !errors.As(err, &be) || be.Status != 409 || be.Code != "idempotency_conflict" {
		t.Fatalf("conflict: %v", err)
	}
	// key + unique_while active: the holder's id is in the error.
	held, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t", Key: "nightly", UniqueWhile: "active"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t", Key: "nightly", UniqueWhile: "active"})
	if !errors.As(err, &be) || be.Code != "already_running" || be.JobID != held.ID {
		t.Fatalf("already_running: %+v", err)
	}
}

func TestRetry429AfterRetryAfter(t *testing.T) {
	ctx := ctxT(t, 20*time.Second)
	secret := newKey(t, "", []string{"jobs:read"}, &baton.Rate{Max: 1, PerMs: 1000})
	noRetry := baton.NewClient(serverURL, secret, baton.WithRetries(0))
	var be *baton.Error
	var got429 bool
	for i := 0; i < 3 && !got429; i++ {
		_, err := noRetry.GetQueue(ctx, "none")
		if errors.As(err, &be) && be.Status == 429 {
			got429 = true
		}
	}
	if !got429 || be.Code != "rate_limited" || be.RetryAfter < time.Second {
		t.Fatalf("want 429 with Retry-After >= 1s, got %+v", be)
	}
	retrying := baton.NewClient(serverURL, secret, baton.WithRetries(3))
	start := time.Now()
	for i := 0; i < 2; i++ { // the second call is over the limit and must be retried
		_, err := retrying.GetQueue(ctx, "none")
		if !baton.HasCode(err, "not_found") {
			t.Fatalf("call %d: want the route's own 404 after retries, got %v", i, err)
		}
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Fatalf("the retried call did not wait for Retry-After (%s)", time.Since(start))
	}
}

func TestRetry503QueueFull(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	if _, err := c.UpdateQueue(ctx, q, baton.QueuePatch{MaxDepth: baton.Ptr(int64(1))}); err != nil {
		t.Fatal(err)
	}
	first, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin(baton.WithRetries(0)).Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	var be *baton.Error
	if !errors.As(err, &be) || be.Status != 503 || be.Code != "queue_full" || be.RetryAfter <= 0 {
		t.Fatalf("want 503 queue_full with Retry-After: %v", err)
	}
	go func() { // make room while the retrying client waits
		time.Sleep(300 * time.Millisecond)
		_, _ = c.CancelJob(context.Background(), first.ID)
	}()
	second, err := admin(baton.WithRetries(5)).Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	if err != nil || second.ID == first.ID {
		t.Fatalf("retried enqueue: %+v %v", second, err)
	}
}

func TestListIteratorCrossesPages(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	reqs := make([]baton.EnqueueRequest, 25)
	for i := range reqs {
		reqs[i] = baton.EnqueueRequest{Queue: q, Type: "t", Payload: json.RawMessage(fmt.Sprint(i))}
	}
	jobs, err := c.EnqueueBatch(ctx, reqs)
	if err != nil || len(jobs) != 25 {
		t.Fatalf("batch: %d %v", len(jobs), err)
	}
	for i, j := range jobs {
		if string(j.Payload) != fmt.Sprint(i) {
			t.Fatalf("batch order: job %d has payload %s", i, j.Payload)
		}
	}
	it := c.ListJobs(ctx, baton.JobFilter{Queue: q, PageSize: 7})
	var ids []string
	for it.Next() {
		ids = append(ids, it.Item().ID)
		if len(ids) == 1 && it.Cursor() == "" {
			t.Fatal("no cursor after the first page of 7")
		}
	}
	if it.Err() != nil || len(ids) != 25 {
		t.Fatalf("iterated %d jobs, err %v", len(ids), it.Err())
	}
	for i, id := range ids {
		if id != jobs[i].ID {
			t.Fatalf("item %d: %s, want %s", i, id, jobs[i].ID)
		}
	}
	desc, err := c.ListJobs(ctx, baton.JobFilter{Queue: q, Order: "desc", PageSize: 10, State: []string{"queued", "dead"}}).All()
	if err != nil || len(desc) != 25 || desc[0].ID != jobs[24].ID {
		t.Fatalf("desc: %d %v", len(desc), err)
	}
	// Resume from a cursor.
	it2 := c.ListJobs(ctx, baton.JobFilter{Queue: q, PageSize: 10})
	it2.Next()
	rest, err := c.ListJobs(ctx, baton.JobFilter{Queue: q, PageSize: 10, After: it2.Cursor()}).All()
	if err != nil || len(rest) != 15 || rest[0].ID != jobs[10].ID {
		t.Fatalf("resume: %d %v", len(rest), err)
	}
	bad := c.ListJobs(ctx, baton.JobFilter{Queue: q, State: []string{"nope"}})
	if bad.Next() || !baton.HasCode(bad.Err(), "invalid_field") {
		t.Fatalf("bad state filter: %v", bad.Err())
	}
}

// countingTransport counts enqueue requests to show coalescing happened.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == "POST" && r.URL.Path == "/v1/jobs" {
		ct.n.Add(1)
	}
	return ct.next.RoundTrip(r)
}

func TestCoalescedEnqueue(t *testing.T) {
	ct := &countingTransport{next: &http.Transport{MaxIdleConnsPerHost: 64}}
	c := baton.NewClient(serverURL, adminKey, baton.WithHTTPClient(&http.Client{Transport: ct}), baton.WithCoalescing(true, 0))
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	const n = 200
	const badAt = 77
	jobs := make([]*baton.Job, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			req := baton.EnqueueRequest{Queue: q, Type: "t", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
			if i == badAt {
				req.MaxAttempts = 100000 // out of range: only this caller must fail
			}
			if i%50 == 3 {
				req.IdempotencyKey = "same-" + q // four callers share one key (and payload): one job
				req.Payload = json.RawMessage(`{"same":true}`)
			}
			jobs[i], errs[i] = c.Enqueue(ctx, req)
		}(i)
	}
	close(start)
	wg.Wait()
	var be *baton.Error
	if !errors.As(errs[badAt], &be) || be.Code != "max_attempts_out_of_range" || be.Field != "max_attempts" {
		t.Fatalf("the bad caller got %v", errs[badAt])
	}
	seen := map[string]int{}
	var idemID string
	dups := 0
	for i := 0; i < n; i++ {
		if i == badAt {
			continue
		}
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if i%50 == 3 {
			if idemID == "" {
				idemID = jobs[i].ID
			} else if jobs[i].ID != idemID {
				t.Fatalf("idempotent callers got different jobs %s and %s", idemID, jobs[i].ID)
			}
			if jobs[i].Duplicate {
				dups++
			}
			continue
		}
		if string(jobs[i].Payload) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("caller %d got job with payload %s", i, jobs[i].Payload)
		}
		seen[jobs[i].ID]++
	}
	if len(seen) != n-1-4 || dups != 3 {
		t.Fatalf("distinct jobs %d (want %d), duplicates %d (want 3)", len(seen), n-5, dups)
	}
	if reqs := ct.n.Load(); reqs >= n/2 {
		t.Fatalf("%d enqueue requests for %d calls: not coalesced", reqs, n)
	} else {
		t.Logf("%d calls went out in %d requests", n, reqs)
	}
	count := 0
	it := c.ListJobs(ctx, baton.JobFilter{Queue: q, PageSize: 1000})
	for it.Next() {
		count++
	}
	if count != n-1-3 {
		t.Fatalf("stored %d jobs, want %d", count, n-4)
	}
}

func TestWaitJob(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	job, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.WaitJob(short, job.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitJob of a job nobody runs: %v", err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		js, err := c.Claim(context.Background(), q, baton.ClaimRequest{Worker: "w-" + q})
		if err == nil && len(js) == 1 {
			_, _ = c.CompleteJob(context.Background(), js[0].ID, js[0].Lease, json.RawMessage(`"done"`))
		}
	}()
	done, err := c.WaitJob(ctx, job.ID)
	if err != nil || done.State != baton.StateCompleted || string(done.Result) != `"done"` {
		t.Fatalf("WaitJob: %+v %v", done, err)
	}
}

// TestManualWorkRoutes drives claim, heartbeat, complete, fail and settle by hand.
func TestManualWorkRoutes(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	parent, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "p"})
	child, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "c", DependsOn: []string{parent.ID}})
	if err != nil || child.State != baton.StatePending {
		t.Fatalf("child: %+v %v", child, err)
	}
	js, err := c.Claim(ctx, q, baton.ClaimRequest{Worker: "m-" + q, Max: 5, Info: &baton.WorkerInfo{Host: "h", PID: 1, Labels: map[string]string{"zone": "z"}}})
	if err != nil || len(js) != 1 || js[0].ID != parent.ID || js[0].Lease == "" {
		t.Fatalf("claim: %+v %v", js, err)
	}
	hb, err := c.Heartbeat(ctx, parent.ID, baton.HeartbeatRequest{Lease: js[0].Lease, Progress: &baton.JobProgress{Percent: baton.Ptr(40), Step: "render"}})
	if err != nil || hb.CancelRequested || hb.LeaseUntil.IsZero() {
		t.Fatalf("heartbeat: %+v %v", hb, err)
	}
	if _, err := c.Heartbeat(ctx, parent.ID, baton.HeartbeatRequest{Lease: "wrong"}); !baton.HasCode(err, "lease_mismatch") {
		t.Fatalf("heartbeat with a wrong lease: %v", err)
	}
	r, err := c.CompleteJob(ctx, parent.ID, js[0].Lease, json.RawMessage(`{"n":1}`))
	if err != nil || r.Repeat || r.Job.State != baton.StateCompleted {
		t.Fatalf("complete: %+v %v", r, err)
	}
	r, err = c.CompleteJob(ctx, parent.ID, js[0].Lease, json.RawMessage(`{"n":1}`))
	if err != nil || !r.Repeat {
		t.Fatalf("repeat complete: %+v %v", r, err)
	}
	if _, err := c.FailJob(ctx, parent.ID, baton.FailRequest{Lease: js[0].Lease, Error: "x"}); !baton.HasCode(err, "already_settled") {
		t.Fatalf("fail after complete: %v", err)
	}
	js, err = c.Claim(ctx, q, baton.ClaimRequest{Worker: "m-" + q, Max: 5, WaitMs: 2000})
	if err != nil || len(js) != 1 || js[0].ID != child.ID || len(js[0].Parents) != 1 || string(js[0].Parents[0].Result) != `{"n":1}` {
		t.Fatalf("child claim: %+v %v", js, err)
	}
	fr, err := c.FailJob(ctx, child.ID, baton.FailRequest{Lease: js[0].Lease, Error: "boom", Retryable: baton.Ptr(false)})
	if err != nil || fr.Job.State != baton.StateDead || fr.Job.LastError != "boom" {
		t.Fatalf("fail: %+v %v", fr, err)
	}
	// settle: one good item, one refused.
	j3, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "s"})
	js, _ = c.Claim(ctx, q, baton.ClaimRequest{Worker: "m-" + q})
	res, err := c.Settle(ctx, []baton.SettleItem{
		{ID: j3.ID, Lease: js[0].Lease, Outcome: "complete", Result: json.RawMessage(`1`)},
		{ID: parent.ID, Lease: "stale", Outcome: "fail", Error: "e"},
	})
	if err != nil || !res[0].OK || res[1].OK || res[1].Err == nil || res[1].Err.Code != "lease_mismatch" || res[1].Err.Status != 409 {
		t.Fatalf("settle: %+v %v", res, err)
	}
	w, err := c.GetWorker(ctx, "m-"+q)
	if err != nil || w.Info == nil || w.Info.Labels["zone"] != "z" || w.Completed != 2 || w.Failed != 1 {
		t.Fatalf("worker registry: %+v %v", w, err)
	}
	ws, err := c.ListWorkers(ctx, baton.ListOptions{PageSize: 1000}).All()
	if err != nil || len(ws) == 0 {
		t.Fatalf("ListWorkers: %d %v", len(ws), err)
	}
}

func TestJobActions(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	j, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t", DelayMs: 3600000})
	e, err := c.EditJob(ctx, j.ID, baton.JobPatch{Priority: "critical", Payload: json.RawMessage(`{"v":2}`)})
	if err != nil || e.Priority != "critical" || string(e.Payload) != `{"v":2}` || e.Version != 2 {
		t.Fatalf("edit: %+v %v", e, err)
	}
	p, err := c.PromoteJob(ctx, j.ID)
	if err != nil || p.State != baton.StateQueued {
		t.Fatalf("promote: %+v %v", p, err)
	}
	cn, err := c.CancelJob(ctx, j.ID)
	if err != nil || cn.State != baton.StateCancelled || cn.CancelReason != "cancelled" {
		t.Fatalf("cancel: %+v %v", cn, err)
	}
	if _, err := c.CancelJob(ctx, j.ID); !baton.HasCode(err, "invalid_state") {
		t.Fatalf("second cancel: %v", err)
	}
	rt, err := c.RetryJob(ctx, j.ID)
	if err != nil || rt.State != baton.StateQueued {
		t.Fatalf("retry: %+v %v", rt, err)
	}
	_, _ = c.CancelJob(ctx, j.ID)
	pg, err := c.PurgeJob(ctx, j.ID)
	if err != nil || pg.ID != j.ID {
		t.Fatalf("purge: %+v %v", pg, err)
	}
	if _, err := c.GetJob(ctx, j.ID); !baton.HasCode(err, "not_found") {
		t.Fatalf("purged job still readable: %v", err)
	}
	for i := 0; i < 5; i++ {
		_, _ = c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "b"})
	}
	br, err := c.BulkJobsAll(ctx, baton.BulkRequest{Action: "cancel", Filter: baton.JobFilter{Queue: q, State: []string{"queued"}}, Limit: 2})
	if err != nil || br.Changed != 5 {
		t.Fatalf("bulk cancel: %+v %v", br, err)
	}
	one, err := c.BulkJobs(ctx, baton.BulkRequest{Action: "retry", Filter: baton.JobFilter{Queue: q}, Limit: 1})
	if err != nil || one.Changed != 1 || one.Next == nil {
		t.Fatalf("bulk retry page: %+v %v", one, err)
	}
}

func TestQueuesAndDeadLetters(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	qu, err := c.UpdateQueue(ctx, q, baton.QueuePatch{Concurrency: baton.Ptr(int64(4)), Rate: &baton.Rate{Max: 5, PerMs: 1000},
		MaxAttempts: baton.Ptr(1), Retention: &baton.Retention{CompletedMs: baton.Ptr(int64(3600000))}})
	if err != nil || *qu.Concurrency != 4 || qu.Rate.Max != 5 || *qu.Defaults.MaxAttempts != 1 || *qu.Retention.CompletedMs != 3600000 {
		t.Fatalf("update: %+v %v", qu, err)
	}
	qu, err = c.UpdateQueue(ctx, q, baton.QueuePatch{Clear: []string{"concurrency", "rate"}})
	if err != nil || qu.Concurrency != nil || qu.Rate != nil {
		t.Fatalf("clear: %+v %v", qu, err)
	}
	if _, err := c.UpdateQueue(ctx, q, baton.QueuePatch{Concurrency: baton.Ptr(int64(0))}); !baton.HasCode(err, "setting_out_of_range") {
		t.Fatalf("bad setting: %v", err)
	}
	if _, err := c.PauseQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.GetQueue(ctx, q); !g.Paused {
		t.Fatal("not paused")
	}
	if _, err := c.ResumeQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		j, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
		js, _ := c.Claim(ctx, q, baton.ClaimRequest{Worker: "d-" + q})
		_, _ = c.FailJob(ctx, j.ID, baton.FailRequest{Lease: js[0].Lease, Error: "x"})
	}
	dead, err := c.ListDeadJobs(ctx, q, baton.ListOptions{PageSize: 2}).All()
	if err != nil || len(dead) != 3 {
		t.Fatalf("dead: %d %v", len(dead), err)
	}
	n, err := c.ReplayDeadJobs(ctx, q, []string{dead[0].ID})
	if err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	n, err = c.PurgeDeadJobs(ctx, q)
	if err != nil || n != 2 {
		t.Fatalf("purge dead: %d %v", n, err)
	}
	if n, err := c.ReplayAllDeadJobs(ctx, q); err != nil || n != 0 {
		t.Fatalf("replay all: %d %v", n, err)
	}
	if _, err := c.DeleteQueue(ctx, q); !baton.HasCode(err, "queue_not_empty") {
		t.Fatalf("delete a queue with a queued job: %v", err)
	}
	dr, err := c.DrainQueue(ctx, q)
	if err != nil || dr.Cancelled != 1 || dr.More {
		t.Fatalf("drain: %+v %v", dr, err)
	}
	del, err := c.DeleteQueue(ctx, q)
	if err != nil || !del.Deleted {
		t.Fatalf("delete: %+v %v", del, err)
	}
	all, err := c.ListQueues(ctx, baton.ListOptions{PageSize: 3}).All()
	if err != nil || len(all) == 0 {
		t.Fatalf("ListQueues: %d %v", len(all), err)
	}
}

func TestKeysAndAudit(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	k, err := c.CreateKey(ctx, baton.KeyCreate{Name: "rot", Scopes: []string{"jobs:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(ctx, baton.KeyCreate{Name: "bad", Scopes: []string{"nope"}}); !baton.HasCode(err, "invalid_scope") {
		t.Fatalf("bad scope: %v", err)
	}
	rk, err := c.RotateKey(ctx, k.Key.ID, 0)
	if err != nil || rk.Secret == k.Secret || rk.Key.RotatedAt == nil {
		t.Fatalf("rotate: %+v %v", rk, err)
	}
	if _, err := baton.NewClient(serverURL, k.Secret).ListQueues(ctx, baton.ListOptions{}).All(); !baton.HasCode(err, "unauthenticated") {
		t.Fatalf("old secret still works: %v", err)
	}
	if _, err := baton.NewClient(serverURL, rk.Secret).ListQueues(ctx, baton.ListOptions{}).All(); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	rv, err := c.RevokeKey(ctx, k.Key.ID)
	if err != nil || rv.State != "revoked" {
		t.Fatalf("revoke: %+v %v", rv, err)
	}
	keys, err := c.ListKeys(ctx, baton.KeyListOptions{Tenant: "*", ListOptions: baton.ListOptions{PageSize: 2}}).All()
	if err != nil || len(keys) < 2 {
		t.Fatalf("ListKeys: %d %v", len(keys), err)
	}
	entries, err := c.ListAudit(ctx, baton.AuditFilter{Action: "keys.rotate"}).All()
	if err != nil || len(entries) == 0 || entries[len(entries)-1].Target != k.Key.ID {
		t.Fatalf("audit: %+v %v", entries, err)
	}
}

func TestTimers(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	key := "draft-" + q + ":pick"
	tm, err := c.PutTimer(ctx, key, baton.TimerPut{Queue: q, Type: "autopick", Payload: json.RawMessage(`{"pick":1}`), DelayMs: baton.Ptr(int64(3600000)), IfVersion: baton.Ptr(int64(0)), Group: "d"})
	if err != nil || tm.Version != 1 || tm.State != "scheduled" {
		t.Fatalf("put: %+v %v", tm, err)
	}
	if _, err := c.PutTimer(ctx, key, baton.TimerPut{Queue: q, Type: "autopick", DelayMs: baton.Ptr(int64(1000)), IfVersion: baton.Ptr(int64(7))}); !baton.HasCode(err, "version_mismatch") {
		t.Fatalf("CAS: %v", err)
	}
	tm, err = c.PutTimer(ctx, key, baton.TimerPut{Queue: q, Type: "autopick", DelayMs: baton.Ptr(int64(0)), IfVersion: baton.Ptr(int64(1))})
	if err != nil || tm.Version != 2 {
		t.Fatalf("move: %+v %v", tm, err)
	}
	var fired *baton.Timer
	waitFor(t, 5*time.Second, "the timer to fire", func() bool {
		fired, err = c.GetTimer(ctx, key)
		return err == nil && fired.State == "fired"
	})
	j, err := c.GetJob(ctx, fired.JobID)
	if err != nil || j.Timer == nil || j.Timer.Key != key || j.Timer.Version != 2 {
		t.Fatalf("fired job: %+v %v", j, err)
	}
	if _, err := c.CancelTimer(ctx, key, 0); !baton.HasCode(err, "invalid_state") {
		t.Fatalf("cancel a fired timer: %v", err)
	}
	_, _ = c.PutTimer(ctx, key+"2", baton.TimerPut{Queue: q, Type: "t", DelayMs: baton.Ptr(int64(3600000))})
	ct, err := c.CancelTimer(ctx, key+"2", 1)
	if err != nil || ct.State != "cancelled" {
		t.Fatalf("cancel: %+v %v", ct, err)
	}
	list, err := c.ListTimers(ctx, baton.TimerListOptions{Prefix: "draft-" + q, ListOptions: baton.ListOptions{PageSize: 1}}).All()
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTimers: %d %v", len(list), err)
	}
}

func TestFlows(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	f, err := c.CreateFlow(ctx, []baton.FlowJob{
		{Ref: "fixtures", EnqueueRequest: baton.EnqueueRequest{Queue: q, Type: "fixtures"}},
		{Ref: "lineups", EnqueueRequest: baton.EnqueueRequest{Queue: q, Type: "lineups", DependsOn: []string{"fixtures"}}},
	})
	if err != nil || len(f.Jobs) != 2 || f.Jobs[1].Ref != "lineups" || f.Jobs[1].DependsOn[0] != f.Jobs[0].ID {
		t.Fatalf("create: %+v %v", f, err)
	}
	if _, err := c.CreateFlow(ctx, []baton.FlowJob{{Ref: "a", EnqueueRequest: baton.EnqueueRequest{Queue: q, Type: "t", DependsOn: []string{"zzz"}}}}); !baton.HasCode(err, "unknown_ref") {
		t.Fatalf("unknown ref: %v", err)
	}
	g, err := c.GetFlow(ctx, f.ID)
	if err != nil || g.State != "running" || len(g.Jobs) != 2 {
		t.Fatalf("get: %+v %v", g, err)
	}
}

func TestCronRoutes(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 10*time.Second)
	q := queueName(t)
	key := "nightly-" + q
	s, created, err := c.PutCron(ctx, key, baton.CronPut{Cron: "30 2 * * *", Timezone: "Europe/Berlin", Job: baton.CronJobTemplate{Queue: q, Type: "rebuild", Payload: json.RawMessage(`{"a":1}`)}, Overlap: "allow"})
	if err != nil || !created || s.NextFireAt == nil || s.Job.Queue != q {
		t.Fatalf("put: %+v %v", s, err)
	}
	if _, _, err := c.PutCron(ctx, key, baton.CronPut{Cron: "30 2 * * *", Timezone: "Europe/Londn", Job: baton.CronJobTemplate{Queue: q, Type: "t"}}); !baton.HasCode(err, "unknown_time_zone") {
		t.Fatalf("bad zone: %v", err)
	}
	if p, err := c.PauseCron(ctx, key, "maintenance"); err != nil || !p.Paused || p.PauseNote != "maintenance" {
		t.Fatalf("pause: %+v %v", p, err)
	}
	if r, err := c.ResumeCron(ctx, key); err != nil || r.Paused {
		t.Fatalf("resume: %+v %v", r, err)
	}
	run, err := c.RunCron(ctx, key, baton.CronRunRequest{Payload: json.RawMessage(`{"b":2}`)})
	if err != nil || run.Trigger != "manual" || run.JobID == "" {
		t.Fatalf("run: %+v %v", run, err)
	}
	j, _ := c.GetJob(ctx, run.JobID)
	if j.Cron == nil || j.Cron.Key != key || string(j.Payload) != `{"a":1,"b":2}` {
		t.Fatalf("run's job: %+v", j)
	}
	runs, err := c.ListCronRuns(ctx, key, baton.ListOptions{}).All()
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %d %v", len(runs), err)
	}
	pv, err := c.PreviewCron(ctx, baton.CronPreviewRequest{Cron: "20 6-10/2 * * *", Count: 3})
	if err != nil || !pv.Valid || len(pv.Fires) != 3 {
		t.Fatalf("preview: %+v %v", pv, err)
	}
	pv, err = c.PreviewCron(ctx, baton.CronPreviewRequest{Cron: "99 * * * *"})
	if err != nil || pv.Valid || pv.Error == nil || pv.Error.Code == "" {
		t.Fatalf("invalid preview: %+v %v", pv, err)
	}
	ap, err := c.ApplyCronRegistry(ctx, baton.CronRegistry{Schedules: []baton.CronEntry{
		{Key: key + "-b", CronPut: baton.CronPut{Cron: "0 4 * * *", Job: baton.CronJobTemplate{Queue: q, Type: "t"}}},
	}})
	if err != nil || len(ap.Created) != 1 || ap.Created[0] != key+"-b" {
		t.Fatalf("apply: %+v %v", ap, err)
	}
	list, err := c.ListCron(ctx, baton.ListOptions{PageSize: 1}).All()
	if err != nil || len(list) < 2 {
		t.Fatalf("list: %d %v", len(list), err)
	}
	if g, err := c.GetCron(ctx, key); err != nil || g.Key != key {
		t.Fatalf("get: %v", err)
	}
	if err := c.DeleteCron(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetCron(ctx, key); !baton.HasCode(err, "not_found") {
		t.Fatalf("deleted schedule: %v", err)
	}
	sc, err := c.Scheduler(ctx)
	if err != nil || sc.Node == "" || sc.Role == "" {
		t.Fatalf("scheduler: %+v %v", sc, err)
	}
}

func TestOperations(t *testing.T) {
	ctx := ctxT(t, 5*time.Second)
	anon := baton.NewClient(serverURL, "")
	if h, err := anon.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("health: %+v %v", h, err)
	}
	if r, err := anon.Ready(ctx); err != nil || r.Status != "ready" || r.Store != "sqlite" {
		t.Fatalf("ready: %+v %v", r, err)
	}
	m, err := admin().Metrics(ctx)
	if err != nil || !strings.Contains(m, "baton_") {
		t.Fatalf("metrics: %.200s %v", m, err)
	}
	if _, err := anon.Metrics(ctx); !baton.HasCode(err, "unauthenticated") {
		t.Fatalf("metrics without a key: %v", err)
	}
}

func TestMinimalEnqueue(t *testing.T) {
	c := admin(baton.WithMinimalEnqueue(true))
	ctx := ctxT(t, 5*time.Second)
	q := queueName(t)
	j, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
	if err != nil || j.ID == "" || j.State != "queued" || j.Queue != "" {
		t.Fatalf("minimal: %+v %v", j, err)
	}
}

func TestStats(t *testing.T) {
	ctx := ctxT(t, 10*time.Second)
	c := admin()
	q := queueName(t)
	for i := 0; i < 3; i++ {
		if _, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Stats(ctx, baton.StatsOptions{Queue: q, Window: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.Queue == nil || *s.Queue != q || s.StepMs != 60000 || len(s.Points) != 2 {
		t.Fatalf("series: %+v", s)
	}
	if s.From.Second() != 0 || s.To.Sub(s.From) != 2*time.Minute {
		t.Fatalf("steps not aligned to minutes: %v .. %v", s.From, s.To)
	}
	var n int64
	for _, p := range s.Points {
		n += p.Enqueued
	}
	if n != 3 {
		t.Fatalf("enqueued %d, want 3", n)
	}
	all, err := c.Stats(ctx, baton.StatsOptions{})
	if err != nil || all.Queue != nil || len(all.Points) != 60 {
		t.Fatalf("tenant series: %+v %v", all, err)
	}
	_, err = c.Stats(ctx, baton.StatsOptions{Step: time.Second})
	var be *baton.Error
	if !errors.As(err, &be) || be.Status != 400 || be.Code != "step_ms_out_of_range" || be.Field != "step_ms" {
		t.Fatalf("a one-second step: %v", err)
	}
}
