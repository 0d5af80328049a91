// Tests of the Worker against a real batond: results and progress, error
// classification (unrecoverable, retry with delay, plain), panics,
// cancellation, lost leases never settled, graceful shutdown, fatal claim
// errors, and no goroutine left behind.
package baton_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

// events collects a worker's events safely.
type events struct {
	mu  sync.Mutex
	all []baton.Event
}

func (e *events) add(ev baton.Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }
func (e *events) count(typ baton.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// runWorker starts w.Run in the background; the returned stop cancels it and
// waits (bounded) for Run's answer.
func runWorker(t *testing.T, w *baton.Worker) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return within 15 s of cancellation")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestWorkerCompletesWithResultAndProgress(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	const n = 30
	reqs := make([]baton.EnqueueRequest, n)
	for i := range reqs {
		reqs[i] = baton.EnqueueRequest{Queue: q, Type: "sq", Payload: json.RawMessage(fmt.Sprintf(`{"x":%d}`, i))}
	}
	jobs, err := c.EnqueueBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	var ev events
	var running, maxRunning atomic.Int64
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, Concurrency: 4, OnEvent: ev.add,
		Handler: func(ctx context.Context, job *baton.Job) (any, error) {
			cur := running.Add(1)
			defer running.Add(-1)
			for {
				m := maxRunning.Load()
				if cur <= m || maxRunning.CompareAndSwap(m, cur) {
					break
				}
			}
			var p struct{ X int }
			if err := json.Unmarshal(job.Payload, &p); err != nil {
				return nil, baton.Unrecoverable(err)
			}
			if err := baton.Progress(ctx, 50, "half"); err != nil {
				return nil, err
			}
			time.Sleep(5 * time.Millisecond)
			return map[string]int{"sq": p.X * p.X}, nil
		}})
	stop := runWorker(t, w)
	waitFor(t, 15*time.Second, "all jobs completed", func() bool { return ev.count(baton.EventCompleted) == n })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if maxRunning.Load() > 4 {
		t.Fatalf("%d handlers ran at once with Concurrency 4", maxRunning.Load())
	}
	for i, j := range jobs {
		got, err := c.GetJob(ctx, j.ID)
		if err != nil || got.State != baton.StateCompleted || string(got.Result) != fmt.Sprintf(`{"sq":%d}`, i*i) {
			t.Fatalf("job %d: %+v %v", i, got, err)
		}
		if !strings.Contains(string(got.Progress), `"percent":50`) || got.Worker != w.ID() {
			t.Fatalf("job %d progress %s worker %s", i, got.Progress, got.Worker)
		}
	}
	if _, err := c.GetJob(ctx, jobs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := baton.Progress(context.Background(), 1, "x"); err == nil {
		t.Fatal("Progress outside a handler must fail")
	}
}

