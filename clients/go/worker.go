// Worker: claims jobs of one queue in batches with long polls, runs a
// handler for each on up to Concurrency goroutines, heartbeats every third
// of the lease, and settles outcomes in batches (POST /v1/settle).
//
// Assumptions (docs/api.md, "Work"): a heartbeat answers cancel_requested
// when the job was cancelled while it ran, and 409 lease_mismatch or
// lease_expired when the attempt's lease is gone (expired, timed out, or the
// job was settled elsewhere); from then on nothing this worker sends for that
// attempt can change the job, so the attempt is reported lost and never
// settled. Settles are idempotent per lease ("repeat": true), so a settle
// whose answer was lost is simply sent again.
package baton

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Handler runs one job. Its result (nil, a json.RawMessage, or any value
// encoding/json can marshal) completes the job; an error fails it: wrapped in
// Unrecoverable it goes dead at once, wrapped in RetryIn it is retried after
// that delay, any other error is retried per the job's backoff. A panic is a
// retryable failure. ctx is cancelled when the job is cancelled or its lease
// is lost (see CancelReason); it also carries the job's timeout as deadline.
type Handler func(ctx context.Context, job *Job) (any, error)

// WorkerOptions configure a Worker. Queue and Handler are required.
type WorkerOptions struct {
	Queue       string
	Handler     Handler
	Concurrency int // jobs run at once (default 1)

	// ID is the worker's id in the registry (default "<host>-<pid>-<random>").
	ID string
	// Info is sent with the first claim (default: host, pid, "baton-go/<Version>").
	Info *WorkerInfo
	// LeaseMs asks for this lease on claims and heartbeats (0: each job's own lease_ms).
	LeaseMs int64
	// ClaimBatch caps the jobs asked for by one claim (default Concurrency, at most 1000).
	ClaimBatch int
	// WaitMs is the long-poll wait of a claim that finds nothing (default 2000,
	// at most 60000). Run's return after cancellation can take up to this long,
	// since a claim in flight is let finish so that no job is leased to a lost answer.
	WaitMs int64
	// HeartbeatEvery overrides the heartbeat interval (default a third of the lease).
	HeartbeatEvery time.Duration
	// SettleBatch caps the items of one settle request (default 1000).
	SettleBatch int
	// OnEvent, when set, is called (from several goroutines; keep it quick
	// and safe for concurrent use) for each completed, failed, lost,
	// cancel-requested job and for every error the worker recovers from.
	OnEvent func(Event)
}

// EventType names what an Event reports.
type EventType string

// The events of a Worker.
const (
	EventCompleted       EventType = "completed"        // settled as completed
	EventFailed          EventType = "failed"           // settled as failed (Err is the handler's error)
	EventLeaseLost       EventType = "lease_lost"       // the lease is gone; the job was not settled by this worker
	EventCancelRequested EventType = "cancel_requested" // a heartbeat learned the job was cancelled; its ctx is cancelled
	EventError           EventType = "error"            // a claim, heartbeat or settle failed (Job set when it concerns one)
)

// Event is one thing a Worker reports to OnEvent.
type Event struct {
	Type EventType
	Job  *Job  // nil for errors of claims
	Err  error // the handler's error, the lease error, or the call's error
}

// Worker runs a handler over the jobs of one queue. Make it with NewWorker,
// start it with Run.
type Worker struct {
	c       *Client
	o       WorkerOptions
	running atomic.Bool
}

// NewWorker makes a worker; see WorkerOptions for the defaults.
func NewWorker(c *Client, o WorkerOptions) *Worker {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = o.Concurrency
	}
	if o.ClaimBatch > 1000 {
		o.ClaimBatch = 1000
	}
	if o.WaitMs <= 0 {
		o.WaitMs = 2000
	}
	if o.WaitMs > 60000 {
		o.WaitMs = 60000
	}
	if o.SettleBatch <= 0 || o.SettleBatch > 1000 {
		o.SettleBatch = 1000
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	if o.ID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if o.Info == nil {
		o.Info = &WorkerInfo{Host: truncate(host, 255), PID: os.Getpid(), Version: "baton-go/" + Version}
	}
	return &Worker{c: c, o: o}
}

// ID is the worker's id in the registry.
func (w *Worker) ID() string { return w.o.ID }

// errAlreadyRunning is Run's answer when the worker runs already.
var errAlreadyRunning = errors.New("baton: worker is already running")

// Run claims and runs jobs until ctx is cancelled, then stops claiming, lets
// the jobs in flight finish (their handlers' contexts are not cancelled by
// it), settles them and returns nil. It returns early with an error the
// worker cannot get past (a refused key or scope, a bad option: 400, 401,
// 403), also after letting in-flight jobs finish. Other errors (network,
// 5xx) are reported as EventError and retried with a growing pause.
func (w *Worker) Run(ctx context.Context) error {
	if w.o.Handler == nil || w.o.Queue == "" {
		return errors.New("baton: WorkerOptions need Queue and Handler")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errAlreadyRunning
	}
	defer w.running.Store(false)

	slots := make(chan struct{}, w.o.Concurrency) // a token per running job
	settleCh := make(chan *settleReq, 2*w.o.Concurrency)
	settlerDone := make(chan struct{})
	go w.settler(settleCh, settlerDone)
	var wg sync.WaitGroup

	var fatal error
	pause := time.Duration(0)
	sentInfo := false
claimLoop:
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break claimLoop
		}
		n := 1
	grab:
		for n < w.o.ClaimBatch {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break grab
			}
		}
		req := ClaimRequest{Worker: w.o.ID, Max: n, WaitMs: w.o.WaitMs, LeaseMs: w.o.LeaseMs}
		if !sentInfo {
			req.Info = w.o.Info
		}
		// Not ctx: a claim cut off mid-answer could lease jobs nobody runs
		// until their leases expire. It ends within WaitMs anyway.
		jobs, err := w.c.Claim(context.Background(), w.o.Queue, req)
		for i := len(jobs); i < n; i++ {
			<-slots
		}
		if err != nil {
			var be *Error
			if errors.As(err, &be) && (be.Status == http.StatusBadRequest || be.Status == http.StatusUnauthorized ||
				be.Status == http.StatusForbidden || be.Status == http.StatusRequestEntityTooLarge) {
				fatal = err
				break
			}
			w.emit(Event{Type: EventError, Err: fmt.Errorf("baton: claim: %w", err)})
			pause = nextPause(pause)
			if !sleepCtx(ctx, pause) {
				break
			}
			continue
		}
		sentInfo = true
		pause = 0
		for _, job := range jobs {
			wg.Add(1)
			go w.process(job, slots, settleCh, &wg)
		}
	}
	wg.Wait()
	close(settleCh)
	<-settlerDone
	return fatal
}

