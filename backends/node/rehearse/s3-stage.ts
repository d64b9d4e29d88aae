/** The rehearsal's S3 server as a measured process of its own (its memory and I/O stay out of the others'). */
import { join } from 'node:path';
import { runMeasured, type MeasuredRun } from './measured-process.ts';

export interface S3Stage {
  endpoint: string;
  env: Record<string, string>;
  /** Stops the server; resolves with its measurements. */
  stop(): Promise<MeasuredRun>;
}

export async function startS3Stage(
  o: { entries: { stage: string }; work: string },
  dir: string,
  bucket: string,
): Promise<S3Stage> {
  const abort = new AbortController();
  let ready: (env: Record<string, string>) => void;
  const started = new Promise<Record<string, string>>((resolve) => (ready = resolve));
  const running = runMeasured(
    [o.entries.stage, '--stage', 's3', '--stage-options', JSON.stringify({ dir, bucket })],
    {
      reportFile: join(o.work, '.s3.rss'),
      signal: abort.signal,
      onStdoutLine: (line) => {
        if (line.startsWith('{')) ready(JSON.parse(line) as Record<string, string>);
      },
    },
  );
  const env = await Promise.race([
    started,
    running.then((r) => {
      throw new Error(`the S3 server did not start (exit ${r.code}): ${r.stderrTail.at(-1) ?? ''}`);
    }),
  ]);
  return {
    endpoint: env.S3_ENDPOINT,
    env,
    stop: () => {
      abort.abort();
      return running;
    },
  };
}
