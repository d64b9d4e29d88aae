import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS, splitStatements } from './schema.ts';

const DIR = join(import.meta.dirname, 'migrations');

test('MIGRATIONS mirrors migrations/*.sql exactly (the files wrangler applies)', () => {
  const files = readdirSync(DIR)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  assert.deepEqual(
    MIGRATIONS.map((m) => m.name),
    files,
  );
  for (const migration of MIGRATIONS)
    assert.equal(migration.sql, readFileSync(join(DIR, migration.name), 'utf8'));
});

test('splitStatements yields one statement per CREATE, comments dropped', () => {
  const statements = splitStatements(MIGRATIONS[0].sql);
  assert.equal(statements.length, 6);
  for (const statement of statements) {
    assert.match(statement, /^CREATE /);
    assert.ok(!statement.includes('--'));
    assert.ok(!statement.endsWith(';'));
  }
});
