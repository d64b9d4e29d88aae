/**
 * Trains the tiny LLaDA2-family demo model on synthetic tasks, on the CPU (tfjs + wasm). See training/.
 * Usage: npm run train-tiny -- --task all --minutes 35 --seed 0 --out .cache/train-tiny/all [--package DIR]
 */
import { runMain } from '../backends/node/cli.ts';
import { USAGE, parseTrainArgs } from '../training/options.ts';
import { readStateHeader } from '../training/state.ts';

runMain('train-tiny', async () => {
  const opts = parseTrainArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (opts.session.resume) await readStateHeader(opts.session.resume);
  // tfjs takes seconds to load: only after the options are known to be good.
  const { trainRun } = await import('../training/train.ts');
  let stop = false;
  const onSignal = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(
      'train-tiny: stopping after this step (checkpointing); signal again to quit now\n',
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await trainRun({
    ...opts,
    log: (line) => process.stdout.write(`${line}\n`),
    shouldStop: () => stop,
  });
});
