// Command draft is examples/draft: seed 002's fantasy draft orchestrator on
// baton, through the Go client. `draft` (the driver) sets up N drafts, each
// with a pick clock that is one durable timer, starts `draft worker` as a
// separate process, simulates the users' picks, kills the worker with
// SIGKILL mid-draft and starts another, then checks what happened from the
// drafts' ledger and from batond and prints each check as [PASS] or [FAIL].
// Exit status: 0 when every claim holds, 1 when one fails, 2 on an error.
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		err = runWorker(os.Args[2:])
	} else {
		var ok bool
		ok, err = runDriver(os.Args[1:])
		if err == nil && !ok {
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "draft:", err)
		os.Exit(2)
	}
}
