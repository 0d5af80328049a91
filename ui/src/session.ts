// session.ts: who is signed in (GET /v1/sessions/current) and what the key's
// scopes let the pages offer. "admin" holds every scope of its tenant, as on
// the server (docs/api.md, "Authentication").
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from './api';

export type Scope = 'jobs:write' | 'jobs:read' | 'work' | 'cron:read' | 'cron:write' | 'cron:run' | 'admin' | 'metrics';

export interface SessionCtx {
  session: Session;
  signOut: () => void;
}

export const SessionContext = createContext<SessionCtx | null>(null);

export function useSession(): SessionCtx {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

export function can(s: Session, scope: Scope): boolean {
  return s.scopes.includes(scope) || s.scopes.includes('admin');
}

export function useCan(): (scope: Scope) => boolean {
  const { session } = useSession();
  return (scope) => can(session, scope);
}
