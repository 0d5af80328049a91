// Iter walks a cursor-paged list of the API ({"<kinds>": [...], "next"}),
// fetching the next page only when the current one is used up.
//
// Assumption (docs/api.md, Answer size): a page may hold fewer items than the
// limit while more follow, so only a null "next" ends the walk.
package baton

import "context"

// pageFunc fetches the page after cursor ("" for the first) and its next cursor.
type pageFunc[T any] func(ctx context.Context, after string) (items []T, next *string, err error)

// Iter is an iterator over a list:
//
//	it := c.ListJobs(ctx, baton.JobFilter{Queue: "emails"})
//	for it.Next() {
//		job := it.Item()
//	}
//	if err := it.Err(); err != nil { ... }
type Iter[T any] struct {
	ctx    context.Context
	fetch  pageFunc[T]
	page   []T
	idx    int
	cursor string // cursor of the page after the current one
	done   bool   // no page follows the current one
	err    error
	item   T
}

func newIter[T any](ctx context.Context, after string, fetch pageFunc[T]) *Iter[T] {
	return &Iter[T]{ctx: ctx, fetch: fetch, cursor: after}
}

// Next advances to the next item, fetching a page when needed. It returns
// false at the end of the list or on an error (see Err).
func (it *Iter[T]) Next() bool {
	for it.err == nil {
		if it.idx < len(it.page) {
			it.item = it.page[it.idx]
			it.idx++
			return true
		}
		if it.done {
			return false
		}
		if err := it.ctx.Err(); err != nil {
			it.err = err
			return false
		}
		items, next, err := it.fetch(it.ctx, it.cursor)
		if err != nil {
			it.err = err
			return false
		}
		it.page, it.idx = items, 0
		if next == nil || *next == "" {
			it.done = true
		} else if *next == it.cursor && len(items) == 0 {
			// A server that answered the same cursor with nothing would loop forever.
			it.done = true
		} else {
			it.cursor = *next
		}
	}
	return false
}

// Item is the current item (valid after Next returned true).
func (it *Iter[T]) Item() T { return it.item }

// Err is the error that stopped the walk, nil at a normal end.
func (it *Iter[T]) Err() error { return it.err }

// Cursor is the cursor of the page after the current one: pass it as After
// to resume later. "" once the last page was read.
func (it *Iter[T]) Cursor() string {
	if it.done {
		return ""
	}
	return it.cursor
}

// All reads every remaining item (bounded only by the list: use it on lists
// you know to be small).
func (it *Iter[T]) All() ([]T, error) {
	var out []T
	for it.Next() {
		out = append(out, it.Item())
	}
	return out, it.Err()
}
