// driver.go: the one command. It plays the draft service's front end and its
// users: it creates the drafts and their clocks, runs the worker process,
// makes the users' picks against the clocks (each one a compare-and-set on
// the clock's version), kills the worker mid-draft and starts a new one, and
// finally hands everything to the checks (checks.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

type config struct {
	url, key              string
	drafts, teams, rounds int
	clock                 time.Duration
	stateDir              string
	concurrency           int
	leaseMs               int64
	killAt                float64
	down                  time.Duration
	sabotage              string
	seed                  int64
	timeout               time.Duration
	poll                  time.Duration
	publish               time.Duration
	stall                 time.Duration
}

// UserPut is one user pick the driver sent: a PUT of the clock to "now"
// with if_version = the version the user saw on the clock.
type UserPut struct {
	Draft      string
	Pick       int
	From       int64
	Deadline   time.Time // fire_at of version From
	Kind       string    // "early", "buzzer", "late": when the user meant to pick
	SentAt     time.Time
	OK         bool
	Code       string // the error code of a refusal
	Err        string
	NewVersion int64
	FireAt     time.Time // batond's instant of the PUT: the delivered job's timer.fire_at
}

type proc struct {
	id   string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process was reaped
	log  string
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

type driver struct {
	cfg   config
	c     *baton.Client
	tag   string
	queue string
	ids   []string
	store Store

	mu      sync.Mutex
	rng     *rand.Rand
	seen    map[string]bool
	users   []UserPut
	pending map[*time.Timer]bool
	sends   sync.WaitGroup

	workers             []*proc
	started             time.Time
	killedAt, restartAt time.Time
	atKill              progress
	inFlightAtKill      int
	endedBy             string
}

type progress struct {
	picks, done, inProgress, notStarted int
}

func runDriver(args []string) (bool, error) {
	fs := flag.NewFlagSet("draft", flag.ExitOnError)
	var cfg config
	short := fs.Bool("short", false, "the short version: 60 drafts of 6 teams x 2 rounds, a 1 s clock")
	fs.StringVar(&cfg.url, "url", os.Getenv("BATON_URL"), "batond base URL (BATON_URL)")
	keyFile := fs.String("key-file", "", "read the API key from this file (default: BATON_KEY)")
	fs.IntVar(&cfg.drafts, "drafts", 1000, "drafts run at once")
	fs.IntVar(&cfg.teams, "teams", 8, "teams per draft")
	fs.IntVar(&cfg.rounds, "rounds", 4, "rounds per draft")
	fs.DurationVar(&cfg.clock, "clock", 3*time.Second, "the pick clock")
	fs.StringVar(&cfg.stateDir, "state", "", "directory for the drafts' state files (default: a new temporary one)")
	fs.IntVar(&cfg.concurrency, "concurrency", 128, "the worker's concurrency")
	fs.Int64Var(&cfg.leaseMs, "lease-ms", 2000, "lease of the clock jobs (a killed worker's jobs run again after it)")
	fs.Float64Var(&cfg.killAt, "kill-at", 0.4, "SIGKILL the worker once this share of all picks is made")
	fs.DurationVar(&cfg.down, "down", 0, "how long no worker runs after the kill (default 1.5 clocks)")
	fs.DurationVar(&cfg.publish, "publish", 20*time.Millisecond, "the worker's simulated time to publish a pick before arming the next clock")
	fs.StringVar(&cfg.sabotage, "sabotage", "", `break the example on purpose: "fence" (no pick-number fence) or "cas" (no compare-and-set)`)
	fs.Int64Var(&cfg.seed, "seed", 0, "random seed of the users (default: from the time)")
	fs.DurationVar(&cfg.stall, "stall", 0, "stop waiting when no pick was made for this long (default 5 clocks + the lease + 3 s)")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "give up waiting for the drafts after this (default: 4x the expected time + 30 s)")
	_ = fs.Parse(args)
	if *short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["drafts"] {
			cfg.drafts = 60
		}
		if !set["teams"] {
			cfg.teams = 6
		}
		if !set["rounds"] {
			cfg.rounds = 2
		}
		if !set["clock"] {
			cfg.clock = time.Second
		}
	}
	cfg.key = os.Getenv("BATON_KEY")
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return false, err
		}
		cfg.key = strings.TrimSpace(string(b))
	}
	if cfg.url == "" {
		return false, errors.New("give batond's URL with -url or BATON_URL (and the admin key in BATON_KEY or -key-file)")
	}
	if cfg.sabotage != "" && cfg.sabotage != "fence" && cfg.sabotage != "cas" {
		return false, fmt.Errorf("-sabotage: %q is not fence or cas", cfg.sabotage)
	}
	if cfg.clock < 500*time.Millisecond || cfg.drafts < 1 || cfg.teams < 2 || cfg.rounds < 1 {
		return false, errors.New("need -clock >= 500ms, -drafts >= 1, -teams >= 2, -rounds >= 1")
	}
	if cfg.down == 0 {
		cfg.down = cfg.clock * 3 / 2
	}
	if cfg.seed == 0 {
		cfg.seed = time.Now().UnixNano()
	}
	picks := cfg.teams * cfg.rounds
	if cfg.timeout == 0 {
		cfg.timeout = 4*time.Duration(picks)*cfg.clock + 30*time.Second
	}
	cfg.poll = cfg.clock / 10
	if cfg.drafts > 200 {
		cfg.poll = cfg.clock / 8
	}

	d := &driver{cfg: cfg, c: baton.NewClient(cfg.url, cfg.key), rng: rand.New(rand.NewSource(cfg.seed)),
		seen: map[string]bool{}, pending: map[*time.Timer]bool{}}
	d.tag = strconv.FormatInt(time.Now().UnixMilli()%(36*36*36*36*36*36), 36)
	d.queue = "draft-" + d.tag
	if cfg.stateDir == "" {
		dir, err := os.MkdirTemp("", "draft-"+d.tag+"-")
		if err != nil {
			return false, err
		}
		cfg.stateDir = dir
		d.cfg.stateDir = dir
	} else if err := os.MkdirAll(cfg.stateDir, 0o755); err != nil {
		return false, err
	}
	d.store = Store{Dir: cfg.stateDir}
	for i := 1; i <= cfg.drafts; i++ {
		d.ids = append(d.ids, fmt.Sprintf("%s-%04d", d.tag, i))
	}
	defer d.killAll()
	if err := d.run(); err != nil {
		return false, err
	}
	return d.check(), nil
}

