/**
 * The import boundaries of eslint.config.js, proven: for every zone, a probe import that crosses the boundary
 * must be reported and one that stays inside must not (a rule that silently stopped applying fails here).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(filePath: string, specifier: string): Promise<boolean> {
  const [result] = await eslint.lintText(`import '${specifier}';\n`, { filePath });
  return result.messages.some((m) => m.ruleId === 'no-restricted-imports');
}

/** [file, import that must fail, import that must pass] */
const PROBES: [string, string, string][] = [
  ['src/decode/probe.ts', '../api/app.ts', './plan.ts'],
  ['src/decode/probe.ts', 'hono', './algorithms/registry.ts'],
  ['src/decode/probe.ts', 'node:fs', './options.ts'],
  ['src/decode/algorithms/probe.ts', '../../model/manifest.ts', '../plan.ts'],
  ['src/model/probe.ts', '../api/errors.ts', '../decode/index.ts'],
  ['src/model/probe.ts', 'node:fs', '@huggingface/tokenizers'],
  ['src/model/stores/probe.ts', '../../tenants/keys.ts', '../store.ts'],
  ['src/ort/probe.ts', 'onnxruntime-node', '../model/manifest.ts'],
  ['src/export/probe.ts', 'node:fs', '../model/config.ts'],
  ['src/export/probe.ts', '../api/errors.ts', 'onnx-proto'],
  ['src/api/probe.ts', '../../backends/node/cli.ts', '../decode/index.ts'],
  ['src/api/probe.ts', '../tenants/keys.ts', '../model/text-codec.ts'],
  ['src/api/probe.ts', '../dispatch/index.ts', 'hono'],
  ['src/api/probe.ts', '../tenants/index.ts', '../grammar/errors.ts'],
  ['src/grammar/probe.ts', '../api/errors.ts', '../decode/index.ts'],
  ['src/grammar/probe.ts', '../../backends/wasm/xgrammar-workerd.ts', './runtime.ts'],
  ['src/grammar/probe.ts', 'node:fs', '@mlc-ai/web-xgrammar'],
  ['src/tenants/d1/probe.ts', '../../dispatch/index.ts', '../../api/tenancy.ts'],
  ['src/dispatch/pool/probe.ts', '../../tenants/index.ts', '../../api/engine.ts'],
  ['src/dispatch/probe.ts', 'node:http', './config.ts'],
  ['src/worker/probe.ts', '../../backends/wasm/wasm-engine.ts', '../tenants/index.ts'],
  ['src/playground/probe.ts', 'node:fs', '../ort/session-runner.ts'],
  ['src/playground/probe.ts', '../tenants/keys.ts', '../decode/index.ts'],
  ['src/playground/probe.ts', '../../backends/wasm/ort-wasm.ts', 'onnxruntime-web/wasm'],
  ['src/index.ts', '../backends/node/cli.ts', '../backends/wasm/ort-workerd.ts'],
  ['src/index.ts', 'node:fs', './api/app.ts'],
  ['backends/wasm/probe.ts', '../node/cli.ts', '../../src/ort/session-runner.ts'],
  ['backends/wasm/probe.ts', 'node:fs', 'onnxruntime-web/wasm'],
  ['backends/node/probe.ts', '../gpu/engine.ts', '../../src/api/app.ts'],
  ['backends/node/stores/probe.ts', '../../gpu/server.ts', '../disk-cache.ts'],
  ['backends/node/probe.ts', '../../scripts/start.ts', '../wasm/ort-wasm.ts'],
  ['backends/node/probe.ts', '../../test/fixtures/s3rver.ts', 'node:fs'],
  ['backends/gpu/probe.ts', '../wasm/ort-wasm.ts', '../node/listen.ts'],
  ['backends/gpu/http/probe.ts', '../../../scripts/serve-gpu.ts', '../../node/listen.ts'],
  ['training/probe.ts', '../backends/gpu/engine.ts', '../backends/node/cli.ts'],
  ['training/probe.ts', '../test/fixtures/export.ts', '../src/decode/index.ts'],
  ['scripts/probe.ts', '../test/fixtures/s3rver.ts', '../backends/node/cli.ts'],
  ['scripts/probe.ts', '../test/fixtures/export.ts', '../reliability/suite.ts'],
  ['reliability/probe.ts', '../test/fixtures/export.ts', '../backends/node/worker-harness.ts'],
  ['reliability/scenarios/probe.ts', '../../scripts/tenant.ts', '../../src/model/text-codec.ts'],
  ['backends/node/probe.ts', '../../reliability/suite.ts', '../listen.ts'],
];

describe('import boundaries (eslint no-restricted-imports)', () => {
  for (const [file, bad, good] of PROBES) {
    test(`${file}: '${bad}' is refused, '${good}' is allowed`, async () => {
      assert.equal(await restricted(file, bad), true, `${file} may import ${bad}`);
      assert.equal(await restricted(file, good), false, `${file} may not import ${good}`);
    });
  }

  test('tests beside their unit may import fixtures and Node', async () => {
    assert.equal(await restricted('src/decode/probe.test.ts', 'node:test'), false);
    assert.equal(await restricted('src/api/probe.test.ts', '../../test/fixtures/export.ts'), false);
  });
});
