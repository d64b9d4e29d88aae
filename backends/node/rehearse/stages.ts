/**
 * What runs inside each stage process the rehearsal starts (`rehearse --stage <name> --stage-options <json>`):
 * the random checkpoint, the S3 server, and serving (load + generate). Export and publish are the real CLIs.
 */
import { LLADA2_DEFAULT_MASK_ID } from '../../../src/model/config.ts';
import { startS3rver } from './local-s3.ts';
import {
  PRESET_SPECIAL_IDS,
  PRESETS,
  presetConfig,
  presetTensors,
  type PresetName,
} from './presets.ts';
import { writeRandomCheckpoint } from './random-checkpoint.ts';
import { serveStage, type ServeStageOptions } from './serve-stage.ts';

export const STAGE_NAMES = ['checkpoint', 's3', 'serve'] as const;

interface CheckpointStageOptions {
  dir: string;
  preset: PresetName;
  layers: number;
  seed: number;
}

/** Runs one stage; results go to stdout as one JSON line, progress to `log`. */
export async function runStage(
  name: string,
  options: unknown,
  log: (line: string) => void,
): Promise<void> {
  if (name === 'checkpoint') {
    const o = options as CheckpointStageOptions;
    if (!(o.preset in PRESETS)) throw new Error(`unknown preset ${JSON.stringify(o.preset)}`);
    const config = presetConfig(o.preset, o.layers);
    let last = 0;
    const r = await writeRandomCheckpoint({
      dir: o.dir,
      config,
      tensors: presetTensors(config),
      specialIds: PRESET_SPECIAL_IDS,
      seed: o.seed,
      zeroHeadRows: [LLADA2_DEFAULT_MASK_ID],
      onProgress: (done, total, file) => {
        if (Date.now() - last < 5000 && done < total) return;
        last = Date.now();
        log(`checkpoint ${Math.round((100 * done) / total)}% (${done}/${total}) ${file}`);
      },
    });
    process.stdout.write(`${JSON.stringify({ files: r.files, parameters: r.parameters })}\n`);
    return;
  }
  if (name === 's3') {
    const o = options as { dir: string; bucket: string };
    const server = await startS3rver({ dir: o.dir, bucket: o.bucket });
    process.stdout.write(`${JSON.stringify(server.env)}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await server.close();
    return;
  }
  if (name === 'serve') {
    const result = await serveStage({ ...(options as ServeStageOptions), log });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  throw new Error(`unknown stage ${JSON.stringify(name)} (known: ${STAGE_NAMES.join(', ')})`);
}
