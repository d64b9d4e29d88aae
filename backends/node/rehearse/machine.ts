/** The machine a rehearsal ran on, for its report. */
import { statfs } from 'node:fs/promises';
import { cpus, release, totalmem, type } from 'node:os';
import { createRequire } from 'node:module';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gib: number;
  os: string;
  node: string;
  onnxruntime_node: string;
  /** Free space where the rehearsal worked, at the end. */
  disk_free_gib: number;
}

export async function machineInfo(workDir: string): Promise<MachineInfo> {
  const fs = await statfs(workDir).catch(() => null);
  let ort = 'unknown';
  try {
    ort = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string })
      .version;
  } catch {
    /* not installed */
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    onnxruntime_node: ort,
    disk_free_gib: fs ? Math.round(((fs.bavail * fs.bsize) / 2 ** 30) * 10) / 10 : 0,
  };
}
