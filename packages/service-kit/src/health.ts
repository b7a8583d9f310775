import { Type } from '@sinclair/typebox';
import { type DependencyCheck, ErrorResponse, HealthResponse, ReadinessResponse } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** One dependency probed by `GET /health/ready`. `probe` rejects when the dependency is unusable. */
export interface ReadinessCheck {
  name: string;
  probe: () => Promise<unknown>;
}

export interface HealthOptions {
  service: string;
  version: string;
  checks: readonly ReadinessCheck[];
  timeoutMs: number;
  /** Versions of dependencies and runtime, reported by `/health/ready`. */
  versions?: Record<string, string>;
  now?: () => number;
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name: check.name, ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      name: check.name,
      ok: false,
      latencyMs: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /health` (alive), `GET /health/ready` (every dependency answers within its
 * timeout; 503 naming the ones that do not) and `GET /metrics` (Prometheus text: request
 * duration by route and status, plus process metrics). Each app gets its own registry so
 * several apps can live in one test process.
 */
export function installHealth(app: FastifyInstance, options: HealthOptions): Registry {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  app.addHook('onResponse', async (request, reply) => {
    // Unmatched routes share one label so that scanners cannot blow up cardinality.
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const versions = { node: process.versions.node, ...options.versions };

  app.get(
    '/health',
    { logLevel: 'warn', schema: { response: { 200: HealthResponse, '5xx': ErrorResponse } } },
    async (): Promise<HealthResponse> => ({ status: 'ok', service: options.service }),
  );

  app.get(
    '/health/ready',
    {
      logLevel: 'warn',
      schema: { response: { 200: ReadinessResponse, 503: ReadinessResponse, '5xx': ErrorResponse } },
    },
    async (request, reply) => {
      const checks = await Promise.all(options.checks.map((c) => runCheck(c, options.timeoutMs)));
      const failed = checks.filter((c) => !c.ok).map((c) => c.name);
      // The reason (host names, addresses, driver text) goes to the log, not to callers.
      for (const check of checks) {
        if (!check.ok)
          request.log.warn({ dependency: check.name, reason: check.error }, 'dependency not ready');
      }
      const body: ReadinessResponse = {
        status: failed.length === 0 ? 'ready' : 'unavailable',
        service: options.service,
        version: options.version,
        uptimeSeconds: Math.round((now() - startedAt) / 1000),
        failed,
        checks: checks.map(({ name, ok, latencyMs }) => ({ name, ok, latencyMs })),
        versions,
      };
      return reply.status(failed.length === 0 ? 200 : 503).send(body);
    },
  );

  app.get(
    '/metrics',
    {
      logLevel: 'warn',
      schema: {
        response: { 200: Type.String({ description: 'Prometheus text format' }), '5xx': ErrorResponse },
      },
    },
    async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );

  return registry;
}
