import { existsSync } from 'node:fs';
import type { Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from './context';
import { readCompose, requiredVariablesIn } from './deploy-files';
import { freePort } from './ports';
import { type PrivateRedis, startPrivateRedis } from './redis-server';
import { spawnService } from './spawn';
import { waitFor } from './wait';

/** The part of a Fastify app the conformance suite drives. */
interface InjectableApp {
  inject(request: { method: 'GET'; url: string; headers?: Record<string, string> }): Promise<{
    statusCode: number;
    headers: Record<string, unknown>;
    body: string;
    json(): unknown;
  }>;
  close(): Promise<unknown>;
}

export interface ConformanceOptions {
  service: string;
  ctx: TestContext;
  /** Builds the app against the given Redis URL and database, as the app's server.ts would. */
  build(deps: {
    redisUrl: string;
    db: Db;
    mongoUrl: string;
  }): Promise<{ app: InjectableApp; close(): Promise<void> }>;
  /** `dist/server.js` of the built app. */
  distEntry: string;
  /** Variables the service refuses to start without. */
  required: readonly string[];
  /** A complete environment for the built server, given the private Redis and the test database URL. */
  env(deps: { redisUrl: string; mongoUrl: string; port: number }): Record<string, string>;
}

/**
 * What every wapi service must do, as one suite each app runs against itself:
 * health and readiness (including a Redis outage and recovery), metrics, the error body,
 * fail-fast config, and graceful shutdown of the built server.
 */
export function describeServiceConformance(options: ConformanceOptions): void {
  const { ctx, service } = options;

  describe(`${service}: health, readiness and errors`, () => {
    let redis: PrivateRedis;
    let built: Awaited<ReturnType<ConformanceOptions['build']>>;

    beforeAll(async () => {
      redis = await startPrivateRedis();
      built = await options.build({ redisUrl: redis.url, db: ctx.db, mongoUrl: ctx.mongoUrl });
    });
    afterAll(async () => {
      await built?.close();
      await redis?.dispose();
    });

    it('answers /health with 200 while the process is alive', async () => {
      const res = await built.app.inject({ method: 'GET', url: '/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok', service });
    });

    it('answers /health/ready 200, then 503 naming redis while Redis is down, then 200 again', async () => {
      const ready = async () => built.app.inject({ method: 'GET', url: '/health/ready' });
      const first = await waitFor(async () => ((await ready()).statusCode === 200 ? ready() : false), {
        what: `${service} ready`,
      });
      expect(first.json()).toMatchObject({ status: 'ready', service, failed: [] });

      await redis.stop();
      const down = await waitFor(
        async () => {
          const res = await ready();
          return res.statusCode === 503 ? res : false;
        },
        { what: `${service} to report redis down` },
      );
      expect(down.json()).toMatchObject({ status: 'unavailable', failed: ['redis'] });

      await redis.start();
      const back = await waitFor(
        async () => {
          const res = await ready();
          return res.statusCode === 200 ? res : false;
        },
        { what: `${service} to recover after redis restart`, timeoutMs: 15_000 },
      );
      expect(back.json()).toMatchObject({ status: 'ready', failed: [] });
    });

    it('exposes Prometheus metrics with request durations by route and status', async () => {
      await built.app.inject({ method: 'GET', url: '/health' });
      const res = await built.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toMatch(
        /http_request_duration_seconds_count\{[^}]*route="\/health"[^}]*status_code="200"/,
      );
      expect(res.body).toContain('process_cpu_seconds_total');
    });

    it('answers an unknown route with 404 ROUTE_NOT_FOUND and the request id', async () => {
      const res = await built.app.inject({
        method: 'GET',
        url: '/nope',
        headers: { 'x-request-id': 'req-conf-1' },
      });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({
        error: { code: 'ROUTE_NOT_FOUND', message: 'No route for GET /nope', requestId: 'req-conf-1' },
      });
      expect(res.headers['x-request-id']).toBe('req-conf-1');
    });
  });

  describe(`${service}: the built server`, () => {
    it('is built', () => {
      expect(existsSync(options.distEntry), `${options.distEntry} missing: run the build first`).toBe(true);
    });

    it('exits non-zero naming every missing required variable', async () => {
      const proc = spawnService(options.distEntry, {});
      const { code } = await proc.exited;
      expect(code).not.toBe(0);
      expect(requiredVariablesIn(proc.output())).toEqual([...options.required].sort());
    });

    it('is a docker-compose service built from the Dockerfile with every variable it requires', async () => {
      const proc = spawnService(options.distEntry, {});
      await proc.exited;
      const required = requiredVariablesIn(proc.output());
      const compose = readCompose().services[service];
      expect(compose, `docker-compose.yml has no service "${service}"`).toBeDefined();
      expect(compose?.build?.args?.SERVICE).toBe(service);
      const environment = compose?.environment ?? {};
      for (const name of required)
        expect(environment, `compose sets ${name} for ${service}`).toHaveProperty(name);
      expect(String(environment.HOST)).toBe('0.0.0.0');
    });

    it('starts, becomes ready, and exits 0 soon after SIGTERM', async () => {
      const redis = await startPrivateRedis();
      const port = await freePort();
      // MONGO_DB too: the built server must use this file's database, not its default one.
      const env = {
        ...options.env({ redisUrl: redis.url, mongoUrl: ctx.mongoUrl, port }),
        MONGO_DB: ctx.dbName,
      };
      const proc = spawnService(options.distEntry, env);
      try {
        // A server that dies at start fails the test at once, with its output.
        const earlyExit = proc.exited.then(() => {
          throw new Error(`${service} exited before it was ready:\n${proc.output()}`);
        });
        earlyExit.catch(() => undefined);
        await Promise.race([
          earlyExit,
          waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200, {
            what: `${service} server ready`,
            timeoutMs: 20_000,
          }),
        ]);
        const started = Date.now();
        proc.child.kill('SIGTERM');
        const { code } = await proc.exited;
        expect(code).toBe(0);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(proc.output()).toContain('"msg":"stopped"');
      } finally {
        if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
        await redis.dispose();
      }
    });
  });
}
