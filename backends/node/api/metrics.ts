/**
 * Prometheus metrics of the API on Node: requests and latency per route and status (a wrapper around the app's
 * fetch), and per tenant and model the requests and tokens the store meters (a TenantStore decorator, so the
 * series count exactly what usage records count). Labels use tenant ids, never names or keys; routes are the
 * known paths, anything else is "other", so cardinality stays bounded.
 */
import { Hono } from 'hono';
import { ApiError, errorResponse, renderErrors } from '../../../src/api/errors.ts';
import { bearerAuth } from '../../../src/api/bearer-auth.ts';
import type { TenantStore, UsageRecord } from '../../../src/api/tenancy.ts';
import {
  Counter,
  Gauge,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from '../metrics/prometheus.ts';

const ROUTES = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/models',
  '/v1/usage',
  '/health',
  '/metrics',
  '/openapi.json',
  '/docs',
];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function routeLabel(path: string): string {
  if (ROUTES.includes(path)) return path;
  if (path.startsWith('/v1/models/')) return '/v1/models/{id}';
  return path.startsWith('/admin/') ? '/admin' : 'other';
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests = this.registry.register(
    new Counter('unmask_api_requests_total', 'HTTP requests by route and status.'),
  );
  private readonly latency = this.registry.register(
    new Histogram(
      'unmask_api_request_duration_seconds',
      'Time to the response head (streams: to the first byte) by route.',
      LATENCY_BUCKETS,
    ),
  );
  private readonly tenantRequests = this.registry.register(
    new Counter(
      'unmask_tenant_requests_total',
      'Metered requests by tenant id, model, backend and final status.',
    ),
  );
  private readonly tokens = this.registry.register(
    new Counter(
      'unmask_tenant_tokens_total',
      'Metered tokens by tenant id, model and kind (prompt, completion).',
    ),
  );
  private readonly generationSeconds = this.registry.register(
    new Histogram(
      'unmask_generation_duration_seconds',
      'Whole generation time of metered requests (streams included) by model.',
      LATENCY_BUCKETS,
    ),
  );

  constructor(info: { model: string; provider: string }) {
    const up = this.registry.register(
      new Gauge(
        'unmask_edge_model_info',
        'The in-process edge model and its execution provider (always 1).',
      ),
    );
    up.set({ model: info.model, provider: info.provider }, () => 1);
  }

  /**
   * `fetch` with every response counted, and GET /metrics served here for `Authorization: Bearer <adminToken>`
   * (403 when no admin token is configured: tenant ids are not public).
   */
  wrap(
    fetch: (request: Request) => Promise<Response>,
    adminToken: string | undefined,
  ): (request: Request) => Promise<Response> {
    const metricsApp = new Hono();
    metricsApp.onError(renderErrors());
    metricsApp.notFound((c) =>
      errorResponse(
        new ApiError(405, 'invalid_request_error', `${c.req.method} /metrics: use GET`, {
          code: 'method_not_allowed',
        }),
      ),
    );
    metricsApp.get(
      '/metrics',
      bearerAuth({ token: adminToken, name: 'admin token', setting: 'ADMIN_TOKEN' }),
      () => new Response(this.render(), { headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } }),
    );
    return async (request) => {
      const started = performance.now();
      const path = new URL(request.url).pathname;
      const response = path === '/metrics' ? await metricsApp.fetch(request) : await fetch(request);
      const route = routeLabel(path);
      this.requests.inc({ route, status: String(response.status) });
      this.latency.observe({ route }, (performance.now() - started) / 1000);
      return response;
    };
  }

  /** The store, with every new usage record also counted here. */
  metered<S extends TenantStore>(store: S): S {
    const record = async (r: UsageRecord) => {
      await store.recordUsage(r);
      this.tenantRequests.inc({
        tenant: r.tenantId,
        model: r.model,
        backend: r.backend,
        status: String(r.status),
      });
      this.tokens.inc({ tenant: r.tenantId, model: r.model, kind: 'prompt' }, r.promptTokens);
      this.tokens.inc(
        { tenant: r.tenantId, model: r.model, kind: 'completion' },
        r.completionTokens,
      );
      this.generationSeconds.observe({ model: r.model }, r.durationMs / 1000);
    };
    return new Proxy(store, {
      get: (target, prop, receiver) =>
        prop === 'recordUsage' ? record : Reflect.get(target, prop, receiver),
    });
  }

  render(): string {
    return this.registry.render();
  }
}
