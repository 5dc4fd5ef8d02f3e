// The cron oracle: ESO's sync-window evaluation (pkg/controllers/externalsecret in ESO v2.9) run
// with the cron parser ESO uses, robfig/cron v3, so host/tests/sync_window_oracle.rs can compare
// Ampoule's implementation (host/src/controller/sync_window.rs) with it case by case.
//
// stdin: a JSON array of {"schedule", "duration_s", "at"} (at: Unix seconds, UTC).
// stdout: a JSON array of {"ok", "next", "within"}: whether the schedule parses, its first
// firing strictly after at (Unix seconds, 0 when none), and whether at is inside a window that
// opened at a firing and lasted duration_s seconds.
package main

import (
	"encoding/json"
	"os"
	"time"

	robfigcron "github.com/robfig/cron/v3"
)

type query struct {
	Schedule  string `json:"schedule"`
	DurationS int64  `json:"duration_s"`
	At        int64  `json:"at"`
}

type answer struct {
	Ok     bool  `json:"ok"`
	Next   int64 `json:"next"`
	Within bool  `json:"within"`
}

// The parser options of ESO's controller.
var parser = robfigcron.NewParser(
	robfigcron.Minute | robfigcron.Hour | robfigcron.Dom |
		robfigcron.Month | robfigcron.Dow | robfigcron.Descriptor,
)

// ESO's isWithinSyncWindow.
func within(sched robfigcron.Schedule, duration time.Duration, at time.Time) bool {
	prev := sched.Next(at.Add(-duration - time.Second))
	return !prev.IsZero() && !prev.After(at) && !at.After(prev.Add(duration))
}

func main() {
	time.Local = time.UTC
	var qs []query
	if err := json.NewDecoder(os.Stdin).Decode(&qs); err != nil {
		os.Exit(2)
	}
	out := make([]answer, len(qs))
	for i, q := range qs {
		sched, err := parser.Parse(q.Schedule)
		if err != nil {
			continue
		}
		at := time.Unix(q.At, 0).UTC()
		next := sched.Next(at)
		a := answer{Ok: true, Within: within(sched, time.Duration(q.DurationS)*time.Second, at)}
		if !next.IsZero() {
			a.Next = next.Unix()
		}
		out[i] = a
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(2)
	}
}
