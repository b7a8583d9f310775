import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRedis } from '@wapi/service-kit';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';
import type { Seed } from '../src/domain/seed';

// Sandboxes and receivers a test started, when its file asked for them to be closed
// after each test (module state is per test file: vitest isolates files).
let opened: Array<{ close(): Promise<unknown> }> | undefined;

/** Closes every sandbox and receiver started during a test once that test ends. */
export function closeAfterEachTest(): void {
  opened = [];
  afterEach(async () => {
    for (const resource of (opened ?? []).splice(0).reverse()) await resource.close();
  });
}

function tracked<T extends { close(): Promise<unknown> }>(resource: T): T {
  opened?.push(resource);
  return resource;
}

export const ADMIN = 'test-admin-token-0123456789';
export const APP_ID = '100000000000001';
export const APP_SECRET = 'app-secret-for-tests';
export const WABA_ID = '200000000000001';
export const OTHER_WABA_ID = '200000000000002';
export const NUMBER_ID = '300000000000001';
export const UNREGISTERED_ID = '300000000000002';
export const OTHER_NUMBER_ID = '300000000000003';
export const BUSINESS_DISPLAY = '15550783881';
export const TOKEN = 'EAAtestsystemtoken0001';
export const NARROW_TOKEN = 'EAAtestbusinesstoken0002';
export const CUSTOMER = '16505551234';

/** A controllable clock for windows and limiters. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** Webhooks a test receiver got: raw bytes, parsed JSON, and whether the signature matched. */
export interface Received {
  raw: string;
  body: {
    object: string;
    entry: Array<{
      id: string;
      time?: number;
      changes: Array<{ field: string; value: Record<string, unknown> }>;
    }>;
  };
  signatureOk: boolean;
}

/**
 * A real HTTP receiver standing in for webhook-ingest: checks X-Hub-Signature-256 over the
 * raw bytes (§3.2) and answers the GET handshake (§3.1) when `verifyToken` matches.
 */
