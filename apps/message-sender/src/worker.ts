import { createMetaClient } from '@wapi/meta-client';
import { createProducer, createWorker, drainOnClose, type ServiceApp } from '@wapi/service-kit';
import { globalRepository } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { createLedgerBatcher, type LedgerDoc } from './batcher';
import type { Config } from './config';
import { createSenderMetrics } from './metrics';
import { createRedisState } from './redis-state';
import { createSendProcessor } from './sender';
import type { TokenSource } from './tokens';

/** The store collection of the send ledger (appended claims and outcomes, `_id`-keyed). */
export const LEDGER_COLLECTION = 'send_ledger';

export interface SendingDeps {
  config: Config;
  /** A `request`-role connection: pacing, ledger, consent and window reads, event enqueues. */
  redis: Redis;
  /** A `worker`-role connection for BullMQ. */
  workerConnection: Redis;
  db: Db;
  log: Logger;
  tokens: TokenSource;
  now?: () => number;
}

/**
 * Starts the `message.send.v1` worker on `app`: closing the app drains it (in-flight sends
 * finish and are recorded before the connections close).
 */
export type Sending = ReturnType<typeof startSending>;

export function startSending(app: ServiceApp, deps: SendingDeps) {
  const { config, log } = deps;
  const prefix = config.KEY_PREFIX;
  const meta = createMetaClient({
    baseUrl: config.GRAPH_BASE_URL,
    version: config.GRAPH_VERSION,
    timeoutMs: config.GRAPH_TIMEOUT_MS,
    maxSockets: Math.max(64, config.SENDER_CONCURRENCY),
  });
  const events = createProducer('message.events.v1', {
    connection: deps.redis,
    prefix,
    log,
    timeoutMs: 5_000,
  });
  const state = createRedisState(deps.redis, prefix);
  const ledger = createLedgerBatcher(globalRepository<LedgerDoc>(deps.db, LEDGER_COLLECTION));
  const metrics = createSenderMetrics();
  const process = createSendProcessor({
    metrics,
    redis: deps.redis,
    prefix,
    state,
    ledger,
    meta,
    tokens: deps.tokens,
    events,
    log,
    pacing: {
      defaultMps: config.SENDER_DEFAULT_MPS,
      safety: config.SENDER_PACING_SAFETY,
      pairBurst: config.SENDER_PAIR_BURST,
      pairIntervalMs: config.SENDER_PAIR_INTERVAL_MS,
      marketingShare: config.SENDER_MARKETING_SHARE,
    },
    inDoubtAfterMs: config.GRAPH_TIMEOUT_MS + 2_000,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const worker = createWorker(
    'message.send.v1',
    process,
    { connection: deps.workerConnection, prefix, log },
    {
      concurrency: config.SENDER_CONCURRENCY,
      lockDuration: config.SENDER_LOCK_MS,
      stalledInterval: Math.max(1_000, Math.floor(config.SENDER_LOCK_MS / 2)),
    },
  );
  drainOnClose(app, worker);
  app.addHook('onClose', async () => {
    await events.close();
  });
  return { worker, state, metrics, events };
}
