import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageEventV1, MessageSendV1 } from '@wapi/contracts';
import { createProducer, jobIdOf, type ServiceApp } from '@wapi/service-kit';
import {
  internalAuthEnv,
  type MetaSandbox,
  type SandboxSentMessage,
  type TestContext,
  testKeySet,
  waitFor,
} from '@wapi/testkit';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from '../src/app';
import { loadServiceConfig, SERVICE } from '../src/config';
import type { TokenSource } from '../src/tokens';

export const WS = 'ws_sender';
const log = pino({ level: 'silent' });

/** A file holding the sandbox token (the dev token source reads it). */
export function tokenFile(token: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wapi-sender-')), 'token');
  writeFileSync(file, token);
  return file;
}

let counter = 0;
/** A fresh message id and recipient per call. */
export function nextId(label: string): string {
  counter += 1;
  return `${label}_${Date.now().toString(36)}_${counter}`;
}

export function templateSend(
  phoneNumberId: string,
  to: string,
  overrides: Partial<MessageSendV1> = {},
  template = 'hello_world',
): MessageSendV1 {
  return {
    workspaceId: WS,
    messageId: nextId('m'),
    phoneNumberId,
    to,
    category: 'utility',
    content: { type: 'template', template: { name: template, language: 'en_US' } },
    acceptedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Enqueues like gateway does, and reads what the sender emitted on `message.events.v1`. */
export function queues(ctx: TestContext) {
  const send = createProducer('message.send.v1', { connection: ctx.redis, prefix: ctx.prefix, log });
  const events = createProducer('message.events.v1', { connection: ctx.redis, prefix: ctx.prefix, log });
  return {
    send,
    events,
    async enqueue(messages: MessageSendV1[]) {
      await send.queue.addBulk(
        messages.map((m) => ({
          name: 'message.send.v1',
          data: m,
          opts: { jobId: jobIdOf(m.workspaceId, m.messageId) },
        })),
      );
    },
    /** Every event the sender emitted so far, by message id. */
    async emitted(): Promise<Map<string, MessageEventV1[]>> {
      const jobs = await events.queue.getJobs(['waiting', 'prioritized', 'delayed', 'completed', 'active']);
      const byId = new Map<string, MessageEventV1[]>();
      for (const job of jobs) {
        const event = job.data as MessageEventV1;
        if (!event.messageId) continue;
        byId.set(event.messageId, [...(byId.get(event.messageId) ?? []), event]);
      }
      return byId;
    },
    async waitForEvents(ids: string[], timeoutMs = 20_000): Promise<Map<string, MessageEventV1[]>> {
      return waitFor(
        async () => {
          const all = await this.emitted();
          return ids.every((id) => all.has(id)) ? all : false;
        },
        { timeoutMs, intervalMs: 100, what: `events of ${ids.length} messages` },
      );
    },
    async close() {
      await send.close();
      await events.close();
    },
  };
}

/** How many times the sandbox received each message (by the message id we send as opaque data). */
export async function receivedCounts(
  sandbox: MetaSandbox,
  phoneNumberId?: string,
): Promise<Map<string, SandboxSentMessage[]>> {
  const sent = await sandbox.control.sentMessages(phoneNumberId ? { phoneNumberId } : {});
  const byId = new Map<string, SandboxSentMessage[]>();
  for (const m of sent) {
    const id = m.payload.biz_opaque_callback_data;
    if (typeof id !== 'string') continue;
    byId.set(id, [...(byId.get(id) ?? []), m]);
  }
  return byId;
}

/**
 * message-sender in this process with its send worker, against `graphUrl` (the sandbox, or
 * a relay in front of it), and the test's queues. `env` adds or overrides variables.
 */
export async function startSender(
  ctx: TestContext,
  options: {
    graphUrl: string;
    tokens: TokenSource;
    env?: Record<string, string>;
    now?: () => number;
  },
): Promise<{ app: ServiceApp; q: ReturnType<typeof queues>; close(): Promise<void> }> {
  const config = loadServiceConfig({
    REDIS_URL: ctx.infra.redisUrl,
    MONGO_URL: ctx.mongoUrl,
    MONGO_DB: ctx.dbName,
    KEY_PREFIX: ctx.prefix,
    LOG_LEVEL: 'warn',
    ...internalAuthEnv(SERVICE),
    // gateway lists and replays dead letters (services.json).
    INTERNAL_AUTH_PUBLIC_KEYS: `gateway=${testKeySet().get('gateway')?.publicKey}`,
    GRAPH_BASE_URL: options.graphUrl,
    ...options.env,
  });
  const workerConnection = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
  const app = await buildApp({
    config,
    redis: ctx.redis,
    db: ctx.db,
    sending: { workerConnection, tokens: options.tokens, ...(options.now ? { now: options.now } : {}) },
  });
  await app.ready();
  const q = queues(ctx);
  return {
    app,
    q,
    async close() {
      await app.close();
      await q.close();
      workerConnection.disconnect();
    },
  };
}
