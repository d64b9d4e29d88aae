/**
 * Which execution provider runs each node of a session. onnxruntime logs the placement at verbose level while
 * it creates a session (and only then, from native code to the process's stderr), so the session is created
 * in a child process and its log parsed here: `All nodes placed on [X]. Number of nodes: N`, or per provider
 * `Node(s) placed on [X]. Number of nodes: N` followed by one `  OpType (node name)` line per node.
 */
import { spawn } from 'node:child_process';

export interface ProviderPlacement {
  /** e.g. WebGpuExecutionProvider, CPUExecutionProvider. */
  provider: string;
  nodes: number;
  /** Nodes per op type (empty when the log gave only the count, i.e. every node is on this provider). */
  ops: Record<string, number>;
}

const ALL = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/;
const SOME = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/;
const NODE = /\]\s{2,}(\S+) \((.*)\)\s*$/;

/** The placements in an ORT verbose log (the last session's, if it holds several). */
export function parsePlacements(log: string): ProviderPlacement[] {
  let out: ProviderPlacement[] = [];
  let current: ProviderPlacement | undefined;
  for (const line of log.split('\n')) {
    if (line.includes('Node placements')) {
      out = [];
      current = undefined;
      continue;
    }
    const all = ALL.exec(line);
    if (all) {
      out.push({ provider: all[1], nodes: Number(all[2]), ops: {} });
      current = undefined;
      continue;
    }
    const some = SOME.exec(line);
    if (some) {
      current = { provider: some[1], nodes: Number(some[2]), ops: {} };
      out.push(current);
      continue;
    }
    const node = current && NODE.exec(line);
    if (node && current) current.ops[node[1]] = (current.ops[node[1]] ?? 0) + 1;
  }
  return out;
}

export interface PlacementReport {
  /** The provider asked for, and whether the session could be created on it at all. */
  requested: string;
  created: boolean;
  /** One line: why the session could not be created. */
  error?: string;
  placements: ProviderPlacement[];
  /** Op types with at least one node on the CPU although another provider was asked for. */
  cpuFallbackOps: string[];
}

/**
 * Creates a session for the package at `dir` on `provider` in a child process and reports where its nodes ran.
 * `childEntry` is a script that creates the session with verbose logging: scripts/ep-report.ts in child mode.
 */
export async function placementReport(
  childArgs: string[],
  requested: string,
  env: Record<string, string | undefined> = process.env,
): Promise<PlacementReport> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...childArgs], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const placements = parsePlacements(log);
  const error =
    code === 0
      ? undefined
      : (log
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /error|fail|couldn't|cannot/i.test(l))
          .at(-1)
          ?.replace(/^.*? was false\. /, '')
          .replace(/^[\w-]+: /, '') ?? `exit ${code}`);
  const cpu = placements.find((p) => p.provider === 'CPUExecutionProvider');
  const cpuFallbackOps =
    requested === 'cpu' || !cpu ? [] : Object.keys(cpu.ops).length ? Object.keys(cpu.ops) : ['*'];
  return {
    requested,
    created: code === 0,
    error,
    placements,
    cpuFallbackOps: cpuFallbackOps.sort(),
  };
}
