// Lint config: typescript-eslint recommended, plus the import direction rules from style.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeOnly = ['node:*', 'onnxruntime-node', 'fs', 'path', 'os', 'child_process', 'worker_threads'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.wrangler/**', 'models/**', '**/*.min.*'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The decode loop is pure: no I/O, no runtime packages, no other project folders.
    files: ['src/decode/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: nodeOnly, message: 'src/decode is runtime-free.' },
        { group: ['onnxruntime-*', '**/model/**', '**/ort/**', '**/api/**', '**/backends/**', '**/scripts/**'], message: 'src/decode imports nothing outside itself.' },
      ] }],
    },
  },
  {
    // Shared core runs in workerd, Node and browsers.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: nodeOnly, message: 'src/ runs in workerd and browsers: no Node-only imports.' },
        { group: ['**/backends/**', '**/scripts/**', '**/test/**'], message: 'imports point inward.' },
      ] }],
    },
  },
);
