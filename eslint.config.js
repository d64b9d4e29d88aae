// Lint config: typescript-eslint recommended, plus the import boundaries of docs/architecture.md.
//
// Each production file is matched by exactly one boundary block below (flat config: a later block that sets
// `no-restricted-imports` replaces an earlier one for the files both match, so the blocks must not overlap).
// test/architecture/boundaries.test.ts proves every rule with a probe import that must fail.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const NODE_ONLY = [
  'node:*',
  'onnxruntime-node',
  'fs',
  'fs/*',
  'path',
  'os',
  'child_process',
  'worker_threads',
  'miniflare',
  'wrangler',
];
const SRC_FOLDERS = [
  'api',
  'decode',
  'dispatch',
  'export',
  'grammar',
  'model',
  'ort',
  'tenants',
  'worker',
  'playground',
];
const TOP_FOLDERS = ['backends', 'scripts', 'training', 'benchmarks', 'test', 'reliability'];
const TESTS = ['**/*.test.ts'];

const nodeOnly = (where) => ({
  group: NODE_ONLY,
  message: `${where} runs in workerd and browsers: no Node-only imports.`,
});
/** Imports of these top-level folders (by any relative path). */
const topFolders = (names, message) => ({
  group: names.flatMap((n) => [`**/${n}`, `**/${n}/**`]),
  message,
});
/** Imports of these src/ folders from a sibling src/ folder. */
const srcFolders = (names, message) => ({
  group: names.flatMap((n) => [`**/${n}`, `**/${n}/**`]),
  message,
});

/** One boundary block: `files` (minus tests and nested zones in `ignores`) may not import what `patterns` name. */
const zone = (files, patterns, ignores = []) => ({
  files,
  ignores: [...TESTS, ...ignores],
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

/** A src/ folder may import only the src/ folders it lists (imports point inward). */
const srcZone = (folder, allowed) =>
  zone(
    [`src/${folder}/**/*.ts`],
    [
      nodeOnly(`src/${folder}`),
      topFolders(
        TOP_FOLDERS,
        'src/ imports point inward: never backends/, scripts/, training/, benchmarks/ or test/.',
      ),
      srcFolders(
        SRC_FOLDERS.filter((f) => f !== folder && !allowed.includes(f)),
        `src/${folder} may import only ${allowed.length ? allowed.map((f) => `src/${f}`).join(', ') : 'itself'}.`,
      ),
    ],
  );

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.wrangler/**',
      'models/**',
      '**/*.min.*',
      '.data/**',
      '.probe/**',
      // Generated from @mlc-ai/web-xgrammar (npm run vendor:xgrammar).
      'backends/wasm/xgrammar/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The decode loop is pure: no packages at all, no other project folder.
  zone(
    ['src/decode/**/*.ts'],
    [
      { regex: '^(?!\\.\\.?/)', message: 'src/decode imports no packages: it is runtime-free.' },
      topFolders(TOP_FOLDERS, 'src/decode imports nothing outside itself.'),
      srcFolders(
        SRC_FOLDERS.filter((f) => f !== 'decode'),
        'src/decode imports nothing outside itself.',
      ),
    ],
  ),
  srcZone('model', ['decode']),
  srcZone('ort', ['decode', 'model']),
  srcZone('export', ['decode', 'model']),
  // The grammar wrapper (structured output): xgrammar arrives injected, so no runtime-specific imports.
  srcZone('grammar', ['decode']),
  srcZone('api', ['decode', 'grammar', 'model']),
  srcZone('tenants', ['api', 'model']),
  srcZone('dispatch', ['api', 'decode', 'grammar', 'model']),
  srcZone('worker', ['api', 'decode', 'grammar', 'model', 'tenants', 'dispatch']),
  srcZone('playground', ['api', 'decode', 'model', 'ort']),
  // The Workers entry is the one src/ file that wires a concrete backend (backends/wasm).
  zone(
    ['src/index.ts'],
    [
      nodeOnly('src/index.ts'),
      topFolders(
        ['scripts', 'training', 'benchmarks', 'test', 'backends/node', 'backends/gpu'],
        'the Worker entry wires backends/wasm only.',
      ),
    ],
  ),
  // backends/wasm runs inside workerd: Web APIs only; no other backend.
  zone(
    ['backends/wasm/**/*.ts'],
    [
      nodeOnly('backends/wasm'),
      topFolders(
        ['scripts', 'training', 'benchmarks', 'test', 'backends/node', 'backends/gpu'],
        'backends/wasm imports src/ only.',
      ),
      {
        group: ['../node', '../node/**', '../gpu', '../gpu/**'],
        message: 'backends/wasm imports src/ only.',
      },
    ],
  ),
  // The shared Node runtime: src/ and backends/wasm (ORT-web in Node), never the GPU server.
  zone(
    ['backends/node/**/*.ts'],
    [
      topFolders(
        ['scripts', 'training', 'benchmarks', 'test', 'reliability'],
        'backends/node is a library: no CLIs, training, benchmarks or tests.',
      ),
      {
        group: [
          '**/backends/gpu',
          '**/backends/gpu/**',
          '../gpu',
          '../gpu/**',
          '../../gpu',
          '../../gpu/**',
        ],
        message: 'backends/node never imports the GPU server.',
      },
    ],
  ),
  // The GPU container server: src/ and the shared Node runtime.
  zone(
    ['backends/gpu/**/*.ts'],
    [
      topFolders(
        ['scripts', 'training', 'benchmarks', 'test', 'reliability'],
        'backends/gpu is a library: no CLIs, training, benchmarks or tests.',
      ),
      {
        group: [
          '**/backends/wasm',
          '**/backends/wasm/**',
          '../wasm',
          '../wasm/**',
          '../../wasm',
          '../../wasm/**',
        ],
        message: 'backends/gpu imports src/ and backends/node only.',
      },
    ],
  ),
  // Training: a Node library over src/ and backends/node.
  zone(
    ['training/**/*.ts'],
    [
      topFolders(
        ['scripts', 'benchmarks', 'test', 'backends/gpu'],
        'training imports src/ and backends/node only.',
      ),
    ],
  ),
  // The reliability suite: a Node library that attacks the real servers (src/, backends/node), run by a CLI.
  zone(
    ['reliability/**/*.ts'],
    [
      topFolders(
        ['scripts', 'training', 'benchmarks', 'test', 'backends/gpu', 'backends/wasm'],
        'reliability/ drives the servers through src/ and backends/node only.',
      ),
    ],
  ),
  // CLIs are thin entries over libraries; they never reach into tests.
  zone(['scripts/**/*.ts'], [topFolders(['test'], 'scripts/ never import test fixtures.')]),
);
