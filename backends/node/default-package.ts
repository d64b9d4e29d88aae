/** The package `npm start` and `npm run serve:api` serve by default: the trained demo model, else the random tiny one. */
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureTinyPackage } from './tiny-package.ts';

export const DEMO_PACKAGE = resolve('assets/demo-model');

export async function defaultPackage(): Promise<string> {
  try {
    await access(join(DEMO_PACKAGE, 'manifest.json'));
    return DEMO_PACKAGE;
  } catch {
    return ensureTinyPackage({ quiet: false });
  }
}
