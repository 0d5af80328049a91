// Wire types of the baton API, one Go struct per object of docs/api.md, with
// json tags that are the wire's snake_case names exactly.
//
// Conventions: answers use *T for members the server answers as null
// (times, optional numbers, objects) so that nil means null; plain strings
// where null and "" cannot be told apart in practice (an unset
// idempotency_key answers null, which decodes to ""). Requests use omitempty
// where leaving a member out means "the default", and *T where the wire gives
// zero a meaning of its own (delay_ms 0, if_version 0, base_ms 0).
// payload and result stay json.RawMessage: the caller's JSON, untouched.
package baton

import (
	"encoding/json"
	"time"
)

// Ptr returns a pointer to v: Ptr(int64(0)) for optional members that need one.
func Ptr[T any](v T) *T { return &v }

// Priorities of a job.
const (
	PriorityCritical = "critical"
	PriorityHigh     = "high"
	PriorityNormal   = "normal"
	PriorityLow      = "low"
)

// States of a job.
const (
	StatePending   = "pending"
	StateScheduled = "scheduled"
	StateQueued    = "queued"
	StateRunning   = "running"
	StateRetrying  = "retrying"
	StateCompleted = "completed"
	StateDead      = "dead"
	StateCancelled = "cancelled"
)

// Terminal reports whether a job state is final (completed, dead, cancelled).
func Terminal(state string) bool {
	return state == StateCompleted || state == StateDead || state == StateCancelled
}

// Backoff is a retry policy: type exponential, fixed, immediate or none.
// BaseMs and MaxMs are pointers because 0 is a valid value distinct from
// "the default" in a request; answers always fill them.
type Backoff struct {
	Type   string `json:"type"`
	BaseMs *int64 `json:"base_ms,omitempty"`
	MaxMs  *int64 `json:"max_ms,omitempty"`
}

// JobProgress is what a heartbeat reports: percent 0-100, a step name, a message.
// The server stores any member; these are the ones it reads.
type JobProgress struct {
	Percent *int   `json:"percent,omitempty"`
	Step    string `json:"step,omitempty"`
	Message string `json:"message,omitempty"`
}

// Step is one entry of a job's step log.
type Step struct {
	Step       string     `json:"step"`
	Attempt    int        `json:"attempt"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// Attempt is one entry of a job's attempt log. Outcome is "" while the attempt runs.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Worker     string     `json:"worker"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Outcome    string     `json:"outcome"`
	Error      string     `json:"error"`
}

// TimerRef names the timer firing that enqueued a job.
type TimerRef struct {
	Key     string    `json:"key"`
	Version int64     `json:"version"`
	FireAt  time.Time `json:"fire_at"`
}

// CronRef names the cron run that enqueued a job.
type CronRef struct {
	Key string `json:"key"`
	Run string `json:"run"`
}

// Parent is a parent's id and result, in a claimed job with parents.
type Parent struct {
	ID     string          `json:"id"`
	Result json.RawMessage `json:"result"`
}

