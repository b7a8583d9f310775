import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SERVICES, type ServiceName } from '@wapi/contracts';
import { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from './context';
import { composeSets, readCompose, requiredVariablesIn } from './deploy-files';
import { generateServiceKeys, internalAuthEnv, mintServiceToken, testKeySet } from './internal-keys';
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
  /** Every route of the app (service-kit's createService records them). */
  routeTable: ReadonlyArray<{ method: string; url: string; hasResponseSchema: boolean }>;
}

/** A config schema as service-kit's `loadConfig` takes it: variable name -> TypeBox schema. */
type ConfigSchema = Readonly<Record<string, { default?: unknown }>>;

export interface ConformanceOptions<C> {
  service: ServiceName;
  ctx: TestContext;
  /** The app's config schema: required variables and the built server's environment come from it. */
  configSchema: ConfigSchema;
  /** The app's config loader. */
  loadConfig(env: Readonly<Record<string, string | undefined>>): C;
  /** The app's `buildApp`, given what every service gets (services without a database ignore `db`). */
  buildApp(deps: { config: C; redis: Redis; db: Db }): Promise<InjectableApp>;
  /** `internalRoutes` from service-kit: the routes registered behind internal auth. */
  internalRoutes?(app: never): ReadonlyArray<{ method: string; url: string }>;
  /** `dist/server.js` of the built app. */
  distEntry: string;
  /**
   * Routes allowed to answer without declared response schemas (meta-sandbox's Graph
   * emulation answers in Meta's shapes, which its own tests check against contracts).
   */
  routesWithoutResponseSchema?: RegExp;
  /** Variables beyond what the schema derives (e.g. a seed file), for the built server and buildApp. */
  extraEnv?: Record<string, string>;
}

/** The variables of `schema` without a default: the ones a service refuses to start without. */
export function requiredVariablesOf(schema: ConfigSchema): string[] {
  return Object.entries(schema)
    .filter(([, property]) => !('default' in property))
    .map(([name]) => name)
    .sort();
}

/**
 * A complete environment for `service`, derived from its schema: Redis, the test database,
 * internal-auth keys for the service and its callers, a port.
 */
function environmentFor<C>(
  options: ConformanceOptions<C>,
  deps: { redisUrl: string; port: number },
): Record<string, string> {
  const schema = options.configSchema;
  return {
    REDIS_URL: deps.redisUrl,
    PORT: String(deps.port),
    LOG_LEVEL: 'info',
    ...('MONGO_URL' in schema ? { MONGO_URL: options.ctx.mongoUrl, MONGO_DB: options.ctx.dbName } : {}),
    ...('INTERNAL_AUTH_PRIVATE_KEY' in schema ? internalAuthEnv(options.service) : {}),
    ...options.extraEnv,
  };
}

/**
 * What every wapi service must do, as one suite each app runs against itself:
 * health and readiness (including a Redis outage and recovery), metrics, the error body,
 * internal routes closed to callers without a valid token, fail-fast config, the compose
 * entry, and graceful shutdown of the built server.
 */
