/** The rehearsal report as a short human-readable table. */
import type { RehearsalReport } from './rehearse.ts';
import { STAGES } from './report.ts';

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

export function summary(r: RehearsalReport): string {
  const lines = [
    `${r.preset}, ${r.layers} layers, ${(r.parameters / 1e9).toFixed(2)} B parameters, ${r.dtype}, served on ${r.provider}`,
    '',
    '| stage | wall | peak RSS | on disk |',
    '|---|---:|---:|---:|',
    ...STAGES.map((s) => {
      const st = r.stages[s];
      const disk = st.disk_bytes === undefined ? '' : gib(st.disk_bytes);
      return `| ${s} | ${st.wall_s.toFixed(1)} s | ${(st.peak_rss_mib / 1024).toFixed(2)} GiB | ${disk} |`;
    }),
    '',
    `package: ${gib(r.package_bytes)} (${r.dtype}); by dtype: ${Object.entries(
      r.package_bytes_by_dtype,
    )
      .map(([d, p]) => `${d} ${gib(p.bytes)}${p.measured ? '' : ' (est.)'}`)
      .join(', ')}`,
    `decode: ${r.ms_per_block.toFixed(0)} ms per 32-token block forward (median ${r.median_ms_per_block.toFixed(0)}), ${r.tokens_per_s.toFixed(2)} tokens/s, ${r.tokens.length} tokens`,
    `checks: cached = reference: ${r.cached_equals_reference}; all outputs finite: ${r.finite}`,
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memory_gib} GiB, ${r.machine.os}, Node ${r.machine.node}, onnxruntime-node ${r.machine.onnxruntime_node}`,
  ];
  return `${lines.join('\n')}\n`;
}