// Job is the job object (docs/api.md, "The job object"), every member.
//
// The members after Ref are not part of the stored job but of some answers:
// Lease and Parents of a claim, Duplicate and Replaced of an enqueue (the
// client moves a single enqueue's envelope flags here).
type Job struct {
	ID              string          `json:"id"`
	Queue           string          `json:"queue"`
	Type            string          `json:"type"`
	Payload         json.RawMessage `json:"payload"`
	Priority        string          `json:"priority"`
	State           string          `json:"state"`
	RunAt           *time.Time      `json:"run_at"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	Backoff         *Backoff        `json:"backoff"`
	LeaseMs         int64           `json:"lease_ms"`
	TimeoutMs       *int64          `json:"timeout_ms"`
	IdempotencyKey  string          `json:"idempotency_key"`
	Key             string          `json:"key"`
	UniqueWhile     string          `json:"unique_while"`
	Group           string          `json:"group"`
	Version         int64           `json:"version"`
	RequestID       string          `json:"request_id"`
	ExecutionID     string          `json:"execution_id"`
	Traceparent     string          `json:"traceparent"`
	CreatedAt       *time.Time      `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	Result          json.RawMessage `json:"result"`
	LastError       string          `json:"last_error"`
	Progress        json.RawMessage `json:"progress"`
	Steps           []Step          `json:"steps"`
	Attempts        []Attempt       `json:"attempts"`
	Worker          string          `json:"worker"`
	LeaseUntil      *time.Time      `json:"lease_until"`
	CancelRequested bool            `json:"cancel_requested"`
	CancelReason    string          `json:"cancel_reason"`
	Timer           *TimerRef       `json:"timer"`
	Cron            *CronRef        `json:"cron"`
	DependsOn       []string        `json:"depends_on"`
	OnParentFailure string          `json:"on_parent_failure"`
	FlowID          string          `json:"flow_id"`
	Ref             string          `json:"ref"`

	Lease     string   `json:"lease,omitempty"`
	Parents   []Parent `json:"parents,omitempty"`
	Duplicate bool     `json:"duplicate,omitempty"`
	Replaced  bool     `json:"replaced,omitempty"`
}

// Terminal reports whether the job is completed, dead or cancelled.
func (j *Job) Terminal() bool { return Terminal(j.State) }

// EnqueueRequest is one job to enqueue: every member of POST /v1/jobs.
// Queue and Type are required; everything left zero takes the server's (or
// the queue's) default.
type EnqueueRequest struct {
	Queue           string          `json:"queue"`
	Type            string          `json:"type"`
	Payload         json.RawMessage `json:"payload,omitempty"`
	Priority        string          `json:"priority,omitempty"`
	DelayMs         int64           `json:"delay_ms,omitempty"`
	RunAt           *time.Time      `json:"run_at,omitempty"`
	MaxAttempts     int             `json:"max_attempts,omitempty"`
	Backoff         *Backoff        `json:"backoff,omitempty"`
	LeaseMs         int64           `json:"lease_ms,omitempty"`
	TimeoutMs       int64           `json:"timeout_ms,omitempty"`
	IdempotencyKey  string          `json:"idempotency_key,omitempty"`
	Key             string          `json:"key,omitempty"`
	OnKey           string          `json:"on_key,omitempty"`       // keep (default) or replace
	UniqueWhile     string          `json:"unique_while,omitempty"` // pending (default) or active
	RequestID       string          `json:"request_id,omitempty"`
	ExecutionID     string          `json:"execution_id,omitempty"`
	Traceparent     string          `json:"traceparent,omitempty"`
	DependsOn       []string        `json:"depends_on,omitempty"`        // parent job ids
	OnParentFailure string          `json:"on_parent_failure,omitempty"` // cancel (default) or run
	Group           string          `json:"group,omitempty"`
}

// FlowJob is one job of a flow: an enqueue with a Ref; DependsOn entries are
// refs of the flow or ids of existing jobs.
type FlowJob struct {
	Ref string `json:"ref"`
	EnqueueRequest
}

// Flow is a flow and its jobs (every page of them, as GetFlow reads them).
type Flow struct {
	ID        string     `json:"id"`
	State     string     `json:"state"` // running, completed, failed
	CreatedAt *time.Time `json:"created_at"`
	Jobs      []*Job     `json:"jobs"`
	Next      *string    `json:"next"`
}

// JobPatch edits a job that has not started. Leave a member nil to keep it;
// Payload json.RawMessage("null") sets the payload to null.
type JobPatch struct {
	Priority string          `json:"priority,omitempty"`
	RunAt    *time.Time      `json:"run_at,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// JobFilter selects jobs for ListJobs and BulkJobs (same names as the wire).
// State may list several states. PageSize and After apply to ListJobs only.
type JobFilter struct {
	Queue          string     `json:"queue,omitempty"`
	State          []string   `json:"state,omitempty"`
	Type           string     `json:"type,omitempty"`
	Group          string     `json:"group,omitempty"`
	Key            string     `json:"key,omitempty"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
	RequestID      string     `json:"request_id,omitempty"`
	ExecutionID    string     `json:"execution_id,omitempty"`
	Worker         string     `json:"worker,omitempty"`
	CreatedAfter   *time.Time `json:"created_after,omitempty"`
	CreatedBefore  *time.Time `json:"created_before,omitempty"`
	FinishedAfter  *time.Time `json:"finished_after,omitempty"`
	FinishedBefore *time.Time `json:"finished_before,omitempty"`
	Order          string     `json:"order,omitempty"` // asc (default) or desc

	PageSize int    `json:"-"` // limit of each page (server default 100)
	After    string `json:"-"` // resume after this cursor
}

