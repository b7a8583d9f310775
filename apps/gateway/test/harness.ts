import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { SignupResponse } from '@wapi/contracts';
import { createLogger } from '@wapi/service-kit';
import {
  freePort,
  internalAuthEnv,
  mintServiceToken,
  spawnService,
  type TestContext,
  testKeySet,
  waitFor,
  withDatabase,
} from '@wapi/testkit';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';

/** A fresh access-token signing key (an Ed25519 seed). */
export const newSigningKey = () => randomBytes(32).toString('base64url');

/** Everything gateway needs, for `ctx`'s database and key prefix. */
export function gatewayEnv(ctx: TestContext, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: ctx.infra.redisUrl,
    MONGO_URL: ctx.mongoUrl,
    MONGO_DB: ctx.dbName,
    KEY_PREFIX: ctx.prefix,
    PORT: '0',
    LOG_LEVEL: 'silent',
    ACCESS_TOKEN_PRIVATE_KEY: newSigningKey(),
    NODE_ENV: 'test',
    ...internalAuthEnv('gateway'),
    ...extra,
  };
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
// biome-ignore lint/suspicious/noExplicitAny: tests assert answers field by field
export type Answer = { statusCode: number; body: string; headers: Record<string, unknown>; json(): any };

export interface Harness {
  app: Awaited<ReturnType<typeof buildApp>>;
  /** Calls the API with `token` (an access token or API key) as Bearer, if given. */
  call(
    method: Method,
    url: string,
    options?: { token?: string; body?: unknown; ip?: string; headers?: Record<string, string> },
  ): Promise<Answer>;
  /** Signs up a fresh user with a fresh workspace. */
  signup(label?: string): Promise<SignupResponse & { password: string }>;
  logs(): string;
  close(): Promise<void>;
}

let counter = 0;

/** Builds the gateway against `ctx` with `env`, logging everything into memory. */
export async function startGateway(
  ctx: TestContext,
  env: Record<string, string> = gatewayEnv(ctx),
  now?: () => Date,
  /** The Redis the app talks to (default the shared one); a private one can be stopped. */
  redisUrl: string = ctx.infra.redisUrl,
  /** Run the message workers too (on a worker-role connection of their own). */
  withWorkers = false,
): Promise<Harness> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const config = loadServiceConfig({ ...env, LOG_LEVEL: 'debug' });
  const log = createLogger('gateway', 'debug', stream);
  const redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const workerRedis = withWorkers ? new Redis(redisUrl, { maxRetriesPerRequest: null }) : undefined;
  const app = await buildApp({
    config,
    redis,
    db: ctx.db,
    log,
    ...(workerRedis ? { workerRedis } : {}),
    ...(now ? { now } : {}),
  });
  await app.ready();
  const call: Harness['call'] = (method, url, options = {}) =>
    app.inject({
      method,
      url,
      ...(options.ip ? { remoteAddress: options.ip } : {}),
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
  return {
    app,
    call,
    async signup(label = 'u') {
      counter += 1;
      const password = `correct horse ${randomBytes(6).toString('hex')}`;
      const answer = await call('POST', '/api/v1/auth/signup', {
        body: {
          email: `${label}${counter}.${randomBytes(4).toString('hex')}@example.com`,
          password,
          name: `${label} ${counter}`,
          workspaceName: `${label} workspace ${counter}`,
        },
        ip: `10.9.${counter % 250}.${Math.floor(Math.random() * 250)}`,
      });
      if (answer.statusCode !== 201) throw new Error(`signup failed: ${answer.statusCode} ${answer.body}`);
      return { ...answer.json(), password };
    },
    logs: () => lines.join(''),
    async close() {
      await app.close();
      redis.disconnect();
      workerRedis?.disconnect();
    },
  };
}

/** A service token of `caller` addressed to gateway (as webhook-ingest would send). */
export function serviceToken(caller: 'webhook-ingest' | 'message-sender' | 'compliance'): string {
  const key = testKeySet().get(caller);
  if (!key) throw new Error(`no test key for ${caller}`);
  return `Bearer ${mintServiceToken(key.privateKey, { iss: caller, aud: 'gateway' })}`;
}

/** The real vault, built (`apps/vault/dist`), on a free port with its own database. */
export async function startVault(ctx: TestContext): Promise<{ url: string; stop(): Promise<void> }> {
  const dist = fileURLToPath(new URL('../../vault/dist/server.js', import.meta.url));
  if (!existsSync(dist))
    throw new Error(`${dist} is missing: build vault first (pnpm --filter @wapi/vault build)`);
  const port = await freePort();
  const dbName = `${ctx.dbName}_v`;
  const vault = spawnService(dist, {
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    REDIS_URL: ctx.infra.redisUrl,
    KEY_PREFIX: ctx.prefix,
    MONGO_URL: withDatabase(ctx.infra.mongoUrl, dbName),
    MONGO_DB: dbName,
    TOKEN_MASTER_KEY: randomBytes(32).toString('hex'),
    ...internalAuthEnv('vault'),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok === true, {
    timeoutMs: 20_000,
    what: `vault ready (output: ${vault.output().slice(-500)})`,
  });
  return {
    url,
    async stop() {
      if (vault.child.exitCode === null) {
        vault.child.kill('SIGTERM');
        await vault.exited;
      }
      await ctx.mongo
        .db(dbName)
        .dropDatabase()
        .catch(() => undefined);
    },
  };
}