func (d *driver) run() error {
	ctx := context.Background()
	cfg := d.cfg
	total := cfg.drafts * cfg.teams * cfg.rounds
	mode := ""
	if cfg.sabotage != "" {
		mode = "  SABOTAGED: " + map[string]string{"fence": "the worker applies every job, without the pick-number fence",
			"cas": "user picks and the worker move the clock without compare-and-set"}[cfg.sabotage]
	}
	fmt.Printf("draft: %d drafts x %d teams x %d rounds = %d picks, pick clock %v, seed %d%s\n",
		cfg.drafts, cfg.teams, cfg.rounds, total, cfg.clock, cfg.seed, mode)
	fmt.Printf("  run %s: queue %s, clocks draft:%s-NNNN:clock, groups draft:%s-NNNN, state files in %s\n",
		d.tag, d.queue, d.tag, d.tag, cfg.stateDir)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := d.c.UpdateQueue(ctx, d.queue, baton.QueuePatch{GroupConcurrency: baton.Ptr(int64(1))}); err != nil {
		return fmt.Errorf("setting group_concurrency 1 on %s: %w", d.queue, err)
	}
	w1, err := d.startWorker(exe, "w1")
	if err != nil {
		return err
	}
	fmt.Printf("  worker w1 started (pid %d, concurrency %d, log %s)\n", w1.cmd.Process.Pid, cfg.concurrency, w1.log)

	d.started = time.Now()
	if err := d.setup(ctx); err != nil {
		return err
	}
	fmt.Printf("  %d clocks armed for pick 1 in %v (PUT /v1/timers/{key} with if_version 0)\n",
		cfg.drafts, time.Since(d.started).Round(time.Millisecond))

	userCtx, stopUsers := context.WithCancel(ctx)
	defer stopUsers()
	usersDone := make(chan struct{})
	go func() { d.playUsers(userCtx); close(usersDone) }()

	deadline := d.started.Add(cfg.timeout)
	stallFor := cfg.stall
	if stallFor == 0 {
		stallFor = 5*cfg.clock + time.Duration(cfg.leaseMs)*time.Millisecond + 3*time.Second
	}
	last, lastChange, lastPrint := -1, time.Now(), time.Now()
	killed := false
	for {
		time.Sleep(250 * time.Millisecond)
		pr := d.progress()
		if pr.picks != last {
			last, lastChange = pr.picks, time.Now()
		}
		if time.Since(lastPrint) >= 2*time.Second {
			lastPrint = time.Now()
			ok, refused := d.userCounts()
			fmt.Printf("  %5.1fs  picks %d/%d, drafts done %d/%d, user picks accepted %d, refused %d\n",
				time.Since(d.started).Seconds(), pr.picks, total, pr.done, cfg.drafts, ok, refused)
		}
		if !killed && float64(pr.picks) >= cfg.killAt*float64(total) {
			killed = true
			d.atKill = pr
			// Kill it mid-job: wait (at most 3 s) until the registry shows
			// it holding leases, then kill it at once.
			for t0 := time.Now(); time.Since(t0) < 3*time.Second; time.Sleep(5 * time.Millisecond) {
				if rw, err := d.c.GetWorker(ctx, d.tag+"-w1"); err == nil && len(rw.InFlight) > 0 {
					d.inFlightAtKill = len(rw.InFlight)
					break
				}
			}
			d.killedAt = time.Now()
			if err := w1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				return err
			}
			<-w1.done
			fmt.Printf("  %5.1fs  SIGKILL worker w1 (pid %d) holding %d jobs: %d/%d picks made, %d drafts in progress, %d done\n",
				time.Since(d.started).Seconds(), w1.cmd.Process.Pid, d.inFlightAtKill, pr.picks, total, pr.inProgress, pr.done)
			time.Sleep(cfg.down)
			w2, err := d.startWorker(exe, "w2")
			if err != nil {
				return err
			}
			d.restartAt = time.Now()
			fmt.Printf("  %5.1fs  worker w2 started (pid %d) after %v without a worker\n",
				time.Since(d.started).Seconds(), w2.cmd.Process.Pid, d.restartAt.Sub(d.killedAt).Round(time.Millisecond))
			lastChange = time.Now()
		}
		if pr.done == cfg.drafts {
			d.endedBy = "all drafts done"
			break
		}
		if time.Since(lastChange) > stallFor {
			d.endedBy = fmt.Sprintf("no pick for %v", stallFor.Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			d.endedBy = fmt.Sprintf("timeout after %v", cfg.timeout)
			break
		}
	}
	stopUsers()
	<-usersDone
	d.mu.Lock()
	for t := range d.pending {
		if t.Stop() {
			d.sends.Done()
		}
	}
	d.mu.Unlock()
	d.sends.Wait()
	pr := d.progress()
	fmt.Printf("  %5.1fs  %s: picks %d/%d, drafts done %d/%d\n", time.Since(d.started).Seconds(), d.endedBy,
		pr.picks, total, pr.done, cfg.drafts)

	// Let the jobs still queued (user picks that lost the race) be handled.
	settleBy := time.Now().Add(5 * time.Second)
	for time.Now().Before(settleBy) {
		q, err := d.c.GetQueue(ctx, d.queue)
		if err == nil && q.Depth == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range d.workers {
		d.stopWorker(p)
	}
	return nil
}

func (d *driver) startWorker(exe, id string) (*proc, error) {
	p := &proc{id: id, done: make(chan struct{}), log: filepath.Join(d.cfg.stateDir, "worker-"+id+".log")}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(exe, "worker", "-url", d.cfg.url, "-queue", d.queue, "-state", d.cfg.stateDir,
		"-concurrency", strconv.Itoa(d.cfg.concurrency), "-lease-ms", strconv.FormatInt(d.cfg.leaseMs, 10),
		"-id", d.tag+"-"+id, "-sabotage", d.cfg.sabotage, "-publish", d.cfg.publish.String())
	p.cmd.Env = append(os.Environ(), "BATON_KEY="+d.cfg.key, "BATON_URL="+d.cfg.url)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	d.workers = append(d.workers, p)
	return p, nil
}

// stopWorker ends a worker gracefully (SIGTERM: it settles what it holds),
// or with SIGKILL after 10 s.
func (d *driver) stopWorker(p *proc) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// killAll stops every worker this driver started that still runs (by pid).
func (d *driver) killAll() {
	for _, p := range d.workers {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
}

// setup writes each draft's state and arms its clock for pick 1. The state
// is written first with the arming pending, so a worker that meets the
// draft before the driver confirmed it finishes the arming itself.
func (d *driver) setup(ctx context.Context) error {
	ids := make(chan string)
	errc := make(chan error, 32)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if err := d.setupOne(ctx, id); err != nil {
					select {
					case errc <- fmt.Errorf("setting up %s: %w", id, err):
					default:
					}
				}
			}
		}()
	}
	for _, id := range d.ids {
		ids <- id
	}
	close(ids)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (d *driver) setupOne(ctx context.Context, id string) error {
	s := &State{Draft: id, Teams: d.cfg.teams, Rounds: d.cfg.rounds, ClockMs: d.cfg.clock.Milliseconds(),
		Next: 1, Pending: true, Picks: []Pick{}, Arms: []Arm{{Pick: 1, From: 0}}}
	if err := d.store.Save(s); err != nil {
		return err
	}
	put := clockTemplate(d.queue, TypeAutopick, id, Payload{Draft: id, Pick: 1, By: ByAuto}, d.cfg.leaseMs)
	put.DelayMs = baton.Ptr(d.cfg.clock.Milliseconds())
	put.IfVersion = baton.Ptr(int64(0))
	t, err := d.c.PutTimer(ctx, clockKey(id), put)
	if err != nil {
		return err
	}
	// The worker may have confirmed it already (if the clock ran out first):
	// write only if the state is still as written above.
	cur, err := d.store.Load(id)
	if err != nil {
		return err
	}
	if cur.Pending && len(cur.Arms) == 1 {
		cur.Arms[0] = Arm{Pick: 1, From: 0, Version: t.Version, FireAt: t.FireAt, How: "setup"}
		cur.Pending = false
		return d.store.Save(cur)
	}
	return nil
}