func nextPause(p time.Duration) time.Duration {
	if p == 0 {
		return 100 * time.Millisecond
	}
	if p *= 2; p > 5*time.Second {
		p = 5 * time.Second
	}
	return p
}

// sleepCtx waits d or until ctx is done; false when ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *Worker) emit(e Event) {
	if w.o.OnEvent != nil {
		w.o.OnEvent(e)
	}
}

// The reasons a handler's context is cancelled, as CancelReason answers them.
const (
	ReasonCancelRequested = "cancel_requested"
	ReasonLeaseLost       = "lease_lost"
)

// jobRun is the state of one attempt the worker runs.
type jobRun struct {
	w      *Worker
	job    *Job
	cancel context.CancelFunc

	mu         sync.Mutex
	leaseUntil time.Time
	reason     string // "", ReasonCancelRequested or ReasonLeaseLost
	finished   bool   // the handler returned: no heartbeat may be sent any more
}

type runKey struct{}

func (r *jobRun) lease() time.Duration {
	ms := r.w.o.LeaseMs
	if ms <= 0 {
		ms = r.job.LeaseMs
	}
	if ms <= 0 {
		ms = 30000
	}
	return time.Duration(ms) * time.Millisecond
}

// setReason records why the context ends (the first reason wins) and
// cancels it; it reports whether this call set it.
func (r *jobRun) setReason(reason string) bool {
	r.mu.Lock()
	first := r.reason == "" || (r.reason == ReasonCancelRequested && reason == ReasonLeaseLost)
	if first {
		r.reason = reason
	}
	r.mu.Unlock()
	if first {
		r.cancel()
	}
	return first
}

