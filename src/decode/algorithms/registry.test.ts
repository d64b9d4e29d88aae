import { assert, test } from '../testing/harness.ts';
import { DecodeOptionsError } from '../errors.ts';
import { ALGORITHMS, algorithmNames, createAlgorithm, DEFAULT_ALGORITHM } from './registry.ts';

test('registry lists every algorithm under its own name, with a source', () => {
  assert.deepEqual(algorithmNames(), [
    'low_confidence',
    'hierarchy',
    'factor',
    'entropy_threshold',
  ]);
  assert.ok(algorithmNames().includes(DEFAULT_ALGORITHM));
  for (const [name, f] of Object.entries(ALGORITHMS)) {
    assert.equal(f.name, name);
    assert.ok(f.source.length > 0);
    assert.equal(createAlgorithm(name).name, name);
  }
});

test('unknown names and parameters are errors listing the known ones', () => {
  assert.throws(
    () => createAlgorithm('toString'),
    (e: unknown) => e instanceof DecodeOptionsError && e.param === 'algorithm',
  );
  assert.throws(() => createAlgorithm('factor', { low_threshold: 0.2 }), /known: factor/);
  assert.throws(() => createAlgorithm('low_confidence', { x: 1 }), /known: none/);
});
