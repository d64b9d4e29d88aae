/**
 * CLI (contract): tenant administration through the admin API at UNMASK_URL (default http://127.0.0.1:8787),
 * authenticated with ADMIN_TOKEN from the environment. Prints the JSON result; one-line error, exit 1, on failure.
 *   npm run tenant -- create --name X [--with-key] [--rpm N] [--tpm N] [--models a,b] [--max-concurrent N] [--max-tokens N]
 *                           [--budget-tokens N] [--budget-period day|month] [--degrade-to-edge]
 *   npm run tenant -- update --tenant ID [same flags as create; --models all clears the allow-list]
 *   npm run tenant -- get --tenant ID | list | keys --tenant ID
 *   npm run tenant -- key --tenant ID [--expires-at ISO]
 *   npm run tenant -- rotate --key ID [--revoke-old-at ISO] [--expires-at ISO]
 *   npm run tenant -- revoke --key ID
 *   npm run tenant -- usage --tenant ID [--since ISO]
 */
import { intFlag, parseFlags, runMain, UsageError } from '../backends/node/cli.ts';
import {
  adminRequest,
  createKey,
  type AdminCall,
  type AdminTarget,
} from '../backends/node/admin-client.ts';

const USAGE =
  'usage: tenant create|update|get|list|keys|key|rotate|revoke|usage [flags] (see scripts/tenant.ts)';
const DEFAULT_URL = 'http://127.0.0.1:8787';

const FLAGS = {
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

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>['values'];

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

function toCall(command: string | undefined, v: Flags): AdminCall {
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

function target(): AdminTarget {
  const token = process.env.ADMIN_TOKEN;
  if (!token) throw new UsageError('ADMIN_TOKEN is not set in the environment');
  return { url: process.env.UNMASK_URL || DEFAULT_URL, token };
}

runMain('tenant', async () => {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseFlags(rest, FLAGS, false);
  if (values['with-key'] && command !== 'create')
    throw new UsageError('--with-key applies to create only');
  const call = toCall(command, values);
  const admin = target();
  const result = (await adminRequest(admin, call)) as Record<string, unknown>;
  // create --with-key: the new tenant plus its first key (shown once), in one step.
  const output = values['with-key']
    ? { ...result, key: await createKey(admin, String(result.id)) }
    : result;
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
});
