// components.tsx: the pieces every page shares: times, state badges, JSON
// blocks, notices, empty states, a confirmation dialog and the polling hook.
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { absolute, parseTime, pretty, relative } from './format';

/* A time, relative with the absolute instant (local zone) after it on wide
 * screens and in the title. */
export function Time(props: { at: string | null | undefined; zone?: string }): JSX.Element {
  const ms = parseTime(props.at);
  if (ms === null) return <span class="muted">—</span>;
  const abs = absolute(ms, props.zone);
  return (
    <time dateTime={props.at ?? undefined} title={abs}>
      <span class="rel">{relative(ms)}</span> <span class="muted opt-inline">({abs})</span>
    </time>
  );
}

export function Badge(props: { v: string | null | undefined }): JSX.Element {
  if (!props.v) return <span class="muted">—</span>;
  return <span class={'badge ' + props.v}>{props.v}</span>;
}

export function Json(props: { value: unknown; label: string; open?: boolean }): JSX.Element {
  return (
    <details open={props.open ?? true}>
      <summary>{props.label}</summary>
      <pre>{pretty(props.value)}</pre>
    </details>
  );
}

export function ErrorNotice(props: { error: unknown }): JSX.Element | null {
  if (!props.error) return null;
  const e = props.error;
  const msg = e instanceof ApiError ? `${e.status ? e.status + ' ' : ''}${e.code}: ${e.message}` : String(e);
  return (
    <div class="notice error" role="alert">
      {msg}
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }): JSX.Element {
  return <div class="empty">{props.children}</div>;
}

export function Loading(): JSX.Element {
  return <div class="empty" aria-busy="true">Loading…</div>;
}

/* Loads with fn, again every intervalMs (at least 1 s) while the tab is
 * visible; reload() loads at once. deps restart it. */
export function usePoll<T>(fn: () => Promise<T>, intervalMs: number, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const gen = useRef(0);
  const load = useCallback(async () => {
    const g = gen.current;
    try {
      const d = await fn();
      if (g === gen.current) {
        setData(d);
        setError(undefined);
      }
    } catch (e) {
      if (g === gen.current) setError(e);
    }
  }, deps);
  // A layout effect, so the first request leaves with the first render, not
  // a frame later (the page's first load waits for it).
  useLayoutEffect(() => {
    gen.current++;
    setData(undefined);
    setError(undefined);
    void load();
    if (intervalMs <= 0) return undefined;
    const every = Math.max(1000, intervalMs);
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, every);
    return () => window.clearInterval(t);
  }, deps);
  return { data, error, reload: load };
}

/* A button that asks first (in a modal dialog saying what it will do), runs
 * act, and shows how it went. */
export function ConfirmButton(props: {
  label: string;
  question: string | (() => Promise<string>);
  act: () => Promise<string | void>;
  danger?: boolean;
  onDone?: () => void;
}): JSX.Element {
  const dlg = useRef<HTMLDialogElement>(null);
  const [question, setQuestion] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const open = async () => {
    setOutcome(null);
    try {
      setQuestion(typeof props.question === 'string' ? props.question : await props.question());
      dlg.current?.showModal();
    } catch (e) {
      setOutcome({ ok: false, text: e instanceof Error ? e.message : String(e) });
    }
  };
  const go = async () => {
    setBusy(true);
    try {
      const r = await props.act();
      setOutcome({ ok: true, text: r || props.label + ': done' });
      props.onDone?.();
    } catch (e) {
      const msg = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
      setOutcome({ ok: false, text: msg });
    } finally {
      setBusy(false);
      dlg.current?.close();
    }
  };
  return (
    <span class="confirm">
      <button class={props.danger ? 'danger' : ''} onClick={open} disabled={busy}>
        {props.label}
      </button>
      <dialog ref={dlg} aria-label={props.label}>
        <p>{question}</p>
        <div class="actions">
          <button class={props.danger ? 'danger' : 'primary'} onClick={go} disabled={busy}>
            {props.label}
          </button>
          <button onClick={() => dlg.current?.close()}>Cancel</button>
        </div>
      </dialog>
      {outcome && (
        <span class={'outcome ' + (outcome.ok ? 'ok' : 'error')} role="status">
          {outcome.text}
        </span>
      )}
    </span>
  );
}

/* A button that acts at once and shows the outcome beside it. */
export function ActButton(props: { label: string; act: () => Promise<string | void>; onDone?: () => void; primary?: boolean }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  return (
    <span class="confirm">
      <button
        class={props.primary ? 'primary' : ''}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setOutcome(null);
          try {
            const r = await props.act();
            setOutcome({ ok: true, text: r || props.label + ': done' });
            props.onDone?.();
          } catch (e) {
            const msg = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
            setOutcome({ ok: false, text: msg });
          } finally {
            setBusy(false);
          }
        }}
      >
        {props.label}
      </button>
      {outcome && (
        <span class={'outcome ' + (outcome.ok ? 'ok' : 'error')} role="status">
          {outcome.text}
        </span>
      )}
    </span>
  );
}