// BulkRequest acts on the jobs a filter finds: Action retry, cancel, promote or purge.
type BulkRequest struct {
	Action string    `json:"action"`
	Filter JobFilter `json:"filter"`
	Limit  int       `json:"limit,omitempty"`
	After  string    `json:"after,omitempty"`
}

// BulkResult is the answer of a bulk action. Next is nil once nothing more matches.
type BulkResult struct {
	Matched int     `json:"matched"`
	Changed int     `json:"changed"`
	Next    *string `json:"next"`
}

// WorkerInfo is what a worker tells the registry about itself on claim.
type WorkerInfo struct {
	Host    string            `json:"host,omitempty"`
	PID     int               `json:"pid,omitempty"`
	Version string            `json:"version,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// ClaimRequest is the body of a claim. Worker is required.
type ClaimRequest struct {
	Worker  string      `json:"worker"`
	Max     int         `json:"max,omitempty"`
	WaitMs  int64       `json:"wait_ms,omitempty"`
	LeaseMs int64       `json:"lease_ms,omitempty"`
	Info    *WorkerInfo `json:"info,omitempty"`
}

// HeartbeatRequest extends a lease and optionally reports progress.
type HeartbeatRequest struct {
	Lease    string       `json:"lease"`
	ExtendMs int64        `json:"extend_ms,omitempty"`
	Progress *JobProgress `json:"progress,omitempty"`
}

// HeartbeatResult is a heartbeat's answer.
type HeartbeatResult struct {
	LeaseUntil      time.Time `json:"lease_until"`
	CancelRequested bool      `json:"cancel_requested"`
}

// FailRequest fails an attempt. Retryable nil means true.
type FailRequest struct {
	Lease     string `json:"lease"`
	Error     string `json:"error,omitempty"`
	Retryable *bool  `json:"retryable,omitempty"`
	RetryInMs *int64 `json:"retry_in_ms,omitempty"`
}

// SettleResult is the answer of complete and fail: the job, and Repeat when
// the same settle had already succeeded (nothing changed).
type SettleResult struct {
	Job    *Job `json:"job"`
	Repeat bool `json:"repeat"`
}

// SettleItem is one element of POST /v1/settle: Outcome "complete" (with
// Result) or "fail" (with Error, Retryable, RetryInMs).
type SettleItem struct {
	ID        string          `json:"id"`
	Lease     string          `json:"lease"`
	Outcome   string          `json:"outcome"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	Retryable *bool           `json:"retryable,omitempty"`
	RetryInMs *int64          `json:"retry_in_ms,omitempty"`
}

// SettleItemResult is one element of the settle answer; Err is set when !OK.
type SettleItemResult struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok"`
	Repeat bool   `json:"repeat"`
	Err    *Error `json:"-"`
}

// QueueCounts are a queue's jobs by state.
type QueueCounts struct {
	Pending   int64 `json:"pending"`
	Scheduled int64 `json:"scheduled"`
	Queued    int64 `json:"queued"`
	Running   int64 `json:"running"`
	Retrying  int64 `json:"retrying"`
	Completed int64 `json:"completed"`
	Dead      int64 `json:"dead"`
	Cancelled int64 `json:"cancelled"`
}

// Rate is a sliding-window limit: at most Max per PerMs milliseconds.
type Rate struct {
	Max   int64 `json:"max"`
	PerMs int64 `json:"per_ms"`
}

