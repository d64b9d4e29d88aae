/**
 * @module
 * SVG → PNG with headless Chromium, for the charts the benchmarks and the trainer write (generated locally and
 * committed; CI never runs this).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export function svgToPng(svgPath: string, pngPath: string, width: number, height: number): void {
  const chromium = findChromium();
  if (!chromium)
    throw new Error(
      `no Chromium found (${CANDIDATES.join(', ')}): install it (apt-get install -y chromium) or open the SVG`,
    );
  const r = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      '--force-device-scale-factor=1',
      `--window-size=${width},${height}`,
      `--screenshot=${resolve(pngPath)}`,
      pathToFileURL(resolve(svgPath)).href,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0 || !existsSync(pngPath))
    throw new Error(
      `chromium failed (${r.status}): ${(r.stderr || '').split('\n').find((l) => l.trim()) ?? 'no output'}`,
    );
}
