/**
 * The admin API as command-line calls: flags → an HTTP call on /admin/*, sent with ADMIN_TOKEN to UNMASK_URL
 * (default http://127.0.0.1:8787). The `npm run tenant` CLI is a thin entry over this; the reliability suite makes
 * its tenants with the same calls against the servers it starts (an explicit AdminTarget).
 */
import { intFlag, type parseFlags, UsageError } from './cli.ts';

export const USAGE =
  'usage: tenant create|update|get|list|keys|key|rotate|revoke|usage [flags] (see docs/api.md)';
const DEFAULT_URL = 'http://127.0.0.1:8787';

export const FLAGS = {
  name: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  models: { type: 'string' },
  'max-concurrent': { type: 'string' },
  'max-tokens': { type: 'string' },
  'budget-tokens': { type: 'string' },
  'budget-period': { type: 'string' },
  'degrade-to-edge': { type: 'boolean' },
  tenant: { type: 'string' },
  key: { type: 'string' },
  'expires-at': { type: 'string' },
  'revoke-old-at': { type: 'string' },
  since: { type: 'string' },
  'with-key': { type: 'boolean' },
} as const;

export type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

export interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`--${flag} is required`);
  return encodeURIComponent(value);
}

/** Tenant fields present on the command line, in the admin API's snake_case. */
function tenantBody(v: Flags): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: v.name,
    rpm: intFlag(v.rpm, 'rpm', 1),
    tpm: intFlag(v.tpm, 'tpm', 1),
    max_concurrent: intFlag(v['max-concurrent'], 'max-concurrent', 1),
    max_tokens: intFlag(v['max-tokens'], 'max-tokens', 1),
    budget_tokens: intFlag(v['budget-tokens'], 'budget-tokens', 1),
    budget_period: v['budget-period'],
    degrade_to_edge: v['degrade-to-edge'],
    models:
      v.models === undefined
        ? undefined
        : v.models === 'all'
          ? null
          : v.models
              .split(',')
              .map((m) => m.trim())
              .filter(Boolean),
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

export function toCall(command: string | undefined, v: Flags): Call {
  switch (command) {
    case 'create':
      if (!v.name) throw new UsageError('--name is required');
      return { method: 'POST', path: '/admin/tenants', body: tenantBody(v) };
    case 'update':
      return {
        method: 'PATCH',
        path: `/admin/tenants/${required(v.tenant, 'tenant')}`,
        body: tenantBody(v),
      };
    case 'get':
      return { method: 'GET', path: `/admin/tenants/${required(v.tenant, 'tenant')}` };
    case 'list':
      return { method: 'GET', path: '/admin/tenants' };
    case 'keys':
      return { method: 'GET', path: `/admin/tenants/${required(v.tenant, 'tenant')}/keys` };
    case 'key':
      return {
        method: 'POST',
        path: `/admin/tenants/${required(v.tenant, 'tenant')}/keys`,
        body: v['expires-at'] ? { expires_at: v['expires-at'] } : {},
      };
    case 'rotate': {
      const body = Object.fromEntries(
        Object.entries({ revoke_old_at: v['revoke-old-at'], expires_at: v['expires-at'] }).filter(
          ([, x]) => x,
        ),
      );
      return { method: 'POST', path: `/admin/keys/${required(v.key, 'key')}/rotate`, body };
    }
    case 'revoke':
      return { method: 'DELETE', path: `/admin/keys/${required(v.key, 'key')}` };
    case 'usage': {
      const query = v.since ? `?since=${encodeURIComponent(v.since)}` : '';
      return {
        method: 'GET',
        path: `/admin/tenants/${required(v.tenant, 'tenant')}/usage${query}`,
      };
    }
    default:
      throw new UsageError(USAGE);
  }
}

/** Where admin calls go: a server's base URL and its admin token. */
export interface AdminTarget {
  url: string;
  token: string;
}

/** ADMIN_TOKEN and UNMASK_URL from the environment (the CLI's target). */
function envTarget(): AdminTarget {
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new UsageError('ADMIN_TOKEN is not set in the environment');
  return { url: process.env.UNMASK_URL || DEFAULT_URL, token };
}

/** Sends one admin call (to `target`, default the environment's); resolves with the JSON body of a 2xx answer. */
export async function send(call: Call, target: AdminTarget = envTarget()): Promise<unknown> {
  const { token, url: base } = target;
  let response: Response;
  try {
    response = await fetch(new URL(call.path, base), {
      method: call.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(call.body ? { 'content-type': 'application/json' } : {}),
      },
      body: call.body ? JSON.stringify(call.body) : undefined,
    });
  } catch (e: unknown) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
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
    const error = (body as { error?: { message?: string; param?: string | null } } | null)?.error;
    const detail = error?.message ?? (text.slice(0, 200) || response.statusText);
    throw new Error(`${call.method} ${call.path} → ${response.status}: ${detail}`);
  }
  if (body === null)
    throw new Error(`${call.method} ${call.path} → ${response.status}: response is not JSON`);
  return body;
}

/** `create --with-key`: a tenant (admin API snake_case fields) and its first key (shown once), in one step. */
export async function createTenantWithKey(
  fields: Record<string, unknown>,
  target: AdminTarget = envTarget(),
): Promise<Record<string, unknown> & { id: string; key: { id: string; key: string } }> {
  const tenant = (await send({ method: 'POST', path: '/admin/tenants', body: fields }, target)) as {
    id: string;
  };
  const key = (await send(
    { method: 'POST', path: `/admin/tenants/${encodeURIComponent(tenant.id)}/keys`, body: {} },
    target,
  )) as { id: string; key: string };
  return { ...tenant, key };
}
