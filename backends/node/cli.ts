/** Tiny CLI helpers: flag parsing with clear one-line errors, and a fail-fast main wrapper. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseFlags<T extends ParseArgsConfig['options']>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e: unknown) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
}

export function intFlag(
  value: string | undefined,
  name: string,
  min = Number.MIN_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(
      `--${name} must be an integer${min > Number.MIN_SAFE_INTEGER ? ` ≥ ${min}` : ''}, got ${JSON.stringify(value)}`,
    );
  return n;
}

export function floatFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n))
    throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * The items a comma-separated flag names, in the order given: `--models tiny,bench` → the specs called so. An
 * unknown name is a one-line UsageError listing the known ones.
 */
export function namedItems<T>(
  value: string,
  name: string,
  what: string,
  known: readonly T[],
  nameOf: (item: T) => string,
): T[] {
  return value.split(',').map((raw) => {
    const item = known.find((k) => nameOf(k) === raw.trim());
    if (!item)
      throw new UsageError(
        `--${name}: unknown ${what} ${JSON.stringify(raw.trim())}; known: ${known.map(nameOf).join(', ')}`,
      );
    return item;
  });
}

/** Runs a CLI main; any error exits 1 with one line `<tool>: <message>` on stderr. */
export function runMain(tool: string, main: () => Promise<void>): void {
  main().then(
    () => exitAfterOutput(0),
    (e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`${tool}: ${msg.split('\n')[0]}\n`);
      if (process.env.UNMASK_DEBUG) console.error(e);
      exitAfterOutput(1);
    },
  );
}

/**
 * Exits once stdout and stderr have handed everything to the OS. A pipe holds 64 KiB; what a slow reader has
 * not taken yet waits in Node's queue, and process.exit() would drop it.
 */
export function exitAfterOutput(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  // A write's callback runs after every earlier write on the stream has been flushed.
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0 || stream.destroyed) done();
    else stream.write('', done);
  }
}

/** A progress line on stderr, rewritten in place on a TTY. */
export function progress(label: string): (done: number, total: number, what?: string) => void {
  const tty = process.stderr.isTTY;
  return (done, total, what = '') => {
    const pct = total ? Math.round((100 * done) / total) : 100;
    const line = `${label} ${pct}% (${done}/${total}) ${what}`;
    if (tty) process.stderr.write(`\r${line.padEnd(70)}${done >= total ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
}
