// The README's quick start, run as a test (go test checks its output).
// BATON_URL and BATON_KEY are set by TestMain from the batond it started.
package baton_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	baton "github.com/baton-dev/baton/clients/go"
)

func Example() {
	ctx := context.Background()
	c := baton.NewClient(os.Getenv("BATON_URL"), os.Getenv("BATON_KEY"))

	job, err := c.Enqueue(ctx, baton.EnqueueRequest{Queue: "emails", Type: "welcome",
		Payload: json.RawMessage(`{"user":7}`), IdempotencyKey: "welcome-7"})
	if err != nil {
		log.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	w := baton.NewWorker(c, baton.WorkerOptions{Queue: "emails", Concurrency: 10,
		Handler: func(ctx context.Context, job *baton.Job) (any, error) {
			var p struct{ User int }
			if err := json.Unmarshal(job.Payload, &p); err != nil {
				return nil, baton.Unrecoverable(err) // bad input: dead at once, no retry
			}
			if err := baton.Progress(ctx, 50, "rendered"); err != nil {
				return nil, err
			}
			return map[string]any{"sent": true, "user": p.User}, nil
		}})
	go func() {
		done, err := c.WaitJob(ctx, job.ID) // long-polls until the job ends
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(done.State, string(done.Result))
		stop() // Run returns once in-flight jobs are finished and settled
	}()
	if err := w.Run(runCtx); err != nil {
		log.Fatal(err)
	}
	// Output: completed {"sent":true,"user":7}
}