// QueueDefaults are a queue's defaults for jobs that give none (nil: unset).
type QueueDefaults struct {
	MaxAttempts *int     `json:"max_attempts"`
	Backoff     *Backoff `json:"backoff"`
	LeaseMs     *int64   `json:"lease_ms"`
	TimeoutMs   *int64   `json:"timeout_ms"`
}

// Retention is a queue's own retention of ended jobs (nil: the server's).
type Retention struct {
	CompletedMs *int64 `json:"completed_ms,omitempty"`
	DeadMs      *int64 `json:"dead_ms,omitempty"`
	CancelledMs *int64 `json:"cancelled_ms,omitempty"`
}

// Queue is the queue object.
type Queue struct {
	Name              string        `json:"name"`
	Paused            bool          `json:"paused"`
	Counts            QueueCounts   `json:"counts"`
	OldestReadyAgeMs  *int64        `json:"oldest_ready_age_ms"`
	CreatedAt         *time.Time    `json:"created_at"`
	UpdatedAt         *time.Time    `json:"updated_at"`
	Concurrency       *int64        `json:"concurrency"`
	Rate              *Rate         `json:"rate"`
	MaxDepth          *int64        `json:"max_depth"`
	GroupConcurrency  *int64        `json:"group_concurrency"`
	GroupRate         *Rate         `json:"group_rate"`
	Defaults          QueueDefaults `json:"defaults"`
	Retention         *Retention    `json:"retention"`
	Running           int64         `json:"running"`
	Depth             int64         `json:"depth"`
	SettingsUpdatedAt *time.Time    `json:"settings_updated_at"`
	// JobEvents says whether the queue's jobs write job.* events to the
	// event log (GET /v1/events).
	JobEvents bool `json:"job_events"`
}

// QueuePatch changes queue settings (PATCH /v1/queues/{queue}). Set a
// pointer to change a setting; name a member in Clear ("concurrency",
// "rate", "max_depth", "group_concurrency", "group_rate", "max_attempts",
// "backoff", "lease_ms", "retention", "timeout_ms") to remove it (null).
type QueuePatch struct {
	Paused           *bool
	Concurrency      *int64
	Rate             *Rate
	MaxDepth         *int64
	GroupConcurrency *int64
	GroupRate        *Rate
	MaxAttempts      *int
	Backoff          *Backoff
	LeaseMs          *int64
	Retention        *Retention
	TimeoutMs        *int64
	JobEvents        *bool
	Clear            []string
}

// MarshalJSON sends the set members and the cleared ones as null.
func (p QueuePatch) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	put := func(name string, set bool, v any) {
		if set {
			m[name] = v
		}
	}
	put("paused", p.Paused != nil, p.Paused)
	put("concurrency", p.Concurrency != nil, p.Concurrency)
	put("rate", p.Rate != nil, p.Rate)
	put("max_depth", p.MaxDepth != nil, p.MaxDepth)
	put("group_concurrency", p.GroupConcurrency != nil, p.GroupConcurrency)
	put("group_rate", p.GroupRate != nil, p.GroupRate)
	put("max_attempts", p.MaxAttempts != nil, p.MaxAttempts)
	put("backoff", p.Backoff != nil, p.Backoff)
	put("lease_ms", p.LeaseMs != nil, p.LeaseMs)
	put("retention", p.Retention != nil, p.Retention)
	put("timeout_ms", p.TimeoutMs != nil, p.TimeoutMs)
	put("job_events", p.JobEvents != nil, p.JobEvents)
	for _, name := range p.Clear {
		m[name] = nil
	}
	return json.Marshal(m)
}

// DrainResult is the answer of a drain: More when jobs remain (call again).
type DrainResult struct {
	Cancelled int  `json:"cancelled"`
	More      bool `json:"more"`
}

// QueueDeleteResult is the answer of a queue delete: Deleted false means
// ended jobs remain (call again).
type QueueDeleteResult struct {
	Deleted bool `json:"deleted"`
	Purged  int  `json:"purged"`
}