func TestWorkerErrorClassification(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	unrec, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "unrecoverable", MaxAttempts: 5})
	later, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "retry_in", MaxAttempts: 5})
	plain, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "plain", MaxAttempts: 2,
		Backoff: &baton.Backoff{Type: "fixed", BaseMs: baton.Ptr(int64(100))}})
	panics, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "panic", MaxAttempts: 1})
	var attemptsMu sync.Mutex
	failedAt := map[string]time.Time{}
	var ev events
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, Concurrency: 4, OnEvent: ev.add,
		Handler: func(ctx context.Context, job *baton.Job) (any, error) {
			switch job.Type {
			case "unrecoverable":
				return nil, baton.Unrecoverable(errors.New("bad input"))
			case "retry_in":
				if job.Attempt == 1 {
					attemptsMu.Lock()
					failedAt[job.ID] = time.Now()
					attemptsMu.Unlock()
					return nil, baton.RetryIn(1500*time.Millisecond, errors.New("busy"))
				}
				attemptsMu.Lock()
				waited := time.Since(failedAt[job.ID])
				attemptsMu.Unlock()
				return map[string]int64{"waited_ms": waited.Milliseconds()}, nil
			case "plain":
				return nil, fmt.Errorf("attempt %d failed", job.Attempt)
			case "panic":
				panic("handler bug")
			}
			return nil, nil
		}})
	stop := runWorker(t, w)
	var u, l, p, pa *baton.Job
	waitFor(t, 15*time.Second, "every job to end", func() bool {
		u, _ = c.GetJob(ctx, unrec.ID)
		l, _ = c.GetJob(ctx, later.ID)
		p, _ = c.GetJob(ctx, plain.ID)
		pa, _ = c.GetJob(ctx, panics.ID)
		return u != nil && l != nil && p != nil && pa != nil && u.Terminal() && l.Terminal() && p.Terminal() && pa.Terminal()
	})
	_ = stop()
	if u.State != baton.StateDead || len(u.Attempts) != 1 || u.LastError != "bad input" {
		t.Errorf("unrecoverable: state %s, %d attempts, error %q", u.State, len(u.Attempts), u.LastError)
	}
	var waited struct {
		WaitedMs int64 `json:"waited_ms"`
	}
	_ = json.Unmarshal(l.Result, &waited)
	if l.State != baton.StateCompleted || len(l.Attempts) != 2 || waited.WaitedMs < 1300 {
		t.Errorf("retry in 1.5 s: state %s, %d attempts, waited %d ms", l.State, len(l.Attempts), waited.WaitedMs)
	}
	if p.State != baton.StateDead || len(p.Attempts) != 2 || p.LastError != "attempt 2 failed" {
		t.Errorf("plain error: state %s, %d attempts, error %q", p.State, len(p.Attempts), p.LastError)
	}
	if pa.State != baton.StateDead || !strings.HasPrefix(pa.LastError, "panic: handler bug") {
		t.Errorf("panic: state %s, error %.60q", pa.State, pa.LastError)
	}
	if got := ev.count(baton.EventFailed); got != 5 { // 1 + 1 + 2 + 1
		t.Errorf("%d failed events, want 5", got)
	}
}

func TestWorkerCancellationSignal(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	job, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "long", LeaseMs: 1500})
	started := make(chan struct{})
	reason := make(chan string, 1)
	var ev events
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, OnEvent: ev.add,
		Handler: func(ctx context.Context, j *baton.Job) (any, error) {
			close(started)
			select {
			case <-ctx.Done():
				reason <- baton.CancelReason(ctx)
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				reason <- "not cancelled"
				return "finished", nil
			}
		}})
	stop := runWorker(t, w)
	<-started
	if _, err := c.CancelJob(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reason:
		if r != baton.ReasonCancelRequested {
			t.Fatalf("handler ctx reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's ctx was not cancelled within 5 s of the cancel (heartbeats every 0.5 s)")
	}
	var got *baton.Job
	waitFor(t, 5*time.Second, "the job to end cancelled", func() bool {
		got, _ = c.GetJob(ctx, job.ID)
		return got != nil && got.State == baton.StateCancelled
	})
	_ = stop()
	if ev.count(baton.EventCancelRequested) != 1 {
		t.Fatalf("cancel_requested events: %d", ev.count(baton.EventCancelRequested))
	}
}

