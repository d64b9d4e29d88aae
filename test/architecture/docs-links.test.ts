/** Every relative link in the repository's Markdown resolves to a file inside the repository; nothing cites outside it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = process.cwd();
const markdown = execFileSync('git', ['ls-files', '*.md'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
const LINK = /\]\(([^)\s]+)\)/g;

test('Markdown links resolve inside the repository', () => {
  assert.ok(markdown.includes('README.md'));
  const broken: string[] = [];
  for (const file of markdown) {
    for (const [, target] of readFileSync(file, 'utf8').matchAll(LINK)) {
      if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
      const path = resolve(dirname(join(root, file)), target.split('#')[0]);
      if (relative(root, path).startsWith('..') || !existsSync(path))
        broken.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});

test('nothing in the repository cites material outside it', () => {
  const tracked = execFileSync('git', ['ls-files'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  const citing = tracked.filter(
    (f) =>
      /\.(ts|md|js|json|toml|sh|yaml)$/.test(f) &&
      /\.\.\/shared\/|shared\/spec\//.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(citing, []);
});