// RegisteredWorker is an entry of the worker registry (GET /v1/workers).
type RegisteredWorker struct {
	ID                string      `json:"id"`
	Info              *WorkerInfo `json:"info"`
	Queues            []string    `json:"queues"`
	FirstSeen         time.Time   `json:"first_seen"`
	LastSeen          time.Time   `json:"last_seen"`
	InFlight          []string    `json:"in_flight"`
	InFlightTruncated bool        `json:"in_flight_truncated"`
	Completed         int64       `json:"completed"`
	Failed            int64       `json:"failed"`
	Health            string      `json:"health"` // healthy, stale, lost
	LeasePeriodMs     int64       `json:"lease_period_ms"`
}

// Key is an API key object (never its secret).
type Key struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Tenant             string     `json:"tenant"`
	Scopes             []string   `json:"scopes"`
	State              string     `json:"state"` // active, revoked, expired
	CreatedAt          time.Time  `json:"created_at"`
	ExpiresAt          *time.Time `json:"expires_at"`
	RevokedAt          *time.Time `json:"revoked_at"`
	RotatedAt          *time.Time `json:"rotated_at"`
	PreviousValidUntil *time.Time `json:"previous_valid_until"`
	RateLimit          *Rate      `json:"rate_limit"`
	CreatedBy          string     `json:"created_by"`
}

// KeyCreate is the body of POST /v1/keys. Name and Scopes are required.
type KeyCreate struct {
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant,omitempty"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RateLimit *Rate      `json:"rate_limit,omitempty"`
}

// KeyWithSecret is a key and its secret, answered by create and rotate only.
type KeyWithSecret struct {
	Key    *Key   `json:"key"`
	Secret string `json:"secret"`
}

// AuditEntry is a row of the audit log.
type AuditEntry struct {
	ID        string          `json:"id"`
	At        time.Time       `json:"at"`
	KeyID     string          `json:"key_id"`
	Tenant    string          `json:"tenant"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	RequestID string          `json:"request_id"`
	Status    int             `json:"status"`
	Code      string          `json:"code"`
	Detail    json.RawMessage `json:"detail"`
	Count     int64           `json:"count"`
}

// TimerDeferred says a timer's fire is held back by a full queue.
type TimerDeferred struct {
	Reason  string    `json:"reason"`
	Count   int64     `json:"count"`
	RetryAt time.Time `json:"retry_at"`
}

// Timer is the timer object.
type Timer struct {
	Key         string          `json:"key"`
	Version     int64           `json:"version"`
	State       string          `json:"state"` // scheduled, fired, cancelled
	FireAt      time.Time       `json:"fire_at"`
	Queue       string          `json:"queue"`
	Type        string          `json:"type"`
	Payload     json.RawMessage `json:"payload"`
	Priority    string          `json:"priority"`
	MaxAttempts int             `json:"max_attempts"`
	Backoff     *Backoff        `json:"backoff"`
	LeaseMs     int64           `json:"lease_ms"`
	Group       string          `json:"group"`
	JobID       string          `json:"job_id"`
	FiredAt     *time.Time      `json:"fired_at"`
	Deferred    *TimerDeferred  `json:"deferred"`
	RequestID   string          `json:"request_id"`
	CreatedAt   *time.Time      `json:"created_at"`
	UpdatedAt   *time.Time      `json:"updated_at"`
}

// TimerPut creates or moves a timer: Queue, Type and exactly one of FireAt
// and DelayMs. IfVersion is a compare-and-set (Ptr(int64(0)): create only).
type TimerPut struct {
	Queue     string          `json:"queue"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	FireAt    *time.Time      `json:"fire_at,omitempty"`
	DelayMs   *int64          `json:"delay_ms,omitempty"`
	IfVersion *int64          `json:"if_version,omitempty"`
	// IfScheduled: only while the timer's current version is still
	// scheduled (a fired or cancelled one is 409 invalid_state).
	IfScheduled bool     `json:"if_scheduled,omitempty"`
	Priority    string   `json:"priority,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"`
	Backoff     *Backoff `json:"backoff,omitempty"`
	LeaseMs     int64    `json:"lease_ms,omitempty"`
	Group       string   `json:"group,omitempty"`
}

