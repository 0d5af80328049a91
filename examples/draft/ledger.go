// ledger.go: the draft's own state (the "drafts table" of seed 002), one
// JSON file per draft written by the worker, and the payloads and results
// that travel through batond.
//
// Durability: a state file is replaced whole (write a temporary file, fsync
// it, rename it over the old one, fsync the directory), so after a kill -9 a
// draft's file is either the state before a pick or the state after it,
// never a mix. A draft has one writer at a time: all its jobs run in the
// group draft:{id} with group_concurrency 1, and a job whose lease was lost
// cannot settle (batond refuses its lease), so its redelivery, not the lost
// attempt, decides what the job did.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Who made a pick.
const (
	ByUser = "user"
	ByAuto = "auto"
)

// Job types of the one timer of a draft: the clock's own firing, and a
// user's pick delivered through the timer.
const (
	TypeAutopick = "autopick"
	TypePick     = "pick"
)

// Payload is what every job of a draft carries (the timer's payload).
// An autopick names the pick its clock was armed for. A user pick also
// names the clock version it moved (From) and that version's deadline: the
// compare-and-set on From guarantees that Deadline is the fire_at of the
// clock the user beat (or did not).
type Payload struct {
	Draft    string     `json:"draft"`
	Pick     int        `json:"pick"`
	By       string     `json:"by"`
	From     int64      `json:"from,omitempty"`
	Deadline *time.Time `json:"deadline,omitempty"`
	Wishlist []int      `json:"wishlist,omitempty"`
}

// Result is what the worker completes a job with.
type Result struct {
	Applied   bool   `json:"applied"`
	Draft     string `json:"draft"`
	Pick      int    `json:"pick"`
	Player    int    `json:"player,omitempty"`
	By        string `json:"by,omitempty"`
	Why       string `json:"why,omitempty"`
	Recovered bool   `json:"recovered,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Pick is one pick made, as the ledger keeps it.
type Pick struct {
	N       int       `json:"n"`
	Team    int       `json:"team"`
	Player  int       `json:"player"`
	By      string    `json:"by"`
	Why     string    `json:"why"` // "user", "clock", "late user pick"
	Job     string    `json:"job"`
	JobType string    `json:"job_type"`
	Version int64     `json:"version"` // the timer version whose firing made the job
	At      time.Time `json:"at"`      // when the worker applied it (its clock)
	LateMs  int64     `json:"late_ms,omitempty"`
}

// Arm is one arming of the clock: for pick Pick, moved from version From
// (0: created) to Version, due at FireAt (batond's time). Version is 0
// while the arming is pending (written to the ledger, not yet confirmed).
type Arm struct {
	Pick    int       `json:"pick"`
	From    int64     `json:"from"`
	Version int64     `json:"version"`
	FireAt  time.Time `json:"fire_at"`
	How     string    `json:"how"`
}

// State is a draft: settings, the pick on the clock, the picks made and
// every arming of its clock.
type State struct {
	Draft   string `json:"draft"`
	Teams   int    `json:"teams"`
	Rounds  int    `json:"rounds"`
	ClockMs int64  `json:"clock_ms"`
	Next    int    `json:"next"`    // the pick on the clock; Total()+1 once done
	Pending bool   `json:"pending"` // the last Arm is not confirmed yet
	Picks   []Pick `json:"picks"`
	Arms    []Arm  `json:"arms"`
}

// Total is the number of picks of the draft.
func (s *State) Total() int { return s.Teams * s.Rounds }

// Done reports whether every pick was made.
func (s *State) Done() bool { return s.Next > s.Total() }

// Players is the size of the player pool; player n is ranked n-th.
func (s *State) Players() int { return 2 * s.Total() }

// TeamOnClock is the team that makes pick n in a snake draft.
func TeamOnClock(n, teams int) int {
	round, i := (n-1)/teams, (n-1)%teams
	if round%2 == 1 {
		return teams - 1 - i
	}
	return i
}

// PickByJob finds the pick a job made, or nil.
func (s *State) PickByJob(id string) *Pick {
	for i := range s.Picks {
		if s.Picks[i].Job == id {
			return &s.Picks[i]
		}
	}
	return nil
}

// Choose picks a player: a user takes the first of their wishlist still
// available, an autopick (and a user whose wishlist is gone) the best
// ranked player available.
func (s *State) Choose(by string, wishlist []int) int {
	taken := make(map[int]bool, len(s.Picks))
	for _, p := range s.Picks {
		taken[p.Player] = true
	}
	if by == ByUser {
		for _, w := range wishlist {
			if w >= 1 && w <= s.Players() && !taken[w] {
				return w
			}
		}
	}
	for n := 1; n <= s.Players(); n++ {
		if !taken[n] {
			return n
		}
	}
	return 0
}

// Store keeps the drafts' state files in a directory.
type Store struct{ Dir string }

func (st Store) path(id string) string { return filepath.Join(st.Dir, id+".json") }

// Load reads a draft's state.
func (st Store) Load(id string) (*State, error) {
	data, err := os.ReadFile(st.path(id))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("state of %s: %w", id, err)
	}
	return &s, nil
}

// Save replaces a draft's state durably (see the file comment).
func (st Store) Save(s *State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	final := st.path(s.Draft)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := firstErr(werr, serr, cerr); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	d, err := os.Open(st.Dir)
	if err != nil {
		return err
	}
	serr = d.Sync()
	cerr = d.Close()
	return firstErr(serr, cerr)
}

// firstErr is the first non-nil error (Go 1.19 has no errors.Join).
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
