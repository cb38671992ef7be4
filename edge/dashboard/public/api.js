// Calls to the gateway. The session cookie is HttpOnly: the page never sees
// it. Changes carry the session's CSRF token in a header; refreshes the page
// makes by itself say so, so they do not keep an idle session alive.
let csrf = '';
let onUnauthorized = () => {};

export function setSession(session) {
  csrf = session ? session.csrf : '';
}

export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export async function call(method, path, body, { background = false } = {}) {
  const headers = { 'x-wardgate-client': 'dashboard' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (background) headers['x-wardgate-background'] = '1';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
  if (res.status === 401 && path !== '/dashboard/login') onUnauthorized();
  if (!res.ok) {
    const err = new Error(data?.message ?? `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.code = data?.code;
    throw err;
  }
  return data;
}
