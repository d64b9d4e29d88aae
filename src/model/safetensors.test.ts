import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SafetensorsError,
  bfloat16BitsToFloat32,
  decodeToFloat32,
  encodeSafetensors,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  parseSafetensorsHeader,
  readHeaderLength,
  readSafetensors,
  tensorBytes,
} from './safetensors.ts';

const f32 = (x: number) => Math.fround(x);

function roundTrip(dtype: 'F32' | 'F16' | 'BF16', values: number[]): Float32Array {
  const file = encodeSafetensors([
    { name: 't', dtype, shape: [values.length], data: Float32Array.from(values) },
  ]);
  const parsed = readSafetensors(file);
  const info = parsed.tensors.get('t')!;
  assert.equal(info.dtype, dtype);
  return decodeToFloat32(dtype, tensorBytes(file, parsed.dataStart, info));
}

describe('encode/decode round trip', () => {
  test('F32 is exact, including signed zero, infinities and subnormals', () => {
    const values = [0, -0, 1.5, -3.25e-3, 3.4e38, -Infinity, Infinity, 1e-40, f32(Math.PI)];
    const out = roundTrip('F32', values);
    values.forEach((v, i) => assert.ok(Object.is(out[i], f32(v)), `index ${i}: ${out[i]} vs ${v}`));
    assert.ok(Number.isNaN(roundTrip('F32', [NaN])[0]));
  });

  test('F16 keeps representable values and rounds the rest to nearest even', () => {
    const exact = [0, 1, -2, 0.5, 65504, -65504, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 1 + 2 ** -10];
    assert.deepEqual([...roundTrip('F16', exact)], exact);
    // 1 + ½ulp ties to even (1); 1 + 1.5ulp ties to even (1 + 2ulp); 65520 ties up to Infinity.
    assert.deepEqual(
      [
        ...roundTrip('F16', [
          1 + 2 ** -11,
          1 + 3 * 2 ** -11,
          65519,
          65520,
          2 ** -25,
          3 * 2 ** -25,
          1e-9,
        ]),
      ],
      [1, 1 + 2 ** -9, 65504, Infinity, 0, 2 ** -23, 0],
    );
    assert.ok(Object.is(roundTrip('F16', [-0])[0], -0));
    assert.ok(Number.isNaN(roundTrip('F16', [NaN])[0]));
  });

  test('BF16 keeps the top 16 bits and rounds to nearest even', () => {
    assert.deepEqual(
      [...roundTrip('BF16', [1, -2, 0.5, 3.0e38, 2 ** -130])],
      [1, -2, 0.5, bfloat16BitsToFloat32(float32ToBfloat16Bits(3.0e38)), 2 ** -130],
    );
    // bf16 has 7 mantissa bits: 1 + 2^-8 is half an ulp (ties to 1), 1 + 3·2^-8 ties up to 1 + 2^-6.
    assert.deepEqual(
      [...roundTrip('BF16', [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20])],
      [1, 1 + 2 ** -6, 1 + 2 ** -7],
    );
    assert.equal(roundTrip('BF16', [3.4e38])[0], Infinity);
    assert.ok(Number.isNaN(roundTrip('BF16', [NaN])[0]));
  });
});

describe('float conversions, exhaustively', () => {
  for (const [name, toBits, fromBits, maxFinite] of [
    ['fp16', float32ToFloat16Bits, float16BitsToFloat32, 0x7bff],
    ['bf16', float32ToBfloat16Bits, bfloat16BitsToFloat32, 0x7f7f],
  ] as const) {
    test(`${name}: every finite value round-trips and every midpoint ties to even`, () => {
      for (let h = 0; h <= maxFinite; h++) {
        for (const sign of [0, 0x8000]) {
          const v = fromBits(h | sign);
          assert.equal(toBits(v), h | sign);
        }
        if (h === maxFinite) continue;
        // The midpoint of two neighbours is exact in fp32 (one more significant bit than the format).
        const mid = (fromBits(h) + fromBits(h + 1)) / 2;
        assert.equal(toBits(mid), h % 2 === 0 ? h : h + 1, `midpoint above 0x${h.toString(16)}`);
        const up = new Float32Array([mid]);
        const bits = new Uint32Array(up.buffer);
        bits[0] += 1;
        assert.equal(toBits(up[0]), h + 1);
        bits[0] -= 2;
        assert.equal(toBits(up[0]), h);
      }
    });
  }
});

