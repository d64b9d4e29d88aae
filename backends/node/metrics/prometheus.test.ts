import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from './prometheus.ts';

test('renders counters, gauges and cumulative histograms in the text format', () => {
  const r = new Registry();
  const c = r.register(new Counter('vllm:prompt_tokens_total', 'Prompt tokens.'));
  const g = r.register(new Gauge('vllm:num_requests_running', 'Running.'));
  const h = r.register(new Histogram('vllm:time_to_first_token_seconds', 'TTFT.', [0.1, 1]));
  c.inc({ model_name: 'm"1' }, 5);
  g.set({}, () => 3);
  h.observe({ model_name: 'm' }, 0.05);
  h.observe({ model_name: 'm' }, 0.5);
  h.observe({ model_name: 'm' }, 5);
  assert.equal(
    r.render(),
    [
      '# HELP vllm:prompt_tokens_total Prompt tokens.',
      '# TYPE vllm:prompt_tokens_total counter',
      'vllm:prompt_tokens_total{model_name="m\\"1"} 5',
      '# HELP vllm:num_requests_running Running.',
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running 3',
      '# HELP vllm:time_to_first_token_seconds TTFT.',
      '# TYPE vllm:time_to_first_token_seconds histogram',
      'vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 1',
      'vllm:time_to_first_token_seconds_bucket{model_name="m",le="1"} 2',
      'vllm:time_to_first_token_seconds_bucket{model_name="m",le="+Inf"} 3',
      'vllm:time_to_first_token_seconds_sum{model_name="m"} 5.55',
      'vllm:time_to_first_token_seconds_count{model_name="m"} 3',
      '',
    ].join('\n'),
  );
  assert.throws(() => c.inc({}, -1), /cannot decrease/);
});
