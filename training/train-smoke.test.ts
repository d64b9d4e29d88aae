import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../src/decode/index.ts';
import { modelCodec, openModel } from '../backends/node/open-model.ts';
import {
  DEFAULT_MODEL,
  DEFAULT_SETTINGS,
  type RunSettings,
  type SessionOptions,
} from './options.ts';
import { trainRun } from './train.ts';
import { loadState } from './state.ts';
import { promptIds } from './examples.ts';

const SETTINGS: RunSettings = {
  ...DEFAULT_SETTINGS,
  tasks: ['sort', 'add', 'tool'],
  seed: 11,
  batch: 8,
  steps: 30,
  lr: 3e-3,
  warmup: 5,
  model: {
    ...DEFAULT_MODEL,
    layers: 2,
    hidden: 32,
    heads: 2,
    kvHeads: 1,
    headDim: 16,
    rotaryDim: 8,
    intermediate: 64,
    denseLayers: 1,
    experts: 8,
    expertsPerTok: 2,
    groups: 4,
    topkGroup: 2,
    moeIntermediate: 16,
  },
  maxPositions: 64,
};

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'unmask-train-smoke-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const session = (out: string, extra: Partial<SessionOptions> = {}): SessionOptions => ({
  out,
  minutes: 5,
  evalEvery: 15,
  logEvery: 5,
  evalCount: 2,
  backend: 'wasm',
  ...extra,
});

describe('train-tiny smoke', () => {
  test('loss falls, experts balance, the checkpoint exports to a sparse-MoE package that decodes, and a resumed run is bit-identical', async () => {
    const lines: string[] = [];
    const full = await trainRun({
      settings: SETTINGS,
      session: session(join(root, 'full'), { packageDir: join(root, 'pkg') }),
      given: [],
      log: (l) => lines.push(l),
    });
    assert.equal(full.step, 30);
    assert.equal(full.stoppedBy, 'steps');
    assert.ok(full.lastLoss < full.firstLoss, `loss ${full.firstLoss} → ${full.lastLoss}`);
    assert.ok(lines.some((l) => /^step 30\/30 loss [\d.]+ .* steps\/s/.test(l)));
    assert.ok(lines.some((l) => /^eval step 15: sort [\d.]+% \(TPF/.test(l)));

    // The expert bias moved and the history logs each MoE layer's load, every row a distribution.
    const state = await loadState(join(root, 'full'));
    assert.ok([...state.bias.values()].some((b) => b.some((x) => x !== 0)));
    const loads = state.history.filter((h) => h.expertLoad);
    assert.ok(loads.length >= 6);
    for (const row of Object.values(loads.at(-1)!.expertLoad!))
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-3 && row.length === 8);
    assert.ok(lines.some((l) => /load max\/mean [\d.]+$|load max\/mean [\d.]+ /.test(l)));

    const model = await openModel(join(root, 'pkg'), { runtime: 'node', threads: 1 });
    assert.equal(model.manifest.decode.block_length, SETTINGS.blockLength);
    assert.equal(model.manifest.moe.implementation, 'ort-moe');
    const codec = modelCodec(model);
    const out = await generate(model.runner, promptIds(codec, 'sort: dbca'), {
      maxTokens: 16,
      threshold: 0.9,
    });
    assert.ok(out.tokens.length > 0 && out.stats.forwards > 0);

    // Stop after 12 steps (as a signal would), then resume to 30: same bytes as the uninterrupted run.
    let calls = 0;
    const part = await trainRun({
      settings: SETTINGS,
      session: session(join(root, 'split')),
      given: [],
      shouldStop: () => ++calls > 12,
    });
    assert.equal(part.step, 12);
    assert.equal(part.stoppedBy, 'signal');
    const resumed = await trainRun({
      settings: SETTINGS,
      session: session(join(root, 'split'), { resume: join(root, 'split') }),
      given: [],
    });
    assert.equal(resumed.step, 30);
    const [a, b] = await Promise.all([
      readFile(join(root, 'full', 'model.safetensors')),
      readFile(join(root, 'split', 'model.safetensors')),
    ]);
    assert.ok(a.equals(b), 'resumed weights differ from the uninterrupted run');
  });

  test('--resume refuses settings that contradict the checkpoint', async () => {
    await assert.rejects(
      trainRun({
        settings: { ...SETTINGS, seed: 12 },
        session: session(join(root, 'x'), { resume: join(root, 'full') }),
        given: ['seed'],
      }),
      /--resume: seed is 11 in the checkpoint, not 12/,
    );
  });
});