func TestWorkerLostLeaseIsNeverSettled(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	// timeout_ms 300: the server ends the attempt (outcome timeout) while the
	// handler still runs; the next heartbeat answers 409 lease_mismatch.
	job, _ := c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "slow", LeaseMs: 1200, TimeoutMs: 300, MaxAttempts: 1})
	reason := make(chan string, 1)
	var ev events
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, OnEvent: ev.add, HeartbeatEvery: 400 * time.Millisecond,
		Handler: func(ctx context.Context, j *baton.Job) (any, error) {
			// Ignore the timeout deadline: wait for the worker's own verdict.
			for baton.CancelReason(ctx) == "" {
				time.Sleep(10 * time.Millisecond)
			}
			reason <- baton.CancelReason(ctx)
			return "too late", nil // must not be sent
		}})
	stop := runWorker(t, w)
	select {
	case r := <-reason:
		if r != baton.ReasonLeaseLost {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the lost lease was not noticed")
	}
	waitFor(t, 5*time.Second, "the lease_lost event", func() bool { return ev.count(baton.EventLeaseLost) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetJob(ctx, job.ID)
	if err != nil || got.State != baton.StateDead || got.Attempts[0].Outcome != "timeout" || got.Result != nil && string(got.Result) != "null" {
		t.Fatalf("job after a lost lease: %+v %v", got, err)
	}
	reg, err := c.GetWorker(ctx, w.ID())
	if err != nil || reg.Completed != 0 || reg.Failed != 0 {
		t.Fatalf("the worker settled a lost lease: %+v %v", reg, err)
	}
	if ev.count(baton.EventCompleted)+ev.count(baton.EventFailed) != 0 {
		t.Fatal("settle events for a lost lease")
	}
}

func TestWorkerGracefulShutdown(t *testing.T) {
	c := admin()
	ctx := ctxT(t, 20*time.Second)
	q := queueName(t)
	reqs := make([]baton.EnqueueRequest, 6)
	for i := range reqs {
		reqs[i] = baton.EnqueueRequest{Queue: q, Type: "t"}
	}
	jobs, _ := c.EnqueueBatch(ctx, reqs)
	var started atomic.Int64
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, Concurrency: 3, WaitMs: 500,
		Handler: func(ctx context.Context, j *baton.Job) (any, error) {
			started.Add(1)
			time.Sleep(700 * time.Millisecond)
			return "ok", ctx.Err() // the run's cancellation must not reach the handler
		}})
	stop := runWorker(t, w)
	waitFor(t, 5*time.Second, "3 handlers to start", func() bool { return started.Load() == 3 })
	t0 := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if time.Since(t0) < 400*time.Millisecond {
		t.Fatalf("Run returned after %s, before its jobs could finish", time.Since(t0))
	}
	completed, queued := 0, 0
	for _, j := range jobs {
		g, _ := c.GetJob(ctx, j.ID)
		switch g.State {
		case baton.StateCompleted:
			completed++
		case baton.StateQueued:
			queued++
		default:
			t.Fatalf("job %s is %s after the shutdown", g.ID, g.State)
		}
	}
	if int64(completed) != started.Load() || completed != 3 || queued != 3 {
		t.Fatalf("completed %d (started %d), queued %d", completed, started.Load(), queued)
	}
}

func TestWorkerFatalClaimError(t *testing.T) {
	ctx := ctxT(t, 10*time.Second)
	reader := baton.NewClient(serverURL, newKey(t, "", []string{"jobs:read"}, nil))
	w := baton.NewWorker(reader, baton.WorkerOptions{Queue: queueName(t), Handler: func(context.Context, *baton.Job) (any, error) { return nil, nil }})
	err := w.Run(ctx)
	if !baton.HasCode(err, "forbidden") {
		t.Fatalf("Run with a key without work: %v", err)
	}
	if err := baton.NewWorker(reader, baton.WorkerOptions{}).Run(ctx); err == nil {
		t.Fatal("Run without Queue and Handler must fail")
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	runtime.GC()
	before := runtime.NumGoroutine()
	func() {
		c := baton.NewClient(serverURL, adminKey, baton.WithCoalescing(true, 0))
		defer c.Close()
		ctx := ctxT(t, 20*time.Second)
		q := queueName(t)
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = c.Enqueue(ctx, baton.EnqueueRequest{Queue: q, Type: "t"})
			}()
		}
		wg.Wait()
		var done atomic.Int64
		w := baton.NewWorker(c, baton.WorkerOptions{Queue: q, Concurrency: 8, WaitMs: 200,
			OnEvent: func(e baton.Event) {
				if e.Type == baton.EventCompleted {
					done.Add(1)
				}
			},
			Handler: func(ctx context.Context, j *baton.Job) (any, error) { return nil, baton.Progress(ctx, 10, "") }})
		stop := runWorker(t, w)
		waitFor(t, 10*time.Second, "40 jobs", func() bool { return done.Load() == 40 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, _ = c.WaitJob(short, "999999999") // an error path of a long poll must leave nothing behind either
	}()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
