// worker.go: `draft worker`, the process that makes the picks. It runs a
// baton Worker on the run's queue; every job it gets is a firing of a draft's
// clock timer: an autopick (the clock ran out) or a user's pick (delivered by
// moving the clock to "now"). For each job, serialized per draft by the group:
//
//  1. load the draft's state; finish a pending arming left by a killed attempt;
//  2. the fence: a job whose pick is not the pick on the clock changes
//     nothing (a stale autopick or a user pick that lost the race), unless it
//     is this very job redelivered after it applied its pick (it is then
//     answered as applied again, "recovered");
//  3. choose the player (a user pick that reached batond at or after the
//     clock's deadline is an autopick: the timeout wins);
//  4. write the pick and the arming of the next clock as pending, durably,
//     and publish the pick (simulated by a sleep of -publish);
//  5. arm the clock for the next pick with a compare-and-set on the version
//     that fired this job, and write the arming as confirmed;
//  6. complete the job with what it did.
//
// A kill -9 anywhere leaves a state the next attempt finishes: before 4 the
// job is simply run again; after 4 the pending arming is redone in 1 (a
// version_mismatch there means the killed attempt's PUT got through, and
// the clock's payload says so) and the job is recognized in 2.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

// Names of a draft in batond.
func clockKey(draft string) string { return "draft:" + draft + ":clock" }
func groupOf(draft string) string  { return "draft:" + draft }

// clockTemplate is the job template of every version of a clock.
func clockTemplate(queue, typ, draft string, p Payload, leaseMs int64) baton.TimerPut {
	raw, _ := json.Marshal(p)
	return baton.TimerPut{
		Queue: queue, Type: typ, Payload: raw, Group: groupOf(draft),
		MaxAttempts: 25, LeaseMs: leaseMs,
		Backoff: &baton.Backoff{Type: "fixed", BaseMs: baton.Ptr(int64(200))},
	}
}

type worker struct {
	c       *baton.Client
	store   Store
	queue   string
	leaseMs int64
	noFence bool // sabotage: apply every job, whatever its pick number
	noCAS   bool // sabotage: arm the clock without if_version
	publish time.Duration

	applied, stale, recovered, armed, adopted atomic.Int64
}

func runWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	url := fs.String("url", os.Getenv("BATON_URL"), "batond base URL")
	queue := fs.String("queue", "", "the run's queue")
	dir := fs.String("state", "", "directory of the drafts' state files")
	conc := fs.Int("concurrency", 128, "jobs run at once")
	leaseMs := fs.Int64("lease-ms", 2000, "lease of the clock jobs")
	id := fs.String("id", "", "worker id")
	sabotage := fs.String("sabotage", "", "fence | cas: break the example on purpose")
	publish := fs.Duration("publish", 20*time.Millisecond, "simulated time to publish a pick's event, between recording it and arming the next clock")
	_ = fs.Parse(args)
	if *queue == "" || *dir == "" || *url == "" {
		return fmt.Errorf("worker needs -url, -queue and -state")
	}
	w := &worker{
		c:     baton.NewClient(*url, os.Getenv("BATON_KEY")),
		store: Store{Dir: *dir}, queue: *queue, leaseMs: *leaseMs,
		noFence: *sabotage == "fence", noCAS: *sabotage == "cas", publish: *publish,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	bw := baton.NewWorker(w.c, baton.WorkerOptions{
		Queue: *queue, Concurrency: *conc, ID: *id, WaitMs: 1000, Handler: w.handle,
		OnEvent: func(e baton.Event) {
			if e.Type == baton.EventError || e.Type == baton.EventFailed || e.Type == baton.EventLeaseLost {
				jid := ""
				if e.Job != nil {
					jid = e.Job.ID
				}
				log.Printf("worker %s: %s job %s: %v", *id, e.Type, jid, e.Err)
			}
		},
	})
	log.Printf("worker %s: pid %d, queue %s, concurrency %d", *id, os.Getpid(), *queue, *conc)
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				log.Printf("worker %s: applied %d, stale %d, recovered %d, armed %d (adopted %d)", *id,
					w.applied.Load(), w.stale.Load(), w.recovered.Load(), w.armed.Load(), w.adopted.Load())
			}
		}
	}()
	err := bw.Run(ctx)
	log.Printf("worker %s: stopped: applied %d, stale %d, recovered %d, armed %d (adopted %d)", *id,
		w.applied.Load(), w.stale.Load(), w.recovered.Load(), w.armed.Load(), w.adopted.Load())
	return err
}

