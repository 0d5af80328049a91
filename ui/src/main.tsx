// main.tsx: the dashboard's shell: sign-in, the layout with its navigation,
// and the page the path names (router.tsx).
import { render } from 'preact';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { api, ApiError, csrfToken, setCsrfToken, setUnauthenticatedHandler } from './api';
import type { Session } from './api';
import { Link, navigate, useLocation } from './router';
import { SessionContext } from './session';
import { SignIn } from './pages/SignIn';
import { Overview } from './pages/Overview';
import { QueueList } from './pages/Queues';
import { QueuePage } from './pages/Queue';
import { JobList } from './pages/Jobs';
import { JobPage } from './pages/Job';
import { DeadPage } from './pages/Dead';
import { CronList } from './pages/Cron';
import { CronPage } from './pages/CronOne';
import { WorkerList } from './pages/Workers';
import { TimerList } from './pages/Timers';
import { AuditList } from './pages/Audit';
import { KeyList } from './pages/Keys';
import { FlowPage } from './pages/Flow';

const NAV: { to: string; label: string; match: (p: string) => boolean; admin?: boolean }[] = [
  { to: '/', label: 'Overview', match: (p) => p === '' },
  { to: '/queues', label: 'Queues', match: (p) => p.startsWith('/queues') },
  { to: '/jobs', label: 'Jobs', match: (p) => p.startsWith('/jobs') },
  { to: '/dead', label: 'Dead letters', match: (p) => p.startsWith('/dead') },
  { to: '/cron', label: 'Cron', match: (p) => p.startsWith('/cron') },
  { to: '/timers', label: 'Timers', match: (p) => p.startsWith('/timers') },
  { to: '/workers', label: 'Workers', match: (p) => p.startsWith('/workers') },
  { to: '/keys', label: 'Keys', match: (p) => p.startsWith('/keys'), admin: true },
  { to: '/audit', label: 'Audit', match: (p) => p.startsWith('/audit'), admin: true },
];

function seg(path: string, i: number): string {
  return decodeURIComponent(path.split('/')[i] ?? '');
}

function Page(): JSX.Element {
  const { path, query } = useLocation();
  if (path === '') return <Overview />;
  if (path === '/queues') return <QueueList />;
  if (path.startsWith('/queues/')) return <QueuePage name={seg(path, 2)} />;
  if (path === '/jobs') return <JobList query={query} />;
  if (path.startsWith('/jobs/')) return <JobPage id={seg(path, 2)} />;
  if (path === '/dead') return <DeadPage query={query} />;
  if (path === '/cron') return <CronList />;
  if (path.startsWith('/cron/')) return <CronPage cronKey={seg(path, 2)} />;
  if (path === '/timers') return <TimerList query={query} />;
  if (path.startsWith('/flows/')) return <FlowPage id={seg(path, 2)} />;
  if (path === '/workers') return <WorkerList />;
  if (path === '/keys') return <KeyList />;
  if (path === '/audit') return <AuditList query={query} />;
  return (
    <div>
      <h1>Not a page</h1>
      <p>
        Nothing lives at <code>/ui{path}</code>. <Link to="/">Go to the overview</Link>.
      </p>
    </div>
  );
}

function App(): JSX.Element {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const loc = useLocation();

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setCsrfToken(null);
      setSession(null);
    });
    // Without the sign-in's CSRF token this browser cannot change anything:
    // it signs in again (and asks nothing that would only answer 401).
    if (!csrfToken()) {
      setSession(null);
      return;
    }
    api<{ session: Session }>('GET', '/v1/sessions/current')
      .then((r) => setSession(r.session))
      .catch(() => setSession(null));
  }, []);

  const signOut = async () => {
    try {
      await api('DELETE', '/v1/sessions/current');
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) console.warn('sign-out:', e);
    }
    setCsrfToken(null);
    setSession(null);
    navigate('/', true);
  };

  if (session === undefined) return <div class="empty">Loading…</div>;
  if (session === null)
    return (
      <SignIn
        onSignedIn={(s, csrf) => {
          setCsrfToken(csrf);
          setSession(s);
        }}
      />
    );
  return (
    <SessionContext.Provider value={{ session, signOut }}>
      <a class="skip" href="#main">
        Skip to the page
      </a>
      <div class="layout">
        <nav class="nav" aria-label="Main">
          <Link to="/" class="brand">
            baton
          </Link>
          {NAV.filter((n) => !n.admin || session.scopes.includes('admin')).map((n) => (
            <Link key={n.to} to={n.to} class="item" current={n.match(loc.path)}>
              {n.label}
            </Link>
          ))}
          <div class="who">
            <div>
              tenant <strong>{session.tenant}</strong>
            </div>
            <div class="mono">{session.key_id}</div>
            <div class="scopes">{session.scopes.join(', ')}</div>
            <button class="signout" onClick={signOut}>
              Sign out
            </button>
          </div>
        </nav>
        <main class="main" id="main" tabIndex={-1}>
          <Page />
        </main>
      </div>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