// progress reads every draft's state file.
func (d *driver) progress() progress {
	var pr progress
	for _, id := range d.ids {
		s, err := d.store.Load(id)
		if err != nil {
			pr.notStarted++
			continue
		}
		pr.picks += len(s.Picks)
		switch {
		case s.Done():
			pr.done++
		case len(s.Picks) == 0:
			pr.notStarted++
		default:
			pr.inProgress++
		}
	}
	return pr
}

func (d *driver) userCounts() (ok, refused int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.users {
		if u.OK {
			ok++
		} else {
			refused++
		}
	}
	return
}

// playUsers plays the drafters. It watches the clocks as a draft room's screen
// would (GET /v1/timers?prefix=...) and, for each clock version it sees
// running, decides once whether the team's user picks and when: early
// (10-80% into the clock), at the buzzer (10 ms before to 20 ms after the
// deadline) or late (30 ms to a third of a clock after it); otherwise the
// clock runs out and the worker autopicks. A user pick is a PUT of the clock
// with if_version = the version seen, fire_at now, and the pick in the
// payload: the compare-and-set decides the race with the clock's own moves.
func (d *driver) playUsers(ctx context.Context) {
	prefix := "draft:" + d.tag + "-"
	t := time.NewTicker(d.cfg.poll)
	defer t.Stop()
	for {
		it := d.c.ListTimers(ctx, baton.TimerListOptions{Prefix: prefix, ListOptions: baton.ListOptions{PageSize: 1000}})
		for it.Next() {
			d.consider(ctx, it.Item())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *driver) consider(ctx context.Context, t *baton.Timer) {
	if t.State != "scheduled" || t.Type != TypeAutopick {
		return
	}
	var p Payload
	if err := jsonUnmarshal(t.Payload, &p); err != nil || p.By != ByAuto {
		return
	}
	seenKey := t.Key + "#" + strconv.FormatInt(t.Version, 10)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen[seenKey] {
		return
	}
	d.seen[seenKey] = true
	clock := d.cfg.clock
	start := t.FireAt.Add(-clock)
	r := d.rng.Float64()
	var at time.Time
	var kind string
	switch {
	case r < 0.45:
		kind, at = "early", start.Add(time.Duration((0.1+0.7*d.rng.Float64())*float64(clock)))
	case r < 0.55:
		kind, at = "buzzer", t.FireAt.Add(-10*time.Millisecond+time.Duration(d.rng.Int63n(int64(30*time.Millisecond))))
	case r < 0.62:
		kind, at = "late", t.FireAt.Add(30*time.Millisecond+time.Duration(d.rng.Int63n(int64(clock/3))))
	default:
		return
	}
	total := d.cfg.teams * d.cfg.rounds
	wish := make([]int, 4)
	for i := range wish {
		wish[i] = 1 + d.rng.Intn(total*3/2)
	}
	u := UserPut{Draft: p.Draft, Pick: p.Pick, From: t.Version, Deadline: t.FireAt, Kind: kind}
	d.sends.Add(1)
	var tm *time.Timer
	tm = time.AfterFunc(time.Until(at), func() {
		defer d.sends.Done()
		d.mu.Lock()
		delete(d.pending, tm)
		d.mu.Unlock()
		d.sendPick(ctx, u, wish)
	})
	d.pending[tm] = true
}

func (d *driver) sendPick(ctx context.Context, u UserPut, wish []int) {
	deadline := u.Deadline
	put := clockTemplate(d.queue, TypePick, u.Draft, Payload{Draft: u.Draft, Pick: u.Pick, By: ByUser,
		From: u.From, Deadline: &deadline, Wishlist: wish}, d.cfg.leaseMs)
	put.DelayMs = baton.Ptr(int64(0))
	if d.cfg.sabotage != "cas" {
		// The clock the user saw, and only while it has not fired: a pick
		// that comes after the clock ran out is refused (409) instead of
		// making a second job the fence has to reject.
		put.IfVersion = baton.Ptr(u.From)
		put.IfScheduled = true
	}
	u.SentAt = time.Now()
	t, err := d.c.PutTimer(context.Background(), clockKey(u.Draft), put)
	if err != nil {
		var be *baton.Error
		if errors.As(err, &be) {
			u.Code = be.Code
		}
		u.Err = err.Error()
	} else {
		u.OK, u.NewVersion, u.FireAt = true, t.Version, t.FireAt
	}
	d.mu.Lock()
	d.users = append(d.users, u)
	d.mu.Unlock()
}

// percentile of sorted durations (nearest rank).
func percentile(v []time.Duration, q float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	i := int(q*float64(len(v))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(v) {
		i = len(v) - 1
	}
	return v[i]
}
