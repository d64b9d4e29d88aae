// Regenerates backends/wasm/xgrammar/xgrammar.mjs and xgrammar.wasm from the installed @mlc-ai/web-xgrammar.
// Usage: npm run vendor:xgrammar
import { writeFile } from 'node:fs/promises';
import { runMain } from '../backends/node/cli.ts';
import { readXGrammarBundle, vendorXGrammar } from '../backends/node/xgrammar-vendor.ts';

const OUT = new URL('../backends/wasm/xgrammar/', import.meta.url);

runMain('vendor-xgrammar', async () => {
  const { module, wasm } = vendorXGrammar(await readXGrammarBundle());
  await writeFile(new URL('xgrammar.mjs', OUT), module);
  await writeFile(new URL('xgrammar.wasm', OUT), wasm);
  process.stderr.write(
    `vendor-xgrammar: wrote xgrammar.mjs (${module.length} B) and xgrammar.wasm (${wasm.length} B)\n`,
  );
});
