import type { QueueName } from '@wapi/contracts';
import {
  createInternalAuth,
  createProducer,
  createService,
  createWorker,
  drainOnClose,
  type Producer,
  type ProducerOptions,
  parseInternalKeys,
  redisCheck,
  type ServiceApp,
} from '@wapi/service-kit';
import { mongoCheck } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { type Config, SERVICE } from './config';
import { createAuditLog } from './data/audit-log';
import { createConsentLedger } from './data/consent-ledger';
import { registerAuditRoutes } from './routes/audit';
import { registerConsentRoutes } from './routes/consent';
import { auditProcessor } from './workers/audit.worker';
import { consentSignalProcessor } from './workers/consent-signal.worker';
import { startRetentionSweeper } from './workers/retention';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  /**
   * A `worker`-role connection: given, the app consumes `consent.signal.v1` and `audit.v1`
   * and runs the retention sweeper; without it (HTTP-only tests) it only answers requests.
   */
  workerRedis?: Redis;
  /** The service's logger (runService passes its one logger; tests may pass one writing to a stream). */
  log?: Logger;
  /** The clock (tests inject one for retention and the YES window). */
  now?: () => Date;
}

/**
 * A producer whose queue is opened on the first `add`, not when the app is built: building
 * does no I/O, and an instance that never changes consent (a health probe, a conformance
 * run) opens no queue.
 */
function lazyProducer<N extends QueueName>(name: N, options: ProducerOptions): Producer<N> {
  let created: Producer<N> | undefined;
  const producer = () => {
    created ??= createProducer(name, options);
    return created;
  };
  return {
    get queue() {
      return producer().queue;
    },
    add: (payload, jobOptions) => producer().add(payload, jobOptions),
    close: async () => {
      await created?.close();
    },
  };
}

/** Builds compliance: no I/O at import, every dependency passed in. */
export async function buildApp(deps: AppDeps): Promise<ServiceApp> {
  const { config } = deps;
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: config.LOG_LEVEL,
    readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis), mongoCheck(deps.db)],
    // Parsed here, so a malformed key stops start-up naming its variable.
    internalAuth: createInternalAuth({ service: SERVICE, keys: parseInternalKeys(SERVICE, config) }),
    ...(deps.log ? { log: deps.log } : {}),
  });
  const log = app.log as unknown as Logger;
  const now = deps.now ?? (() => new Date());
  const queueOptions = { connection: deps.redis, prefix: config.KEY_PREFIX, log };
  const sends = lazyProducer('message.send.v1', queueOptions);
  const auditQueue = lazyProducer('audit.v1', queueOptions);
  app.addHook('onClose', async () => {
    await Promise.all([sends.close(), auditQueue.close()]);
  });
  const ledger = createConsentLedger({
    db: deps.db,
    redis: deps.redis,
    prefix: config.KEY_PREFIX,
    sends,
    audit: auditQueue,
    log,
    now,
  });
  const audit = createAuditLog({ db: deps.db, log, now, retentionDays: config.AUDIT_RETENTION_DAYS });
  registerConsentRoutes(app, ledger, now);
  registerAuditRoutes(app, audit);

  if (deps.workerRedis) {
    const workerOptions = { connection: deps.workerRedis, prefix: config.KEY_PREFIX, log };
    const concurrency = { concurrency: config.WORKER_CONCURRENCY };
    drainOnClose(
      app,
      createWorker('consent.signal.v1', consentSignalProcessor(ledger), workerOptions, concurrency),
    );
    drainOnClose(app, createWorker('audit.v1', auditProcessor(audit), workerOptions, concurrency));
    const sweeper = startRetentionSweeper({ audit, intervalMs: config.RETENTION_SWEEP_INTERVAL_MS, log });
    app.addHook('onClose', () => sweeper.stop());
    // Redis is a cache of the ledger: refill it at start-up. A failure is not fatal (the
    // check endpoint rebuilds when it finds the list incomplete).
    app.addHook('onReady', async () => {
      await ledger.rebuildSuppression().catch((error: unknown) => {
        log.error(
          { err: error },
          'suppression list not rebuilt at start-up; the check endpoint rebuilds it on demand',
        );
      });
    });
  }
  return app;
}
