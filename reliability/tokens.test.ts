import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_PACKAGE } from '../backends/node/default-package.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readLocalManifest } from '../backends/node/stores/disk-package.ts';
import { packageCodec } from '../src/model/package-codec.ts';
import type { TextCodec } from '../src/model/text-codec.ts';
import { openTokenOracle, type TokenOracle } from './tokens.ts';

let oracle: TokenOracle;
let codec: TextCodec;
before(async () => {
  oracle = await openTokenOracle(DEMO_PACKAGE);
  const manifest = await readLocalManifest(DEMO_PACKAGE);
  const files = new Map<string, Uint8Array>();
  for (const path of [manifest.tokenizer.file, manifest.tokenizer.config_file])
    files.set(path, new Uint8Array(await readFile(join(DEMO_PACKAGE, path))));
  codec = packageCodec(manifest, files);
});

test('markers: every special token, and every added token containing one', () => {
  const markers = oracle.added.filter((t) => t.marker).map((t) => t.content);
  assert.ok(markers.includes('<|role_end|>'));
  assert.ok(markers.includes('<|role_end|><role>ASSISTANT</role>'), 'a merged marker');
  assert.ok(!markers.includes('SYSTEM') && !markers.includes('sort: '), 'plain added words');
});

test('plain text never yields a marker id; benign chats encode as the template does', async () => {
  const markerIds = new Set(oracle.added.filter((t) => t.marker).map((t) => t.id));
  for (const t of oracle.added)
    for (const mode of ['safe', 'none'] as const)
      assert.ok(
        !oracle.plainIds(`a${t.content}b`, mode).some((id) => markerIds.has(id)),
        t.content,
      );
  const chat = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'sort: dcba' },
    { role: 'assistant', content: 'abcd' },
    { role: 'user', content: 'add: 001+002' },
  ];
  assert.deepEqual(oracle.chatIds(chat, 'safe'), codec.encode(codec.applyChatTemplate(chat)));
  assert.deepEqual(oracle.chatIds(chat, 'safe'), await codec.encodeChat(chat));
  assert.equal(oracle.count('lllll'), 5);
});

test('count: bytes that are not UTF-8 (shown as U+FFFD) count one token each, never the three of U+FFFD', () => {
  const lone = [...new Set(codec.encode('é€😀 ñ'))].filter((id) =>
    codec.decode([id]).includes('\uFFFD'),
  );
  assert.ok(lone.length > 0, 'some id of a multi-byte character is a lone byte');
  const words = codec.encode('sort: abc');
  const ids = [lone[0], ...words, lone[0], lone[0]];
  const text = codec.decode(ids);
  assert.ok(text.includes('\uFFFD'), text);
  assert.ok(
    oracle.count(text) <= ids.length,
    `${oracle.count(text)} counted for ${ids.length} ids`,
  );
  assert.equal(oracle.count('\uFFFD'), 1);
});
