import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PARTS, PublishError, uploadPlan } from './upload-file.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

test('uploadPlan: one PUT up to the part size, equal parts above, never more than S3 allows', () => {
  assert.deepEqual(uploadPlan(8 * MiB, 8 * MiB), { kind: 'single' });
  // LLaDA2.0-mini int4 weights (9.6 GB) at the default 8 MiB: 1 145 parts.
  assert.deepEqual(uploadPlan(9.6e9, 8 * MiB), {
    kind: 'multipart',
    partSize: 8 * MiB,
    parts: Math.ceil(9.6e9 / (8 * MiB)),
  });
  // fp32 flash weights (412 GB) would need 49 000 parts of 8 MiB: the parts grow to fit 10 000.
  const flash = uploadPlan(412e9, 8 * MiB);
  assert.equal(flash.kind, 'multipart');
  if (flash.kind === 'multipart') {
    assert.ok(flash.parts <= MAX_PARTS, `${flash.parts} parts`);
    assert.equal(flash.partSize % MiB, 0);
  }
  // A part size above 5 GiB cannot be used, and a 6 GiB file is never one PUT (S3's 5 GiB PUT limit).
  assert.throws(() => uploadPlan(GiB, 6 * GiB), PublishError);
  assert.equal(uploadPlan(6 * GiB, 5 * GiB).kind, 'multipart');
  assert.throws(() => uploadPlan(6 * 2 ** 40, 5 * GiB), /5 TiB/);
});