// CronJobTemplate is the job a schedule enqueues at each tick.
type CronJobTemplate struct {
	Queue       string          `json:"queue"`
	Type        string          `json:"type"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	Priority    string          `json:"priority,omitempty"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
	Backoff     *Backoff        `json:"backoff,omitempty"`
	LeaseMs     int64           `json:"lease_ms,omitempty"`
	TimeoutMs   int64           `json:"timeout_ms,omitempty"`
	Group       string          `json:"group,omitempty"`
}

// CronPut is the definition of a schedule (PUT /v1/cron/{key}). Cron and
// Job are required.
type CronPut struct {
	Cron            string          `json:"cron"`
	Job             CronJobTemplate `json:"job"`
	Timezone        string          `json:"timezone,omitempty"`
	Enabled         *bool           `json:"enabled,omitempty"`
	Owner           string          `json:"owner,omitempty"`
	Description     string          `json:"description,omitempty"`
	Overlap         string          `json:"overlap,omitempty"` // skip, allow, buffer_one, replace
	Misfire         string          `json:"misfire,omitempty"` // fire_once, skip, fire_all
	CatchupWindowMs *int64          `json:"catchup_window_ms,omitempty"`
	CatchupMax      int             `json:"catchup_max,omitempty"`
	DstGap          string          `json:"dst_gap,omitempty"`  // shift, skip
	DstFold         string          `json:"dst_fold,omitempty"` // first, last, both
	HistoryMax      int             `json:"history_max,omitempty"`
}

// CronEntry is one schedule of a registry document.
type CronEntry struct {
	Key string `json:"key"`
	CronPut
}

// CronRegistry is the body of PUT /v1/cron.
type CronRegistry struct {
	Schedules []CronEntry `json:"schedules"`
	Prune     bool        `json:"prune,omitempty"`
}

// CronApplyResult lists what a registry apply did, by key.
type CronApplyResult struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Unchanged []string `json:"unchanged"`
	Deleted   []string `json:"deleted"`
}