describe('file layout', () => {
  test('header is padded with spaces to a multiple of 8; metadata and order are kept', () => {
    const file = encodeSafetensors(
      [
        { name: 'b', dtype: 'F16', shape: [3], data: Float32Array.from([1, 2, 3]) },
        { name: 'a', dtype: 'F32', shape: [1, 2], data: Float32Array.from([4, 5]) },
      ],
      { format: 'pt' },
    );
    const n = readHeaderLength(file);
    assert.equal(n % 8, 0);
    const json = new TextDecoder().decode(file.subarray(8, 8 + n));
    assert.match(json, /^\{.*\} *$/);
    assert.deepEqual(Object.keys(JSON.parse(json)), ['__metadata__', 'b', 'a']);
    const parsed = readSafetensors(file);
    assert.deepEqual(parsed.metadata, { format: 'pt' });
    assert.deepEqual(parsed.tensors.get('b')!.dataOffsets, [0, 6]);
    assert.deepEqual(parsed.tensors.get('a')!.dataOffsets, [6, 14]);
    // 'a' starts at an odd offset: decoding copies, so misalignment is harmless.
    assert.deepEqual(
      [...decodeToFloat32('F32', tensorBytes(file, parsed.dataStart, parsed.tensors.get('a')!))],
      [4, 5],
    );
    assert.equal(file.length, 8 + n + 14);
  });

  test('decodeToFloat32 reads F64 and refuses integer dtypes', () => {
    const bytes = new Uint8Array(new Float64Array([1.5, -2]).buffer);
    assert.deepEqual([...decodeToFloat32('F64', bytes)], [1.5, -2]);
    const odd = new Uint8Array(5);
    odd.set([0x80, 0x3f, 0x00, 0xc0], 1); // bf16 1 and -2 starting at an odd byte offset
    assert.deepEqual([...decodeToFloat32('BF16', odd.subarray(1))], [1, -2]);
    assert.throws(() => decodeToFloat32('I8', new Uint8Array(4)), /unsupported dtype I8/);
    assert.throws(() => decodeToFloat32('F32', new Uint8Array(6)), /not a whole number/);
  });

  test('fp16 decoding covers subnormals, infinities and NaN', () => {
    assert.equal(float16BitsToFloat32(0x0001), 2 ** -24);
    assert.equal(float16BitsToFloat32(0x3c00), 1);
    assert.equal(float16BitsToFloat32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(float16BitsToFloat32(0x7e00)));
  });
});

describe('header validation', () => {
  const ok = { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] };
  const cases: [string, unknown, RegExp][] = [
    ['not JSON', '{', /not valid JSON/],
    ['an array', [], /not a JSON object/],
    ['unknown dtype', { w: { ...ok, dtype: 'F8' } }, /tensor "w": unknown dtype "F8"/],
    ['bad shape', { w: { ...ok, shape: [2, -1] } }, /tensor "w": shape/],
    ['bad offsets', { w: { ...ok, data_offsets: [0] } }, /tensor "w": data_offsets/],
    [
      'reversed offsets',
      { w: { ...ok, data_offsets: [16, 0] } },
      /tensor "w": data_offsets end 0 is before begin 16/,
    ],
    [
      'size mismatch',
      { w: { ...ok, data_offsets: [0, 12] } },
      /tensor "w": data_offsets span 12 bytes but F32 \[2,2\] needs 16/,
    ],
    ['metadata not strings', { __metadata__: { a: 1 } }, /__metadata__\.a is not a string/],
  ];
  for (const [name, header, message] of cases) {
    test(name, () => {
      const json = typeof header === 'string' ? header : JSON.stringify(header);
      assert.throws(
        () => parseSafetensorsHeader(json),
        (e: Error) =>
          e instanceof SafetensorsError && message.test(e.message) && !e.message.includes('\n'),
      );
    });
  }

  test('bounds are checked against the data size; gaps between tensors are allowed', () => {
    const header = JSON.stringify({
      w: ok,
      v: { dtype: 'BF16', shape: [3], data_offsets: [32, 38] },
    });
    assert.equal(parseSafetensorsHeader(header, 38).tensors.size, 2);
    assert.throws(
      () => parseSafetensorsHeader(header, 37),
      /tensor "v": data ends at byte 38 .* only 37 bytes/,
    );
  });

  test('header length is read little-endian and bounded', () => {
    assert.equal(readHeaderLength(Uint8Array.from([16, 1, 0, 0, 0, 0, 0, 0])), 272);
    assert.throws(
      () => readHeaderLength(new Uint8Array(4)),
      /shorter than the 8-byte header length/,
    );
    assert.throws(() => readHeaderLength(Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0])), /exceeds/);
    const file = encodeSafetensors([
      { name: 't', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ]);
    assert.throws(() => readSafetensors(file.subarray(0, 12)), /runs past the end/);
  });

  test('encoder refuses duplicate names and shape/data mismatches', () => {
    const t = { name: 'x', dtype: 'F32' as const, shape: [2], data: new Float32Array(2) };
    assert.throws(() => encodeSafetensors([t, t]), /duplicate/);
    assert.throws(() => encodeSafetensors([{ ...t, shape: [3] }]), /has 3 elements, data has 2/);
  });
});
