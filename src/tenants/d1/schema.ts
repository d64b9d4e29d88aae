/**
 * The D1 schema as data, for tests and local bootstrapping; `migrations/*.sql` (wrangler's migrations_dir) is
 * the source of truth and schema.test.ts checks that both agree.
 */
import type { D1Database } from '@cloudflare/workers-types';

export interface Migration {
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: '0001_init.sql',
    sql: `-- Tenants, their API keys (SHA-256 hashes only, never keys) and per-request usage. Times are epoch milliseconds.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  models TEXT,
  rpm INTEGER,
  tpm INTEGER,
  max_concurrent INTEGER,
  max_tokens INTEGER,
  budget_tokens INTEGER,
  budget_period TEXT CHECK (budget_period IN ('day', 'month')),
  degrade_to_edge INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  hash TEXT NOT NULL UNIQUE,
  hint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE usage (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  model TEXT NOT NULL,
  backend TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  status INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  at INTEGER NOT NULL
);

CREATE UNIQUE INDEX usage_request ON usage (tenant_id, request_id);
CREATE INDEX usage_tenant_at ON usage (tenant_id, at);
`,
  },
];

/** Splits a migration into statements (`;` at a line end; `--` comment lines dropped), as D1's batch() wants. */
export function splitStatements(sql: string): string[] {
  const lines = sql.split('\n').filter((line) => !line.trimStart().startsWith('--'));
  return lines
    .join('\n')
    .split(/;\s*$/m)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

/** Applies every migration in one batch (a transaction); for a fresh database only (no d1_migrations bookkeeping). */
export async function applyMigrations(db: D1Database): Promise<void> {
  const statements = MIGRATIONS.flatMap((migration) => splitStatements(migration.sql));
  await db.batch(statements.map((statement) => db.prepare(statement)));
}
