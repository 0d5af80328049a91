// Dead.tsx: /ui/dead?queue= — dead letters per queue (GET
// /v1/queues/{queue}/dead) with their errors; replay one, the selected or
// all, and purge (admin).
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, enc, qs } from '../api';
import type { Job, Queue } from '../api';
import { ActButton, ConfirmButton, Empty, ErrorNotice, Loading, usePoll } from '../components';
import { num } from '../format';
import { Link, navigate } from '../router';
import { useCan } from '../session';
import { JobTable } from './Jobs';

const PAGE = 50;

export function DeadPage(props: { query: URLSearchParams }): JSX.Element {
  const can = useCan();
  const queues = usePoll(() => api<{ queues: Queue[]; next: string | null }>('GET', '/v1/queues?limit=100'), 2000, []);
  const withDead = (queues.data?.queues ?? []).filter((q) => q.counts.dead > 0);
  const chosen = props.query.get('queue') ?? withDead[0]?.name ?? '';
  return (
    <div>
      <h1>Dead letters</h1>
      <ErrorNotice error={queues.error} />
      {!queues.data ? (
        !queues.error && <Loading />
      ) : withDead.length === 0 && !props.query.get('queue') ? (
        <Empty>No dead jobs in any queue: every job that ran out of attempts would be listed here, ready to replay.</Empty>
      ) : (
        <>
          <div class="actions" role="tablist" aria-label="Queues with dead jobs">
            {withDead.map((q) => (
              <button
                key={q.name}
                role="tab"
                aria-selected={q.name === chosen}
                class={q.name === chosen ? 'primary' : ''}
                onClick={() => navigate('/dead' + qs({ queue: q.name }))}
              >
                {q.name} ({num(q.counts.dead)})
              </button>
            ))}
          </div>
          {chosen && <DeadQueue queue={chosen} count={withDead.find((q) => q.name === chosen)?.counts.dead ?? 0} admin={can('admin')} onChange={queues.reload} />}
        </>
      )}
    </div>
  );
}

function DeadQueue(props: { queue: string; count: number; admin: boolean; onChange: () => void }): JSX.Element {
  const base = '/v1/queues/' + enc(props.queue) + '/dead';
  const [cursors, setCursors] = useState<string[]>([]);
  const [sel, setSel] = useState<Set<string>>(new Set());
  useEffect(() => {
    setCursors([]);
    setSel(new Set());
  }, [props.queue]);
  const after = cursors[cursors.length - 1];
  const page = usePoll(() => api<{ jobs: Job[]; next: string | null }>('GET', base + qs({ limit: PAGE, after })), 3000, [props.queue, after]);
  const done = () => {
    setSel(new Set());
    void page.reload();
    props.onChange();
  };
  const replayAll = async () => {
    let total = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await api<{ replayed: number }>('POST', base + '/replay', { all: true });
      total += r.replayed;
      if (r.replayed === 0) break;
    }
    return `replayed ${num(total)}`;
  };
  const purgeAll = async () => {
    let total = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await api<{ purged: number }>('DELETE', base);
      total += r.purged;
      if (r.purged === 0) break;
    }
    return `purged ${num(total)}`;
  };
  return (
    <section>
      <h2>
        <Link to={'/queues/' + enc(props.queue)}>{props.queue}</Link>: {num(props.count)} dead
      </h2>
      {props.admin && (
        <div class="actions">
          <ConfirmButton
            label={`Replay selected (${sel.size})`}
            question={`Replay the ${sel.size} selected jobs? Each is queued again with a fresh attempt budget.`}
            act={async () => {
              if (sel.size === 0) throw new Error('select jobs first');
              const r = await api<{ replayed: number }>('POST', base + '/replay', { ids: [...sel] });
              return `replayed ${num(r.replayed)}`;
            }}
            onDone={done}
          />
          <ConfirmButton label="Replay all" question={`Replay all ${num(props.count)} dead jobs of ${props.queue}?`} act={replayAll} onDone={done} />
          <ConfirmButton
            label="Purge all"
            danger
            question={`Delete all ${num(props.count)} dead jobs of ${props.queue} with their history? This cannot be undone.`}
            act={purgeAll}
            onDone={done}
          />
        </div>
      )}
      <ErrorNotice error={page.error} />
      {!page.data ? (
        !page.error && <Loading />
      ) : page.data.jobs.length === 0 ? (
        <Empty>No dead jobs in {props.queue}.</Empty>
      ) : (
        <JobTable
          jobs={page.data.jobs}
          rowAction={
            props.admin
              ? (j) => (
                  <ActButton
                    label="Replay"
                    act={() => api<{ replayed: number }>('POST', base + '/replay', { ids: [j.id] }).then((r) => (r.replayed ? 'replayed' : 'not dead any more'))}
                    onDone={done}
                  />
                )
              : undefined
          }
          select={props.admin ? sel : undefined}
          onSelect={(id, on) => {
            const n = new Set(sel);
            if (on) n.add(id);
            else n.delete(id);
            setSel(n);
          }}
        />
      )}
      <div class="actions">
        <button disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button disabled={!page.data?.next} onClick={() => page.data?.next && setCursors([...cursors, page.data.next])}>
          Next page
        </button>
      </div>
    </section>
  );
}
