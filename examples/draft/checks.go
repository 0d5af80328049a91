// checks.go: what the run is judged on. Each claim is printed as [PASS] or
// [FAIL] with the figures it was judged on. The figures come from the
// drafts' ledger (the state files the worker wrote), from batond (every job
// of the run's queue with its attempts and result, every clock timer, the
// queue's settings) and from the driver's own log of the user picks it sent;
// never from what the example meant to do.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	baton "github.com/baton-dev/baton/clients/go"
)

func jsonUnmarshal(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return fmt.Errorf("empty")
	}
	return json.Unmarshal(raw, v)
}

type claimSet struct{ total, passed int }

func (c *claimSet) section(name string) { fmt.Printf("\n=== %s\n", name) }

func (c *claimSet) claim(text string, ok bool, detail string) bool {
	c.total++
	if ok {
		c.passed++
	}
	mark := "FAIL"
	if ok {
		mark = "PASS"
	}
	if detail != "" {
		fmt.Printf("  [%s] %s  (%s)\n", mark, text, detail)
	} else {
		fmt.Printf("  [%s] %s\n", mark, text)
	}
	return ok
}

func info(format string, a ...any) { fmt.Printf("  "+format+"\n", a...) }

// jobInfo is a job of the run with its payload and result decoded.
type jobInfo struct {
	j   *baton.Job
	pl  Payload
	res *Result
}

// firstBad collects a few examples of what failed a claim.
type firstBad struct {
	n     int
	lines []string
}

func (b *firstBad) add(format string, a ...any) {
	b.n++
	if len(b.lines) < 3 {
		b.lines = append(b.lines, fmt.Sprintf(format, a...))
	}
}

