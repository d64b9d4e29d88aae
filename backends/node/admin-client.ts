/**
 * A client of the admin API (`/admin/*`, Bearer ADMIN_TOKEN): one call → its JSON body, or an Error whose one-line
 * message names the call, the status and the server's error message. Used by `npm run tenant` and the reliability
 * suite, so both create tenants and keys the same way.
 */

export interface AdminCall {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
}

export interface AdminTarget {
  /** The server's base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  token: string;
}

/** Sends one admin call; resolves with the JSON body of a 2xx answer. */
export async function adminRequest(target: AdminTarget, call: AdminCall): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(new URL(call.path, target.url), {
      method: call.method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(call.body ? { 'content-type': 'application/json' } : {}),
      },
      body: call.body ? JSON.stringify(call.body) : undefined,
    });
  } catch (e: unknown) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach ${target.url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
    );
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: reported below */
  }
  if (!response.ok) {
    const error = (body as { error?: { message?: string } } | null)?.error;
    const detail = error?.message ?? (text.slice(0, 200) || response.statusText);
    throw new Error(`${call.method} ${call.path} → ${response.status}: ${detail}`);
  }
  if (body === null)
    throw new Error(`${call.method} ${call.path} → ${response.status}: response is not JSON`);
  return body;
}

/** The first key of a tenant (shown once): POST /admin/tenants/{id}/keys. */
export async function createKey(
  target: AdminTarget,
  tenantId: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string; key: string } & Record<string, unknown>> {
  return (await adminRequest(target, {
    method: 'POST',
    path: `/admin/tenants/${encodeURIComponent(tenantId)}/keys`,
    body,
  })) as { id: string; key: string };
}

/** `tenant create --with-key`: a tenant (admin API snake_case fields) and its first key, in one step. */
export async function createTenantWithKey(
  target: AdminTarget,
  fields: Record<string, unknown>,
): Promise<Record<string, unknown> & { id: string; key: { id: string; key: string } }> {
  const tenant = (await adminRequest(target, {
    method: 'POST',
    path: '/admin/tenants',
    body: fields,
  })) as Record<string, unknown> & { id: string };
  return { ...tenant, key: await createKey(target, tenant.id) };
}