// beat sends one heartbeat (with progress when given) and acts on its answer.
func (r *jobRun) beat(p *JobProgress) error {
	r.mu.Lock()
	if r.finished || r.reason == ReasonLeaseLost {
		r.mu.Unlock()
		return &Error{Status: http.StatusConflict, Code: "lease_mismatch", Message: "the attempt is no longer held by this worker"}
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), r.lease())
	defer cancel()
	res, err := r.w.c.Heartbeat(ctx, r.job.ID, HeartbeatRequest{Lease: r.job.Lease, ExtendMs: r.w.o.LeaseMs, Progress: p})
	if err != nil {
		var be *Error
		if errors.As(err, &be) && (be.Code == "lease_mismatch" || be.Code == "lease_expired" || be.Code == "not_found") {
			r.lose(err)
			return err
		}
		r.w.emit(Event{Type: EventError, Job: r.job, Err: fmt.Errorf("baton: heartbeat: %w", err)})
		r.mu.Lock()
		expired := time.Now().After(r.leaseUntil)
		r.mu.Unlock()
		if expired {
			r.lose(fmt.Errorf("baton: lease ran out while heartbeats failed: %w", err))
		}
		return err
	}
	r.mu.Lock()
	r.leaseUntil = res.LeaseUntil
	r.mu.Unlock()
	if res.CancelRequested && r.setReason(ReasonCancelRequested) {
		r.w.emit(Event{Type: EventCancelRequested, Job: r.job})
	}
	return nil
}

func (r *jobRun) lose(err error) {
	if r.setReason(ReasonLeaseLost) {
		r.w.emit(Event{Type: EventLeaseLost, Job: r.job, Err: err})
	}
}

// Progress reports progress of the job whose handler got ctx: percent
// 0-100 and a message. It is a heartbeat, so it also extends the lease.
func Progress(ctx context.Context, percent int, message string) error {
	return ReportProgress(ctx, JobProgress{Percent: &percent, Message: message})
}

// ReportProgress reports a whole progress object (with Step, which opens a
// new entry in the job's step log when it changes).
func ReportProgress(ctx context.Context, p JobProgress) error {
	r, ok := ctx.Value(runKey{}).(*jobRun)
	if !ok {
		return errors.New("baton: Progress needs the context a Worker gave its handler")
	}
	return r.beat(&p)
}

// CancelReason says why a handler's context was cancelled:
// ReasonCancelRequested (the job was cancelled; settle quickly, the job ends
// cancelled), ReasonLeaseLost (the attempt is no longer this worker's;
// nothing it returns is sent), or "" (not cancelled, or not a handler's ctx).
func CancelReason(ctx context.Context) string {
	r, ok := ctx.Value(runKey{}).(*jobRun)
	if !ok {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

// process runs one claimed job: heartbeats while the handler runs, then
// queues its settle (unless the lease was lost) and frees its slot.
func (w *Worker) process(job *Job, slots chan struct{}, settleCh chan<- *settleReq, wg *sync.WaitGroup) {
	defer wg.Done()
	base := context.Background()
	var cancelDeadline context.CancelFunc = func() {}
	if job.TimeoutMs != nil && *job.TimeoutMs > 0 && job.StartedAt != nil {
		base, cancelDeadline = context.WithDeadline(base, job.StartedAt.Add(time.Duration(*job.TimeoutMs)*time.Millisecond))
	}
	jctx, cancel := context.WithCancel(base)
	r := &jobRun{w: w, job: job, cancel: cancel}
	if job.LeaseUntil != nil {
		r.leaseUntil = *job.LeaseUntil
	} else {
		r.leaseUntil = time.Now().Add(r.lease())
	}
	jctx = context.WithValue(jctx, runKey{}, r)

	every := w.o.HeartbeatEvery
	if every <= 0 {
		every = r.lease() / 3
	}
	stop := make(chan struct{})
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = r.beat(nil)
			}
		}
	}()

	result, herr := w.runHandler(jctx, job)
	close(stop)
	<-hbDone
	r.mu.Lock()
	r.finished = true
	lost := r.reason == ReasonLeaseLost
	r.mu.Unlock()
	cancel()
	cancelDeadline()

	if !lost {
		settleCh <- w.settleItem(job, result, herr)
	}
	<-slots
}

