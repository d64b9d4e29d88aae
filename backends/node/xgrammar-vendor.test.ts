/** The committed backends/wasm/xgrammar files are exactly what the vendoring patch makes of the installed package. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { readXGrammarBundle, vendorXGrammar } from './xgrammar-vendor.ts';
import * as xgrammar from '../wasm/xgrammar/xgrammar.mjs';

const dir = new URL('../wasm/xgrammar/', import.meta.url);

test('xgrammar.mjs and xgrammar.wasm match a fresh vendoring (npm run vendor:xgrammar)', async () => {
  const { module, wasm } = vendorXGrammar(await readXGrammarBundle());
  assert.equal(await readFile(new URL('xgrammar.mjs', dir), 'utf8'), module);
  assert.deepEqual(new Uint8Array(await readFile(new URL('xgrammar.wasm', dir))), wasm);
  assert.ok(WebAssembly.validate(wasm as Uint8Array<ArrayBuffer>));
});

test('the patch refuses a bundle it does not recognise', () => {
  assert.throws(() => vendorXGrammar('(function(){})()'), /xgrammar patch/);
});

test('the module wants a compiled WebAssembly.Module', () => {
  assert.throws(
    () => xgrammar.configureXGrammar({ wasmModule: new Uint8Array(4) as never }),
    /WebAssembly.Module/,
  );
});
