import { createMetaClient } from '@wapi/meta-client';
import {
  createProducer,
  createWorker,
  drainOnClose,
  type Producer,
  type ServiceApp,
} from '@wapi/service-kit';
import { globalRepository } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { createLedgerBatcher, type LedgerDoc } from './batcher';
import type { Config } from './config';
import { createDirectoryCache, type DirectoryCache } from './directory';
import { createSenderMetrics, REPORTED_PRIORITIES } from './metrics';
import { createParking } from './park';
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
  /** Gateway's directory, cached (shared with the token source); one is made when absent. */
  directory?: DirectoryCache;
  /** Random numbers for retry jitter (tests); `Math.random` when absent. */
  random?: () => number;
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
  // Queue depth is read on scrape only, through a queue handle opened on first scrape.
  let counts: Producer<'message.send.v1'> | undefined;
  const countsQueue = () => {
    counts ??= createProducer('message.send.v1', { connection: deps.redis, prefix, log });
    return counts.queue;
  };
  const metrics = createSenderMetrics(app.metrics, {
    byPriority: async () => {
      const queue = countsQueue();
      const [waiting, prioritized] = await Promise.all([
        queue.getWaitingCount(),
        queue.getCountsPerPriority(REPORTED_PRIORITIES.filter((p) => p > 0)),
      ]);
      return { ...prioritized, 0: waiting };
    },
    delayed: () => countsQueue().getDelayedCount(),
  });
  const directory =
    deps.directory ?? createDirectoryCache(deps.redis, prefix, config.SENDER_DIRECTORY_CACHE_MS, deps.now);
  // The worker's own keys, read at the first park (the worker exists by then).
  let worker: ReturnType<typeof createWorker<'message.send.v1'>> | undefined;
  const parking = createParking(deps.redis, () => {
    if (!worker) throw new Error('the send worker is not started yet');
    const key = (type: string) => worker?.toKey(type) ?? '';
    return {
      wait: key('wait'),
      prioritized: key('prioritized'),
      delayed: key('delayed'),
      marker: key('marker'),
      jobPrefix: key(''),
    };
  });
  const process = createSendProcessor({
    metrics,
    parking,
    redis: deps.redis,
    prefix,
    state,
    ledger,
    meta,
    tokens: deps.tokens,
    directory,
    events,
    log,
    pacing: {
      defaultMps: config.SENDER_DEFAULT_MPS,
      safety: config.SENDER_PACING_SAFETY,
      pairBurst: config.SENDER_PAIR_BURST,
      pairIntervalMs: config.SENDER_PAIR_INTERVAL_MS,
      marketingShare: config.SENDER_MARKETING_SHARE,
      marketingHorizonMs: config.SENDER_MARKETING_HORIZON_MS,
      messagingLimitMaxWaitMs: config.SENDER_MESSAGING_LIMIT_MAX_WAIT_MS,
      directoryCacheMs: config.SENDER_DIRECTORY_CACHE_MS,
    },
    retry: {
      baseMs: config.SENDER_RETRY_BASE_MS,
      maxMs: config.SENDER_RETRY_MAX_MS,
      ...(deps.random ? { random: deps.random } : {}),
    },
    inDoubtAfterMs: config.GRAPH_TIMEOUT_MS + 2_000,
    settleWaitMs: config.SENDER_SETTLE_WAIT_MS,
    ...(deps.now ? { now: deps.now } : {}),
  });
  worker = createWorker(
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
    await counts?.close();
  });
  return { worker, state, metrics, events };
}