func (w *worker) handle(ctx context.Context, job *baton.Job) (any, error) {
	var pl Payload
	if err := json.Unmarshal(job.Payload, &pl); err != nil || pl.Draft == "" || pl.Pick < 1 {
		return nil, baton.Unrecoverable(fmt.Errorf("job %s: not a draft payload: %s", job.ID, job.Payload))
	}
	if job.Timer == nil {
		return nil, baton.Unrecoverable(fmt.Errorf("job %s: not fired by a clock", job.ID))
	}
	s, err := w.store.Load(pl.Draft)
	if err != nil {
		return nil, err
	}
	if s.Pending {
		if err := w.arm(ctx, s); err != nil {
			return nil, err
		}
	}
	if !w.noFence {
		if p := s.PickByJob(job.ID); p != nil {
			w.recovered.Add(1)
			return Result{Applied: true, Draft: s.Draft, Pick: p.N, Player: p.Player, By: p.By, Why: p.Why,
				Recovered: true, Reason: "redelivered after its pick was applied"}, nil
		}
		if pl.Pick < s.Next {
			made := s.Picks[pl.Pick-1]
			w.stale.Add(1)
			return Result{Applied: false, Draft: s.Draft, Pick: pl.Pick,
				Reason: fmt.Sprintf("stale: pick %d was made already (%s, by job %s); the draft is at pick %d",
					pl.Pick, made.Why, made.Job, s.Next)}, nil
		}
		if pl.Pick > s.Next {
			return nil, baton.Unrecoverable(fmt.Errorf("pick %d is ahead of draft %s (at pick %d)", pl.Pick, s.Draft, s.Next))
		}
	} else if pl.Pick > s.Total() {
		return nil, baton.Unrecoverable(fmt.Errorf("pick %d is past the end of draft %s", pl.Pick, s.Draft))
	}

	by, why, lateMs := ByAuto, "clock", int64(0)
	if pl.By == ByUser {
		if pl.Deadline != nil && job.Timer.FireAt.Before(*pl.Deadline) {
			by, why = ByUser, "user"
		} else {
			why = "late user pick"
			if pl.Deadline != nil {
				lateMs = job.Timer.FireAt.Sub(*pl.Deadline).Milliseconds()
			}
		}
	}
	p := Pick{N: pl.Pick, Team: TeamOnClock(pl.Pick, s.Teams), Player: s.Choose(by, pl.Wishlist), By: by, Why: why,
		Job: job.ID, JobType: job.Type, Version: job.Timer.Version, At: time.Now().UTC(), LateMs: lateMs}
	s.Picks = append(s.Picks, p)
	s.Next = pl.Pick + 1
	if !s.Done() {
		s.Arms = append(s.Arms, Arm{Pick: s.Next, From: job.Timer.Version})
		s.Pending = true
	}
	if err := w.store.Save(s); err != nil {
		return nil, err
	}
	w.applied.Add(1)
	// The pick is recorded; announcing it to the draft room (seed 002's
	// publisher, simulated) takes a moment before the next clock is armed.
	time.Sleep(w.publish)
	if s.Pending {
		if err := w.arm(ctx, s); err != nil {
			return nil, err
		}
	}
	return Result{Applied: true, Draft: s.Draft, Pick: p.N, Player: p.Player, By: p.By, Why: p.Why}, nil
}

// arm moves the clock for the pending arming (the last of s.Arms) with a
// compare-and-set on its From version, then confirms it in the ledger.
func (w *worker) arm(ctx context.Context, s *State) error {
	a := &s.Arms[len(s.Arms)-1]
	key := clockKey(s.Draft)
	for try := 0; ; try++ {
		if try == 4 {
			return fmt.Errorf("arming %s for pick %d: the clock kept moving", key, a.Pick)
		}
		put := clockTemplate(w.queue, TypeAutopick, s.Draft, Payload{Draft: s.Draft, Pick: a.Pick, By: ByAuto}, w.leaseMs)
		put.DelayMs = baton.Ptr(s.ClockMs)
		if !w.noCAS {
			put.IfVersion = baton.Ptr(a.From)
		}
		t, err := w.c.PutTimer(ctx, key, put)
		if err == nil {
			a.Version, a.FireAt, a.How = t.Version, t.FireAt, "put"
			break
		}
		if !baton.HasCode(err, "version_mismatch") {
			return err
		}
		cur, err := w.c.GetTimer(ctx, key)
		if err != nil {
			return err
		}
		var cp Payload
		_ = json.Unmarshal(cur.Payload, &cp)
		switch {
		case cur.Version > a.From && cp.By == ByAuto && cp.Pick == a.Pick:
			// A killed attempt armed it and died before writing so.
			a.Version, a.FireAt, a.How = cur.Version, cur.FireAt, "adopted"
			w.adopted.Add(1)
		case cur.Version > a.From && cp.By == ByUser && cp.Pick == a.Pick && cp.From > a.From && cp.Deadline != nil:
			// ... and a user has picked on that clock since.
			a.Version, a.FireAt, a.How = cp.From, *cp.Deadline, "adopted (a user pick moved it since)"
			w.adopted.Add(1)
		case cur.Version > a.From && cp.By == ByUser && cp.Pick < a.Pick:
			// A user pick for a pick already made moved the clock after
			// this job's version fired: let it fire (it will be fenced),
			// then arm over it.
			if cur.State == "scheduled" {
				return baton.RetryIn(100*time.Millisecond, fmt.Errorf("a stale user pick (version %d) is about to fire", cur.Version))
			}
			a.From = cur.Version
			continue
		default:
			return fmt.Errorf("arming %s for pick %d from version %d: the clock is at version %d (%s, %s pick %d)",
				key, a.Pick, a.From, cur.Version, cur.State, cp.By, cp.Pick)
		}
		break
	}
	s.Pending = false
	w.armed.Add(1)
	return w.store.Save(s)
}
