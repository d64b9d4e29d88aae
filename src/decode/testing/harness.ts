/**
 * The one place src/decode touches Node: the built-in test runner and assert, re-exported for *.test.ts files
 * (the folder's lint rule bans node:* so that nothing shipped can use it; nothing shipped imports this file).
 */
// eslint-disable-next-line no-restricted-imports -- tests run on Node's built-in runner
export { default as assert } from 'node:assert/strict';
// eslint-disable-next-line no-restricted-imports -- tests run on Node's built-in runner
export { test } from 'node:test';