// CronRun is one run of a schedule.
type CronRun struct {
	ID          string          `json:"id"`
	Key         string          `json:"key"`
	ScheduledAt *time.Time      `json:"scheduled_at"`
	FiredAt     *time.Time      `json:"fired_at"`
	Trigger     string          `json:"trigger"` // schedule, catchup, manual
	JobID       string          `json:"job_id"`
	Status      string          `json:"status"`
	Reason      string          `json:"reason"`
	RequestedBy string          `json:"requested_by"`
	Payload     json.RawMessage `json:"payload"`
	StartedAt   *time.Time      `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	DurationMs  *int64          `json:"duration_ms"`
	Summary     string          `json:"summary"`
	Error       string          `json:"error"`
}

// CronSchedule is the schedule object.
type CronSchedule struct {
	Key             string          `json:"key"`
	Cron            string          `json:"cron"`
	Timezone        string          `json:"timezone"`
	Enabled         bool            `json:"enabled"`
	Owner           string          `json:"owner"`
	Description     string          `json:"description"`
	Job             CronJobTemplate `json:"job"`
	Overlap         string          `json:"overlap"`
	Misfire         string          `json:"misfire"`
	CatchupWindowMs int64           `json:"catchup_window_ms"`
	CatchupMax      int             `json:"catchup_max"`
	DstGap          string          `json:"dst_gap"`
	DstFold         string          `json:"dst_fold"`
	HistoryMax      int             `json:"history_max"`
	Paused          bool            `json:"paused"`
	PauseNote       string          `json:"pause_note"`
	NextFireAt      *time.Time      `json:"next_fire_at"`
	Version         int64           `json:"version"`
	CreatedAt       *time.Time      `json:"created_at"`
	UpdatedAt       *time.Time      `json:"updated_at"`
	LastRun         *CronRun        `json:"last_run"`
	LastStatus      string          `json:"last_status"`
}

// CronRunRequest is the optional body of a manual run.
type CronRunRequest struct {
	Force   bool            `json:"force,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"` // an object merged into the template's payload
}

// CronPreviewRequest asks for the next fires of an expression.
type CronPreviewRequest struct {
	Cron     string     `json:"cron"`
	Timezone string     `json:"timezone,omitempty"`
	Count    int        `json:"count,omitempty"`
	From     *time.Time `json:"from,omitempty"`
	DstGap   string     `json:"dst_gap,omitempty"`
	DstFold  string     `json:"dst_fold,omitempty"`
	Key      string     `json:"key,omitempty"`
}

// CronPreview is the answer of a preview; Error is set when !Valid.
type CronPreview struct {
	Valid         bool        `json:"valid"`
	Error         *ErrorBody  `json:"error"`
	Description   string      `json:"description"`
	Fires         []time.Time `json:"fires"`
	MinIntervalMs *int64      `json:"min_interval_ms"`
	FloorMs       int64       `json:"floor_ms"`
	BelowFloor    bool        `json:"below_floor"`
	HSeed         string      `json:"h_seed"`
}

// ErrorBody is the error object inside an answer that is not itself an
// error (a preview of an invalid expression, a refused settle item).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// Stats is the answer of GET /v1/stats: the series of Queue (nil: every
// queue of the tenant) in steps of StepMs from From to To.
type Stats struct {
	Queue    *string      `json:"queue"`
	WindowMs int64        `json:"window_ms"`
	StepMs   int64        `json:"step_ms"`
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	SampleMs int64        `json:"sample_ms"`
	Points   []StatsPoint `json:"points"`
}

// StatsPoint is one step of a Stats series. Failed is Retried + Dead;
// Expired leases are also counted as Retried or Dead. Depth (jobs not yet
// ended) and Running are the largest samples of the step, nil where the
// leader took none.
type StatsPoint struct {
	At        time.Time `json:"at"`
	Enqueued  int64     `json:"enqueued"`
	Started   int64     `json:"started"`
	Completed int64     `json:"completed"`
	Failed    int64     `json:"failed"`
	Retried   int64     `json:"retried"`
	Dead      int64     `json:"dead"`
	Cancelled int64     `json:"cancelled"`
	Expired   int64     `json:"expired"`
	Depth     *int64    `json:"depth"`
	Running   *int64    `json:"running"`
}

// Scheduler is the answer of GET /v1/scheduler.
type Scheduler struct {
	Node           string           `json:"node"`
	Role           string           `json:"role"`
	Leader         string           `json:"leader"`
	Epoch          int64            `json:"epoch"`
	LeaseUntil     *time.Time       `json:"lease_until"`
	HeartbeatAt    *time.Time       `json:"heartbeat_at"`
	HeartbeatAgeMs int64            `json:"heartbeat_age_ms"`
	LagMs          int64            `json:"lag_ms"`
	LastTickAt     *time.Time       `json:"last_tick_at"`
	TickLagMs      int64            `json:"tick_lag_ms"`
	NextDeadlineAt *time.Time       `json:"next_deadline_at"`
	NextDueAt      *time.Time       `json:"next_due_at"`
	TickRunning    bool             `json:"tick_running"`
	Fenced         int64            `json:"fenced"`
	Notifications  string           `json:"notifications"`
	Schedules      int64            `json:"schedules"`
	Due            int64            `json:"due"`
	Skipped        map[string]int64 `json:"skipped"`
}

// Health is the answer of /healthz.
type Health struct {
	Status string `json:"status"`
}

// Ready is the answer of /readyz.
type Ready struct {
	Status string `json:"status"` // ready, stopping
	Store  string `json:"store"`
	Node   string `json:"node"`
	Role   string `json:"role"`
	Leader string `json:"leader"`
	Epoch  int64  `json:"epoch"`
}

// ListOptions page a list: PageSize is each page's limit (server default
// 100), After resumes after a cursor a previous iterator gave.
type ListOptions struct {
	PageSize int
	After    string
}
