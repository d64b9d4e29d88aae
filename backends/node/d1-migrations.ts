/** The D1 migrations wrangler applies (src/tenants/d1/migrations/*.sql, in name order), read for tests and local bootstrapping. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Migration } from '../../src/tenants/d1/schema.ts';

const DIR = fileURLToPath(new URL('../../src/tenants/d1/migrations/', import.meta.url));

export function d1Migrations(): Migration[] {
  return readdirSync(DIR)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: readFileSync(`${DIR}${name}`, 'utf8') }));
}