func (b *firstBad) String() string {
	if b.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d wrong, e.g. %s", b.n, strings.Join(b.lines, "; "))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func (d *driver) check() bool {
	ctx := context.Background()
	cfg := d.cfg
	T := cfg.teams * cfg.rounds
	c := &claimSet{}

	// Everything the claims are judged on, read once.
	states := map[string]*State{}
	for _, id := range d.ids {
		if s, err := d.store.Load(id); err == nil {
			states[id] = s
		}
	}
	var jobs []*jobInfo
	it := d.c.ListJobs(ctx, baton.JobFilter{Queue: d.queue, PageSize: 1000})
	for it.Next() {
		ji := &jobInfo{j: it.Item()}
		_ = jsonUnmarshal(ji.j.Payload, &ji.pl)
		var r Result
		if jsonUnmarshal(ji.j.Result, &r) == nil {
			ji.res = &r
		}
		jobs = append(jobs, ji)
	}
	if err := it.Err(); err != nil {
		fmt.Printf("reading the jobs of %s: %v\n", d.queue, err)
		return false
	}
	timers := map[string]*baton.Timer{}
	tit := d.c.ListTimers(ctx, baton.TimerListOptions{Prefix: "draft:" + d.tag + "-", ListOptions: baton.ListOptions{PageSize: 1000}})
	for tit.Next() {
		timers[tit.Item().Key] = tit.Item()
	}
	if err := tit.Err(); err != nil {
		fmt.Printf("reading the clocks: %v\n", err)
		return false
	}
	q, err := d.c.GetQueue(ctx, d.queue)
	if err != nil {
		fmt.Printf("reading queue %s: %v\n", d.queue, err)
		return false
	}
	d.mu.Lock()
	users := append([]UserPut(nil), d.users...)
	d.mu.Unlock()

	byID := map[string]*jobInfo{}
	byTimer := map[string][]*jobInfo{} // "key#version" -> jobs fired by it
	for _, ji := range jobs {
		byID[ji.j.ID] = ji
		if ji.j.Timer != nil {
			k := fmt.Sprintf("%s#%d", ji.j.Timer.Key, ji.j.Timer.Version)
			byTimer[k] = append(byTimer[k], ji)
		}
	}
	userFrom := map[string]*UserPut{} // "key#from" -> the accepted user pick that moved that version
	userCount := map[string]int{}     // draft -> accepted user picks
	for i := range users {
		u := &users[i]
		if u.OK {
			userFrom[fmt.Sprintf("%s#%d", clockKey(u.Draft), u.From)] = u
			userCount[u.Draft]++
		}
	}

	// ---- setup
	c.section("setup")
	gc := int64(0)
	if q.GroupConcurrency != nil {
		gc = *q.GroupConcurrency
	}
	c.claim(fmt.Sprintf("queue %s runs each draft's jobs one at a time: group_concurrency 1", d.queue), gc == 1,
		fmt.Sprintf("read back: group_concurrency %d", gc))
	created := 0
	for _, s := range states {
		if len(s.Arms) > 0 && s.Arms[0].Version == 1 && s.Arms[0].From == 0 {
			created++
		}
	}
	c.claim(fmt.Sprintf("%d clocks were created, each at version 1 by a create-only PUT (if_version 0)", cfg.drafts),
		created == cfg.drafts && len(timers) == cfg.drafts,
		fmt.Sprintf("%d ledgers start at version 1; batond lists %d clocks", created, len(timers)))

	// ---- the drafts, from the ledger
	c.section("the drafts (the worker's ledger)")
	done, picks := 0, 0
	for _, s := range states {
		picks += len(s.Picks)
		if s.Done() && len(s.Picks) == T {
			done++
		}
	}
	c.claim(fmt.Sprintf("all %d drafts completed all %d picks", cfg.drafts, T), done == cfg.drafts && len(states) == cfg.drafts,
		fmt.Sprintf("%d/%d drafts done, %d/%d picks made", done, cfg.drafts, picks, cfg.drafts*T))
	var order firstBad
	for _, id := range d.ids {
		s := states[id]
		if s == nil {
			order.add("%s: no state", id)
			continue
		}
		for i, p := range s.Picks {
			if p.N != i+1 {
				order.add("%s: entry %d is pick %d", id, i+1, p.N)
				break
			}
			if p.Team != TeamOnClock(p.N, s.Teams) {
				order.add("%s: pick %d by team %d, the snake order says %d", id, p.N, p.Team, TeamOnClock(p.N, s.Teams))
				break
			}
		}
		if len(s.Picks) > T {
			order.add("%s: %d picks for %d", id, len(s.Picks), T)
		}
	}
	c.claim(fmt.Sprintf("each draft's picks are 1..%d, each made exactly once and in order (no duplicate, no gap), by the snake order's team", T),
		order.n == 0, order.String())
	var players firstBad
	autoN, userN, lateN := 0, 0, 0
	for _, id := range d.ids {
		s := states[id]
		if s == nil {
			continue
		}
		taken := map[int]bool{}
		for _, p := range s.Picks {
			if taken[p.Player] || p.Player < 1 || p.Player > s.Players() {
				players.add("%s: pick %d took player %d again", id, p.N, p.Player)
				break
			}
			if p.By == ByAuto {
				best := 1
				for taken[best] {
					best++
				}
				if p.Player != best {
					players.add("%s: autopick %d took player %d, the best available was %d", id, p.N, p.Player, best)
					break
				}
				autoN++
				if p.Why == "late user pick" {
					lateN++
				}
			} else {
				userN++
			}
			taken[p.Player] = true
		}
	}
	c.claim("no player was drafted twice in a draft, and every autopick took the best-ranked player still available",
		players.n == 0, orDefault(players.String(), fmt.Sprintf("%d user picks, %d autopicks (%d of them on a user pick that came after the deadline)", userN, autoN, lateN)))

	// ---- the ledger against batond
	c.section("the ledger against batond's jobs")
	var match firstBad
	appliedBy := map[string][]string{} // "draft#pick" -> jobs whose result says applied
	for _, ji := range jobs {
		if ji.res != nil && ji.res.Applied {
			k := fmt.Sprintf("%s#%d", ji.res.Draft, ji.res.Pick)
			appliedBy[k] = append(appliedBy[k], ji.j.ID)
		}
	}
	ledgerPicks := 0
	for _, id := range d.ids {
		s := states[id]
		if s == nil {
			continue
		}
		for _, p := range s.Picks {
			ledgerPicks++
			ji := byID[p.Job]
			k := fmt.Sprintf("%s#%d", id, p.N)
			switch {
			case ji == nil:
				match.add("%s pick %d: job %s is not in batond", id, p.N, p.Job)
			case ji.j.State != baton.StateCompleted || ji.res == nil || !ji.res.Applied:
				match.add("%s pick %d: job %s is %s", id, p.N, p.Job, ji.j.State)
			case ji.res.Pick != p.N || ji.res.Player != p.Player || ji.res.By != p.By:
				match.add("%s pick %d: job %s's result is pick %d player %d by %s, the ledger's player %d by %s",
					id, p.N, p.Job, ji.res.Pick, ji.res.Player, ji.res.By, p.Player, p.By)
			case len(appliedBy[k]) != 1:
				match.add("%s pick %d: applied by jobs %v", id, p.N, appliedBy[k])
			}
		}
	}
	applied := 0
	for _, v := range appliedBy {
		applied += len(v)
	}
	if applied != ledgerPicks {
		match.add("%d jobs say they applied a pick, the ledger has %d picks", applied, ledgerPicks)
	}
	c.claim("every pick was made by exactly one job: the ledger's job for it completed in batond with that pick and player, and no other job's result applied a pick",
		match.n == 0, orDefault(match.String(), fmt.Sprintf("%d picks, %d applying jobs", ledgerPicks, applied)))
	states2 := map[string]int{}
	for _, ji := range jobs {
		states2[ji.j.State]++
	}
	c.claim("every job of the run ended completed: none dead, cancelled or unfinished",
		states2[baton.StateCompleted] == len(jobs) && len(jobs) > 0 && q.Depth == 0,
		fmt.Sprintf("%d jobs: %s; queue depth %d", len(jobs), fmtCounts(states2), q.Depth))

	// ---- serialization
	c.section("serialization: one job at a time per draft, drafts in parallel")
	var spans []span
	perGroup := map[string][]span{}
	expired := 0
	for _, ji := range jobs {
		for _, at := range ji.j.Attempts {
			if at.FinishedAt == nil {
				continue
			}
			sp := span{at.StartedAt, *at.FinishedAt, ji.j.Group}
			spans = append(spans, sp)
			perGroup[ji.j.Group] = append(perGroup[ji.j.Group], sp)
			if at.Outcome == "lease_expired" {
				expired++
			}
		}
	}
	var overlap firstBad
	for g, v := range perGroup {
		sort.Slice(v, func(i, j int) bool { return v[i].a.Before(v[j].a) })
		end := time.Time{}
		for _, sp := range v {
			if sp.a.Before(end) {
				overlap.add("%s: an attempt started %s before the previous one ended", g, ms(end.Sub(sp.a)))
				break
			}
			if sp.b.After(end) {
				end = sp.b
			}
		}
	}
	c.claim("no two jobs of one draft ever ran at once (batond's attempt times, the attempts the kill cut off included)",
		overlap.n == 0, orDefault(overlap.String(), fmt.Sprintf("%d attempts in %d groups, %d of them ended by lease expiry", len(spans), len(perGroup), expired)))
	peak := peakDistinct(spans)
	c.claim("different drafts ran at the same time", peak >= 2,
		fmt.Sprintf("at most %d drafts had a job running at one instant", peak))

	// ---- the clocks
	c.section("the clocks (durable timers)")
	var twice firstBad
	fired := 0
	for k, v := range byTimer {
		fired++
		if len(v) > 1 {
			ids := []string{}
			for _, ji := range v {
				ids = append(ids, ji.j.ID)
			}
			twice.add("%s fired jobs %v", k, ids)
		}
	}
	c.claim("each clock version fired at most once: no two jobs come from the same timer version",
		twice.n == 0 && fired > 0, orDefault(twice.String(), fmt.Sprintf("%d versions fired, %d jobs", fired, len(jobs))))

	var versions firstBad
	scheduled := 0
	for _, id := range d.ids {
		s, t := states[id], timers[clockKey(id)]
		if s == nil || t == nil {
			versions.add("%s: no state or no clock", id)
			continue
		}
		if t.State == "scheduled" {
			scheduled++
		}
		armed := map[int64]bool{}
		for _, a := range s.Arms {
			if a.Version > 0 {
				armed[a.Version] = true
			}
		}
		if want := int64(len(armed) + userCount[id]); t.Version != want {
			versions.add("%s: the clock is at version %d; the ledger armed %d versions and users moved it %d times",
				id, t.Version, len(armed), userCount[id])
		}
	}
	c.claim("every version of every clock is accounted for: its version count = the clock's armings in the ledger + the user picks batond accepted",
		versions.n == 0, orDefault(versions.String(), fmt.Sprintf("%d clocks; %d still scheduled", len(timers), scheduled)))

	// Per pick: the arming of its clock, whether a user beat it, and what the ledger says.
	type armed struct {
		draft string
		a     Arm
		user  *UserPut // the accepted user pick that moved this version, if any
		ji    []*jobInfo
	}
	var arms []armed
	var lost, notOnce firstBad
	timeouts, onTimeUsers := 0, 0
	for _, id := range d.ids {
		s := states[id]
		if s == nil {
			continue
		}
		pickOf := map[int]*Pick{}
		for i := range s.Picks {
			pickOf[s.Picks[i].N] = &s.Picks[i]
		}
		perPick := map[int]int{}
		for _, a := range s.Arms {
			if a.Version == 0 {
				lost.add("%s: the arming of pick %d never completed", id, a.Pick)
				continue
			}
			perPick[a.Pick]++
			k := fmt.Sprintf("%s#%d", clockKey(id), a.Version)
			ar := armed{draft: id, a: a, user: userFrom[k], ji: byTimer[k]}
			arms = append(arms, ar)
			onTime := ar.user != nil && ar.user.FireAt.Before(a.FireAt)
			if !onTime {
				timeouts++
			} else {
				onTimeUsers++
			}
			if ar.user == nil && len(ar.ji) != 1 {
				lost.add("%s pick %d: version %d ran out and fired %d jobs", id, a.Pick, a.Version, len(ar.ji))
			}
			p := pickOf[a.Pick]
			switch {
			case p == nil:
				notOnce.add("%s pick %d: never made", id, a.Pick)
			case onTime && p.By != ByUser:
				notOnce.add("%s pick %d: the user beat the clock by %s but the pick is by %s", id, a.Pick, ms(a.FireAt.Sub(ar.user.FireAt)), p.By)
			case !onTime && p.By != ByAuto:
				notOnce.add("%s pick %d: the clock ran out first but the pick is by %s", id, a.Pick, p.By)
			}
		}
		for n, k := range perPick {
			if k != 1 {
				notOnce.add("%s pick %d: its clock was armed %d times", id, n, k)
			}
		}
	}
	c.claim("no timeout was lost: every clock version that no user pick moved fired its autopick job, exactly one",
		lost.n == 0 && len(arms) > 0, orDefault(lost.String(), fmt.Sprintf("%d clock versions armed, %d moved by a user pick", len(arms), len(userFrom))))
	c.claim("every timeout auto-picked exactly once: a pick is the user's exactly when batond took the user's move before the deadline, else it is the one autopick of that clock",
		notOnce.n == 0 && timeouts == autoN, orDefault(notOnce.String(), fmt.Sprintf("%d timeouts, %d autopicks in the ledger; %d user picks beat the clock", timeouts, autoN, onTimeUsers)))

	// User picks: accepted ones and the ones that lost the race.
	var userBad firstBad
	kinds := map[string]int{}
	refusedCAS, acceptedLate, lateAuto, lateStale, onTimeApplied := 0, 0, 0, 0, 0
	for i := range users {
		u := &users[i]
		if !u.OK {
			if u.Code == "version_mismatch" || u.Code == "invalid_state" {
				refusedCAS++
				kinds[u.Kind+" refused"]++
			} else {
				userBad.add("%s pick %d: PUT failed: %s", u.Draft, u.Pick, u.Err)
			}
			continue
		}
		kinds[u.Kind+" accepted"]++
		v := byTimer[fmt.Sprintf("%s#%d", clockKey(u.Draft), u.NewVersion)]
		if len(v) != 1 || v[0].res == nil {
			userBad.add("%s pick %d: the user's move (version %d) fired %d jobs", u.Draft, u.Pick, u.NewVersion, len(v))
			continue
		}
		r := v[0].res
		onTime := u.FireAt.Before(u.Deadline)
		switch {
		case onTime && r.Applied && r.By == ByUser && r.Pick == u.Pick:
			onTimeApplied++
		case onTime:
			userBad.add("%s pick %d: on time (%s before the deadline) but its job says %+v", u.Draft, u.Pick, ms(u.Deadline.Sub(u.FireAt)), *r)
		case r.Applied && r.By == ByAuto && r.Why == "late user pick":
			acceptedLate++
			lateAuto++
		case !r.Applied:
			acceptedLate++
			lateStale++
		default:
			userBad.add("%s pick %d: %s after the deadline but its job says %+v", u.Draft, u.Pick, ms(u.FireAt.Sub(u.Deadline)), *r)
		}
	}
	c.claim("every user pick batond took before the deadline was applied as the user's pick, by the job its move fired",
		userBad.n == 0 && onTimeApplied == onTimeUsers, orDefault(userBad.String(), fmt.Sprintf("%d of %d", onTimeApplied, onTimeUsers)))
	c.claim("user picks that lost the race were rejected, visibly: refused by the compare-and-set (409 version_mismatch, or invalid_state once the clock fired), or taken after the deadline and answered with the autopick or as stale",
		userBad.n == 0 && refusedCAS+acceptedLate > 0,
		fmt.Sprintf("%d refused with 409, %d taken late: %d became the autopick, %d stale; by intent: %s", refusedCAS, acceptedLate, lateAuto, lateStale, fmtCounts(kinds)))

	var staleBad firstBad
	staleAuto, staleUser, recovered := 0, 0, 0
	recoveredBy := map[string]int{}
	for _, ji := range jobs {
		if ji.res == nil {
			continue
		}
		if ji.res.Recovered {
			recovered++
			recoveredBy[ji.j.Type]++
		}
		if ji.res.Applied {
			continue
		}
		if ji.j.Type == TypeAutopick {
			staleAuto++
		} else {
			staleUser++
		}
		s := states[ji.res.Draft]
		var made *Pick
		if s != nil {
			for i := range s.Picks {
				if s.Picks[i].N == ji.res.Pick {
					made = &s.Picks[i]
				}
			}
		}
		if made == nil || made.Job == ji.j.ID {
			staleBad.add("job %s (stale, %s pick %d): the ledger does not show that pick made by another job", ji.j.ID, ji.res.Draft, ji.res.Pick)
		}
	}
	c.claim("stale jobs changed nothing: each names a pick the ledger shows made by another job",
		staleBad.n == 0, orDefault(staleBad.String(), fmt.Sprintf("%d stale autopicks and %d stale user picks rejected; redelivered after they had applied their pick, answered again without applying it: %d autopicks, %d user picks", staleAuto, staleUser, recoveredBy[TypeAutopick], recoveredBy[TypePick])))

	// ---- the kill
	c.section("the kill")
	killed := !d.killedAt.IsZero()
	c.claim("the worker was killed (SIGKILL) mid-draft, while it held jobs",
		killed && d.inFlightAtKill > 0 && d.atKill.inProgress > 0 && d.atKill.picks > 0 && d.atKill.picks < cfg.drafts*T,
		fmt.Sprintf("it held %d jobs (GET /v1/workers/{id}); %d/%d picks were made, %d drafts in progress, %d done", d.inFlightAtKill, d.atKill.picks, cfg.drafts*T, d.atKill.inProgress, d.atKill.done))
	w2 := d.tag + "-w2"
	var downBad firstBad
	downTimeouts := 0
	for _, ar := range arms {
		if !killed || ar.a.FireAt.Before(d.killedAt) || !ar.a.FireAt.Before(d.restartAt) {
			continue
		}
		if ar.user != nil && ar.user.FireAt.Before(ar.a.FireAt) {
			continue
		}
		downTimeouts++
		s := states[ar.draft]
		var p *Pick
		for i := range s.Picks {
			if s.Picks[i].N == ar.a.Pick {
				p = &s.Picks[i]
			}
		}
		switch {
		case p == nil:
			downBad.add("%s pick %d: never made", ar.draft, ar.a.Pick)
		case p.By != ByAuto || p.At.Before(d.restartAt):
			downBad.add("%s pick %d: %s at %s", ar.draft, ar.a.Pick, p.By, p.At.Format("15:04:05.000"))
		case byID[p.Job] == nil || lastWorker(byID[p.Job].j) != w2:
			downBad.add("%s pick %d: job %s was not completed by %s", ar.draft, ar.a.Pick, p.Job, w2)
		}
	}
	c.claim("no timeout was lost across the kill: every clock that ran out while no worker ran was auto-picked, once, by the new worker",
		killed && downTimeouts > 0 && downBad.n == 0,
		orDefault(downBad.String(), fmt.Sprintf("%d clocks ran out in the %v without a worker", downTimeouts, d.restartAt.Sub(d.killedAt).Round(time.Millisecond))))
	var cut firstBad
	cutJobs := 0
	for _, ji := range jobs {
		hit := false
		for _, at := range ji.j.Attempts {
			if at.Outcome == "lease_expired" {
				hit = true
			}
		}
		if !hit {
			continue
		}
		cutJobs++
		if ji.j.State != baton.StateCompleted || lastWorker(ji.j) != w2 {
			cut.add("job %s: %s, last run by %s", ji.j.ID, ji.j.State, lastWorker(ji.j))
		}
	}
	c.claim("the jobs the kill cut off (their lease expired) ran again and were completed by the new worker",
		cut.n == 0 && cutJobs > 0, orDefault(cut.String(), fmt.Sprintf("%d jobs cut off; %d jobs in all were redelivered after they had applied their pick (recognized by the fence, applied once)", cutJobs, recovered)))

	// ---- timing
	c.section("timing")
	var lateness, toPick []time.Duration
	for _, ar := range arms {
		if len(ar.ji) != 1 || ar.ji[0].j.CreatedAt == nil || ar.ji[0].j.Type != TypeAutopick {
			continue
		}
		lateness = append(lateness, ar.ji[0].j.CreatedAt.Sub(ar.a.FireAt))
		if killed && !ar.a.FireAt.Before(d.killedAt.Add(-time.Duration(cfg.leaseMs)*time.Millisecond)) &&
			ar.a.FireAt.Before(d.restartAt.Add(time.Duration(cfg.leaseMs)*time.Millisecond)) {
			continue
		}
		s := states[ar.draft]
		for i := range s.Picks {
			if p := s.Picks[i]; p.N == ar.a.Pick && p.Job == ar.ji[0].j.ID {
				toPick = append(toPick, p.At.Sub(ar.a.FireAt))
			}
		}
	}
	l50, l99, lmax := percentile(lateness, 0.5), percentile(lateness, 0.99), percentile(lateness, 1)
	info("timer lateness (the autopick job's created_at minus the clock's fire_at, %d firings): p50 %s, p99 %s, max %s", len(lateness), ms(l50), ms(l99), ms(lmax))
	p50, p99 := percentile(toPick, 0.5), percentile(toPick, 0.99)
	info("deadline to autopick applied (the worker's clock, outside the kill window, %d picks): p50 %s, p99 %s", len(toPick), ms(p50), ms(p99))
	c.claim("seed 002's scheduler latency target: the clocks fire less than 100 ms after their deadline (p99 of the lateness)",
		len(lateness) > 0 && l99 < 100*time.Millisecond, fmt.Sprintf("p99 %s over %d firings", ms(l99), len(lateness)))

	fmt.Printf("\n%d/%d claims hold\n", c.passed, c.total)
	return c.passed == c.total
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// span is one attempt's run, from batond's attempt log.
type span struct {
	a, b  time.Time
	group string
}

// lastWorker is the worker of a job's latest attempt.
func lastWorker(j *baton.Job) string {
	if len(j.Attempts) == 0 {
		return ""
	}
	return j.Attempts[len(j.Attempts)-1].Worker
}

// peakDistinct is the most spans open at one instant (spans of one group
// never overlap when the group limit holds, so this counts drafts).
func peakDistinct(spans []span) int {
	type ev struct {
		t time.Time
		d int
	}
	evs := make([]ev, 0, 2*len(spans))
	for _, s := range spans {
		evs = append(evs, ev{s.a, 1}, ev{s.b, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t.Equal(evs[j].t) {
			return evs[i].d < evs[j].d
		}
		return evs[i].t.Before(evs[j].t)
	})
	cur, peak := 0, 0
	for _, e := range evs {
		cur += e.d
		if cur > peak {
			peak = cur
		}
	}
	return peak
}
