/**
 * Applying the D1 schema without wrangler (tests and local bootstrapping). The migrations themselves are the
 * `migrations/*.sql` files wrangler applies (its migrations_dir); callers read them (see backends/node/d1-migrations.ts).
 */
import type { D1Database } from '@cloudflare/workers-types';

export interface Migration {
  name: string;
  sql: string;
}

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
export async function applyMigrations(
  db: D1Database,
  migrations: readonly Migration[],
): Promise<void> {
  const statements = migrations.flatMap((migration) => splitStatements(migration.sql));
  await db.batch(statements.map((statement) => db.prepare(statement)));
}