export function describeServiceConformance<C>(options: ConformanceOptions<C>): void {
  const { ctx, service } = options;
  const build = async (redisUrl: string) => {
    const config = options.loadConfig({
      ...environmentFor(options, { redisUrl, port: 0 }),
      LOG_LEVEL: 'silent',
    });
    const redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    const app = await options.buildApp({ config, redis, db: ctx.db });
    return {
      app,
      async close() {
        await app.close();
        redis.disconnect();
      },
    };
  };

  describe(`${service}: configuration`, () => {
    it('reads the variables services.json implies: a database exactly when it owns one, keys when it uses internal auth', () => {
      expect('MONGO_URL' in options.configSchema).toBe(SERVICES[service].database);
      expect('INTERNAL_AUTH_PRIVATE_KEY' in options.configSchema).toBe(SERVICES[service].internalAuth);
    });
  });

  describe(`${service}: health, readiness and errors`, () => {
    let redis: PrivateRedis;
    let built: Awaited<ReturnType<typeof build>>;

    beforeAll(async () => {
      redis = await startPrivateRedis();
      built = await build(redis.url);
    });
    afterAll(async () => {
      await built?.close();
      await redis?.dispose();
    });

    it('declares response schemas on every route, so serialisation and OpenAPI come from contracts', () => {
      const exempt = options.routesWithoutResponseSchema;
      const missing = built.app.routeTable
        .filter((route) => !route.hasResponseSchema && !exempt?.test(route.url))
        .map((route) => `${route.method} ${route.url}`);
      expect(built.app.routeTable.map((route) => route.url)).toContain('/health/ready');
      expect(missing).toEqual([]);
    });

    if (!SERVICES[service].internalAuth)
      it('has no /internal route (services.json says it takes no internal calls)', () => {
        expect(built.app.routeTable.filter((route) => route.url.startsWith('/internal'))).toEqual([]);
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
        error: {
          code: 'ROUTE_NOT_FOUND',
          message: 'No route for GET /nope; check the method and path.',
          requestId: 'req-conf-1',
        },
      });
      expect(res.headers['x-request-id']).toBe('req-conf-1');
    });
  });

  // Only what applies to this service is declared (a skipped test would be a defect).
  const internal = SERVICES[service].internalAuth;
  const hasCallers = SERVICES[service].callers.length > 0;
  if (internal)
    describe(`${service}: internal routes`, () => {
      let redis: PrivateRedis;
      let built: Awaited<ReturnType<typeof build>>;
      let routes: ReadonlyArray<{ method: string; url: string }>;
      const keys = testKeySet();
      const callers = SERVICES[service].callers;
      // A service that is not among the callers (the service itself when every other one is).
      const stranger =
        (Object.keys(SERVICES) as ServiceName[]).find(
          (name) => name !== service && SERVICES[name].internalAuth && !callers.includes(name),
        ) ?? service;

      let registered: ReadonlyArray<{ method: string; url: string }>;

      beforeAll(async () => {
        redis = await startPrivateRedis();
        built = await build(redis.url);
        registered = options.internalRoutes?.(built.app as never) ?? [];
        // Every route under /internal, however it was registered: the checks below cover a
        // route that skipped registerInternal too.
        routes = built.app.routeTable.filter((route) => route.url.startsWith('/internal'));
      });
      afterAll(async () => {
        await built?.close();
        await redis?.dispose();
      });

      const call = (url: string, token?: string) =>
        built.app.inject({
          method: 'GET',
          url,
          ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
        });

      it('registers every /internal route through registerInternal, /internal/v1/whoami among them', () => {
        expect(options.internalRoutes, 'pass internalRoutes from @wapi/service-kit').toBeDefined();
        const behindAuth = new Set(registered.map((r) => `${r.method} ${r.url}`));
        expect(behindAuth).toContain('GET /internal/v1/whoami');
        const outside = routes.map((r) => `${r.method} ${r.url}`).filter((route) => !behindAuth.has(route));
        expect(outside, 'register these with registerInternal(app, plugin, { auth })').toEqual([]);
      });

      it('answers every internal route 401 INTERNAL_AUTH_REQUIRED without a token', async () => {
        for (const route of routes) {
          const res = await built.app.inject({ method: route.method as 'GET', url: route.url });
          expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
          expect((res.json() as { error: { code: string } }).error.code).toBe('INTERNAL_AUTH_REQUIRED');
        }
      });

      it('answers every internal route 401 for a token from a service that is not an allowed caller', async () => {
        const token = mintServiceToken(keys.get(stranger)!.privateKey, { iss: stranger, aud: service });
        for (const route of routes) {
          const res = await built.app.inject({
            method: route.method as 'GET',
            url: route.url,
            headers: { authorization: `Bearer ${token}` },
          });
          expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
        }
      });

      if (hasCallers)
        it('accepts each allowed caller, signed with its own key', async () => {
          for (const caller of callers) {
            const res = await call(
              '/internal/v1/whoami',
              mintServiceToken(keys.get(caller)!.privateKey, { iss: caller, aud: service }),
            );
            expect(res.statusCode, caller).toBe(200);
            expect(res.json()).toEqual({ service, caller });
          }
        });

      if (hasCallers)
        it('refuses a token that names an allowed caller but is signed with another key', async () => {
          const caller = callers[0]!;
          const forged = mintServiceToken(generateServiceKeys().privateKey, { iss: caller, aud: service });
          const ownKeyOfStranger = mintServiceToken(keys.get(stranger)!.privateKey, {
            iss: caller,
            aud: service,
          });
          for (const token of [forged, ownKeyOfStranger]) {
            const res = await call('/internal/v1/whoami', token);
            expect(res.statusCode).toBe(401);
            expect((res.json() as { error: { code: string } }).error.code).toBe('INTERNAL_AUTH_INVALID');
          }
        });

      if (hasCallers)
        it("refuses a future-dated token, an array audience and another service's audience", async () => {
          const caller = callers[0]!;
          const key = keys.get(caller)!.privateKey;
          const now = Math.floor(Date.now() / 1000);
          const elsewhere = (Object.keys(SERVICES) as ServiceName[]).find((name) => name !== service)!;
          for (const claims of [
            { iss: caller, aud: service, iat: now + 600, exp: now + 660 },
            { iss: caller, aud: [service, elsewhere] },
            { iss: caller, aud: elsewhere },
          ]) {
            const res = await call('/internal/v1/whoami', mintServiceToken(key, claims));
            expect(res.statusCode, JSON.stringify(claims)).toBe(401);
          }
        });
    });

  describe(`${service}: the built server`, () => {
    it('is built', () => {
      expect(existsSync(options.distEntry), `${options.distEntry} missing: run the build first`).toBe(true);
    });

    it('exits 78 naming every missing required variable', async () => {
      const proc = spawnService(options.distEntry, {});
      const { code } = await proc.exited;
      expect(code).toBe(78);
      expect(requiredVariablesIn(proc.output())).toEqual(requiredVariablesOf(options.configSchema));
    });

    if (internal)
      it('exits 78 naming a malformed internal-auth key', async () => {
        const env = environmentFor(options, { redisUrl: 'redis://127.0.0.1:1', port: 0 });
        const proc = spawnService(options.distEntry, {
          ...env,
          INTERNAL_AUTH_PRIVATE_KEY: 'not-a-key',
          INTERNAL_AUTH_PUBLIC_KEYS: 'gateway=also-not-a-key',
        });
        const { code } = await proc.exited;
        expect(code).toBe(78);
        expect(proc.output()).toMatch(/INTERNAL_AUTH_PRIVATE_KEY is malformed/);
        expect(proc.output()).toMatch(/INTERNAL_AUTH_PUBLIC_KEYS is malformed/);
      });

    it('is a docker-compose service built from the Dockerfile with every variable it requires', async () => {
      const proc = spawnService(options.distEntry, {});
      await proc.exited;
      const required = requiredVariablesIn(proc.output());
      const compose = readCompose().services[service];
      expect(compose, `docker-compose.yml has no service "${service}"`).toBeDefined();
      expect(compose?.build?.args?.SERVICE).toBe(service);
      const environment = compose?.environment ?? {};
      // A secret may come from a file instead (`NAME_FILE`, the Docker secrets convention).
      for (const name of required)
        expect(composeSets(environment, name), `compose sets ${name} (or ${name}_FILE) for ${service}`).toBe(
          true,
        );
      expect(String(environment.HOST)).toBe('0.0.0.0');
    });

    it('starts, becomes ready, and exits 0 soon after SIGTERM', async () => {
      const redis = await startPrivateRedis();
      const port = await freePort();
      // MONGO_DB too: the built server must use this file's database, not its default one.
      const env = environmentFor(options, { redisUrl: redis.url, port });
      // The private key from a file, as docker-compose passes it (`NAME_FILE`).
      const keyFile = join(mkdtempSync(join(tmpdir(), 'wapi-key-')), 'private-key');
      if (env.INTERNAL_AUTH_PRIVATE_KEY) {
        writeFileSync(keyFile, `${env.INTERNAL_AUTH_PRIVATE_KEY}\n`, { mode: 0o600 });
        env.INTERNAL_AUTH_PRIVATE_KEY_FILE = keyFile;
        delete env.INTERNAL_AUTH_PRIVATE_KEY;
      }
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
        rmSync(dirname(keyFile), { recursive: true, force: true });
        await redis.dispose();
      }
    });
  });
}
