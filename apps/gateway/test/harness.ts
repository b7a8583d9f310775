import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { SignupResponse } from '@wapi/contracts';
import { createLogger } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import { mintServiceToken, serviceEnv, type TestContext, testKeySet } from '@wapi/testkit';
import { Redis } from 'ioredis';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';
import { templateDoc, templateStore } from '../src/templates/store';

/** A fresh access-token signing key (an Ed25519 seed). */
export const newSigningKey = () => randomBytes(32).toString('base64url');

/** Everything gateway needs, for `ctx`'s database and key prefix. */
export function gatewayEnv(ctx: TestContext, extra: Record<string, string> = {}): Record<string, string> {
  return serviceEnv(ctx, 'gateway', {
    ACCESS_TOKEN_PRIVATE_KEY: newSigningKey(),
    NODE_ENV: 'test',
    ...extra,
  });
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

/** The real vault, built, as its own process (testkit). */
export { startVault } from '@wapi/testkit';

/** A connected number stored as the connect route stores it (for tests that need no vault). */
export async function insertPhoneNumber(
  ctx: TestContext,
  workspaceId: string,
  phoneNumberId: string,
  wabaId = '2001',
): Promise<void> {
  await ctx.db.collection('phone_numbers').insertOne({
    _id: phoneNumberId as never,
    workspaceId,
    wabaId,
    displayPhoneNumber: '+1 555 0100',
    verifiedName: null,
    status: 'connected',
    qualityRating: null,
    messagingLimitTier: null,
    throughputMps: 80,
    connectedAt: new Date(),
  });
}

/**
 * Stores a template as a sync from Meta would (through the gateway's own template store, so
 * its Redis cache is written too). Default: an APPROVED template whose body has no parameter.
 */
export async function storeTemplate(
  ctx: TestContext,
  workspaceId: string,
  template: {
    name: string;
    language?: string;
    category?: 'MARKETING' | 'UTILITY' | 'AUTHENTICATION';
    status?: string;
    components?: { type: string; text?: string; format?: string; buttons?: Record<string, unknown>[] }[];
    parameterFormat?: 'named' | 'positional';
    wabaId?: string;
  },
): Promise<void> {
  const store = templateStore(ctx.db, ctx.redis, ctx.prefix);
  await store.upsert(asWorkspaceId(workspaceId), [
    templateDoc(
      workspaceId,
      template.wabaId ?? '2001',
      {
        name: template.name,
        language: template.language ?? 'en',
        category: template.category ?? 'MARKETING',
        status: template.status ?? 'APPROVED',
        parameter_format: template.parameterFormat,
        components: template.components ?? [{ type: 'BODY', text: 'Your order is on its way.' }],
      },
      new Date(),
    ),
  ]);
}

/** Reads SSE events from `url` until `count` arrived (bounded), then aborts. */
export async function readEvents(url: string, token: string, count: number, lastEventId?: string) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 15_000);
  const events: { id: string; event: string; data: { messageId: string; status: string } }[] = [];
  try {
    const res = await fetch(url, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
      signal: abort.signal,
    });
    if (!res.headers.get('content-type')?.includes('text/event-stream')) {
      throw new Error(`not an event stream: ${res.status} ${await res.text()}`);
    }
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop() ?? '';
      for (const block of blocks) {
        const field = (name: string) =>
          block
            .split('\n')
            .find((l) => l.startsWith(`${name}: `))
            ?.slice(name.length + 2);
        const id = field('id');
        if (id) events.push({ id, event: field('event') ?? '', data: JSON.parse(field('data') ?? '{}') });
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
