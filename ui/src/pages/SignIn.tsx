// SignIn.tsx: exchanges an API key for a session (POST /v1/sessions). The key
// is sent once and not kept; the cookie the answer sets is HttpOnly.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import type { Session } from '../api';

export function SignIn(props: { onSignedIn: (s: Session, csrf: string) => void }): JSX.Element {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ session: Session; csrf_token: string }>('POST', '/v1/sessions', { key: key.trim() });
      setKey('');
      props.onSignedIn(r.session, r.csrf_token);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>baton</h1>
      <form onSubmit={submit} class="panel">
        <label for="key">API key</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="off"
          autoFocus
          placeholder="bk_k…_…"
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          required
        />
        <button class="primary" type="submit" disabled={busy || !key.trim()}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <p class="muted small">
          Sign in with any API key: the dashboard shows what its tenant holds and offers only the actions its scopes
          allow. The first start of batond writes an admin key to <code>&lt;data dir&gt;/admin.key</code>; make
          others with <code>baton keys create</code>.
        </p>
      </form>
    </main>
  );
}