// runHandler calls the handler, turning a panic into a retryable error.
func (w *Worker) runHandler(ctx context.Context, job *Job) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, truncate(string(debug.Stack()), 4000))
		}
	}()
	return w.o.Handler(ctx, job)
}

// settleReq is one outcome waiting for the settler.
type settleReq struct {
	job  *Job
	item SettleItem
	herr error // the handler's error, for the failed event
}

const errorMaxBytes = 8192 // --error-max-bytes default; longer texts would be refused whole

func (w *Worker) settleItem(job *Job, result any, herr error) *settleReq {
	item := SettleItem{ID: job.ID, Lease: job.Lease}
	if herr == nil {
		raw, err := marshalResult(result)
		if err != nil {
			herr = Unrecoverable(fmt.Errorf("baton: the handler's result cannot be encoded as JSON: %w", err))
		} else {
			item.Outcome = "complete"
			item.Result = raw
			return &settleReq{job: job, item: item}
		}
	}
	item.Outcome = "fail"
	item.Error = truncate(herr.Error(), errorMaxBytes)
	if item.Error == "" {
		item.Error = "error"
	}
	if IsUnrecoverable(herr) {
		item.Retryable = Ptr(false)
	}
	var ri *retryInError
	if errors.As(herr, &ri) {
		item.RetryInMs = Ptr(ri.d.Milliseconds())
	}
	return &settleReq{job: job, item: item, herr: herr}
}

func marshalResult(v any) (json.RawMessage, error) {
	switch r := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(r) == 0 {
			return nil, nil
		}
		if !json.Valid(r) {
			return nil, errors.New("json.RawMessage result is not valid JSON")
		}
		return r, nil
	}
	return json.Marshal(v)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// settler sends the queued outcomes in batches: whatever has gathered while
// the previous request was in flight goes out as one request.
func (w *Worker) settler(ch <-chan *settleReq, done chan<- struct{}) {
	defer close(done)
	for first := range ch {
		batch := []*settleReq{first}
	gather:
		for len(batch) < w.o.SettleBatch {
			select {
			case s, ok := <-ch:
				if !ok {
					break gather
				}
				batch = append(batch, s)
			default:
				break gather
			}
		}
		w.settleBatch(batch)
	}
}

func (w *Worker) settleBatch(batch []*settleReq) {
	items := make([]SettleItem, len(batch))
	for i, s := range batch {
		items[i] = s.item
	}
	var res []SettleItemResult
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		res, err = w.c.Settle(context.Background(), items)
		if err == nil || !isTransient(err) {
			break
		}
		time.Sleep(time.Duration(200<<attempt) * time.Millisecond)
	}
	if err != nil {
		for _, s := range batch {
			w.emit(Event{Type: EventError, Job: s.job, Err: fmt.Errorf("baton: settle (the lease will expire and the job be retried): %w", err)})
		}
		return
	}
	for i, s := range batch {
		r := res[i]
		switch {
		case r.OK && s.item.Outcome == "complete":
			w.emit(Event{Type: EventCompleted, Job: s.job})
		case r.OK:
			w.emit(Event{Type: EventFailed, Job: s.job, Err: s.herr})
		case r.Err != nil && (r.Err.Code == "lease_mismatch" || r.Err.Code == "lease_expired"):
			w.emit(Event{Type: EventLeaseLost, Job: s.job, Err: r.Err})
		default:
			var e error = r.Err
			if r.Err == nil {
				e = errors.New("baton: settle item refused")
			}
			w.emit(Event{Type: EventError, Job: s.job, Err: fmt.Errorf("baton: settle: %w", e)})
		}
	}
}