export async function startReceiver(
  options: {
    secret?: string;
    verifyToken?: string;
    fail?: (postNumber: number, raw: string) => boolean;
    /** Never answer this POST (the sandbox's timeout must give up on it). */
    hold?: (postNumber: number, raw: string) => boolean;
  } = {},
) {
  const received: Received[] = [];
  /** `Date.now()` when each POST's body had arrived, in arrival order (answered or not). */
  const arrivals: number[] = [];
  let posts = 0;
  let handshakes = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') {
      handshakes++;
      const url = new URL(req.url ?? '/', 'http://x');
      if (
        url.searchParams.get('hub.mode') === 'subscribe' &&
        url.searchParams.get('hub.verify_token') === options.verifyToken
      ) {
        res.writeHead(200).end(url.searchParams.get('hub.challenge'));
      } else res.writeHead(403).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      posts++;
      arrivals.push(Date.now());
      if (options.hold?.(posts, raw.toString())) return;
      if (options.fail?.(posts, raw.toString())) {
        res.writeHead(500).end();
        return;
      }
      const expected = `sha256=${createHmac('sha256', options.secret ?? APP_SECRET)
        .update(raw)
        .digest('hex')}`;
      received.push({
        raw: raw.toString(),
        body: JSON.parse(raw.toString()),
        signatureOk: req.headers['x-hub-signature-256'] === expected,
      });
      res.writeHead(200).end();
    });
  };
  const server: Server = createServer(handler);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return tracked({
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    arrivals,
    posts: () => posts,
    handshakes: () => handshakes,
    /** Every change value of every received POST, flattened. */
    values(field = 'messages') {
      return received.flatMap((r) =>
        r.body.entry.flatMap((e) => e.changes.filter((c) => c.field === field).map((c) => c.value)),
      );
    },
    statuses() {
      return this.values().flatMap((v) => (v.statuses as Array<Record<string, unknown>> | undefined) ?? []);
    },
    /** Every inbound message of every received POST (values batch several, §3.6). */
    messages() {
      return this.values().flatMap((v) => (v.messages as Array<Record<string, unknown>> | undefined) ?? []);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

export function baseSeed(callbackUrl?: string): Seed {
  return {
    apps: [{ id: APP_ID, name: 'Test App', secret: APP_SECRET, ...(callbackUrl ? { callbackUrl } : {}) }],
    wabas: [
      {
        id: WABA_ID,
        subscribedApps: [APP_ID],
        phoneNumbers: [
          { id: NUMBER_ID, display: BUSINESS_DISPLAY, verifiedName: 'Lucky Shrub' },
          { id: UNREGISTERED_ID, display: '15550000002', registered: false },
        ],
      },
      {
        id: OTHER_WABA_ID,
        subscribedApps: [APP_ID],
        phoneNumbers: [{ id: OTHER_NUMBER_ID, display: '447700900123' }],
      },
    ],
    tokens: [
      { value: TOKEN, appId: APP_ID, kind: 'system' },
      { value: NARROW_TOKEN, appId: APP_ID, kind: 'business', wabaIds: [OTHER_WABA_ID] },
    ],
    templates: [
      {
        wabaId: WABA_ID,
        name: 'order_update',
        language: 'en_US',
        category: 'UTILITY',
        components: [
          { type: 'BODY', text: 'Hi {{1}}, your order {{2}} has shipped.' },
          { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Track', url: 'https://example.com/t/{{1}}' }] },
        ],
      },
      {
        wabaId: WABA_ID,
        name: 'reservation_confirmation',
        language: 'en_US',
        category: 'UTILITY',
        parameterFormat: 'named',
        components: [
          { type: 'HEADER', format: 'IMAGE' },
          { type: 'BODY', text: 'Table for {{number_of_guests}} on {{day}}.' },
          { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Cancel reservation' }] },
        ],
      },
      {
        wabaId: WABA_ID,
        name: 'spring_sale',
        language: 'en_US',
        category: 'MARKETING',
        components: [
          { type: 'BODY', text: 'Spring sale: 20% off.' },
          { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Stop promotions' }] },
        ],
      },
    ],
  };
}

export interface Harness {
  app: FastifyInstance;
  url: string;
  graph(
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A Graph call at an explicit version (`v24.0`…). */
  graphAt(
    version: string,
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  control(
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Builds the sandbox with test config, listens on a free port, and talks to it over real HTTP. */
export async function startSandbox(options: {
  env?: Record<string, string>;
  now?: () => number;
  seed?: Seed;
  redisUrl: string;
}): Promise<Harness> {
  const config = loadServiceConfig({
    REDIS_URL: options.redisUrl,
    PORT: '0',
    LOG_LEVEL: 'silent',
    SANDBOX_ADMIN_TOKEN: ADMIN,
    SANDBOX_DETERMINISTIC: 'true',
    SANDBOX_STATUS_SENT_MS: '0',
    SANDBOX_STATUS_DELIVERED_MS: '0',
    SANDBOX_STATUS_READ_MS: '0',
    SANDBOX_TEMPLATE_REVIEW_MS: '0',
    SANDBOX_WEBHOOK_RETRY_BASE_MS: '1',
    SANDBOX_WEBHOOK_RETRY_HORIZON_MS: '5000',
    SANDBOX_WEBHOOK_TIMEOUT_MS: '2000',
    ...options.env,
  });
  const redis = createRedis(options.redisUrl, 'request', { warn: () => undefined });
  const app = await buildApp({
    config,
    redis,
    ...(options.now ? { now: options.now } : {}),
    seed: options.seed ?? baseSeed(),
  }).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const call = async (method: string, path: string, body: unknown, auth: string | null) => {
    const headers: Record<string, string> = {};
    if (auth !== null) headers.authorization = `Bearer ${auth}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  return tracked<Harness>({
    app,
    url,
    graph: (method, path, body, token = TOKEN) => call(method, `/v23.0${path}`, body, token),
    graphAt: (version, method, path, body, token = TOKEN) => call(method, `/${version}${path}`, body, token),
    control: (method, path, body, token = ADMIN) => call(method, `/_sandbox${path}`, body, token),
    async close() {
      await app.close();
      redis.disconnect();
    },
  });
}

/** Meta's error envelope check (§1.3). */
export function graphError(json: Record<string, unknown>) {
  return json.error as {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_data?: { details: string };
    fbtrace_id: string;
  };
}
