import { test } from 'node:test';
import assert from 'node:assert/strict';
import { d1Migrations } from '../../../backends/node/d1-migrations.ts';
import { splitStatements } from './schema.ts';

test('the migrations are the .sql files wrangler applies, in order', () => {
  const migrations = d1Migrations();
  assert.deepEqual(
    migrations.map((m) => m.name),
    ['0001_init.sql'],
  );
});

test('splitStatements yields one statement per CREATE, comments dropped', () => {
  const statements = splitStatements(d1Migrations()[0].sql);
  assert.equal(statements.length, 6);
  for (const statement of statements) {
    assert.match(statement, /^CREATE /);
    assert.ok(!statement.includes('--'));
    assert.ok(!statement.endsWith(';'));
  }
});
