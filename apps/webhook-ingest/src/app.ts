import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  AppError,
  appSecretRecordIds,
  ErrorResponse,
  PLATFORM_WORKSPACE_ID,
  SecretChanged,
  vaultInvalidationChannel,
} from '@wapi/contracts';
import {
  createInternalAuth,
  createService,
  parseInternalKeys,
  redisCheck,
  registerInternal,
  type ServiceApp,
} from '@wapi/service-kit';
import { globalRepository, type IndexSpec, migrate, mongoCheck, startExpirySweeper } from '@wapi/store';
import { createVaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { type AppSecrets, fixedAppSecrets, loadVaultAppSecrets, type VaultAppSecrets } from './app-secrets';
import { type Config, listOf, SERVICE } from './config';
import { GroupCommit } from './group-commit';
import { registerIngestMetrics } from './metrics';
import {
  type DoneDoc,
  type JournalDoc,
  newCounters,
  type Processor,
  type QuarantineDoc,
  RETENTION_MS,
} from './processor';
import { buildProcessor, type LiveProcessor, ThreadProcessor } from './processor-host';
import { checkSignature } from './signature';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  /** The service's logger (runService passes its one logger; tests may pass one writing to a stream). */
  log?: Logger;
  /**
   * The built worker-thread entry (`dist/processor-worker.js`) to process journaled webhooks
   * in; server.ts passes it when `PROCESSOR_THREAD=true`. Without it, processing runs in
   * this thread (what the in-process tests use: the worker entry exists only once built).
   */
  processorWorker?: URL;
}

/** Meta's documented ceiling for a webhook body is far below this; larger bodies get 413. */
export const BODY_LIMIT = 3 * 1024 * 1024;

// No secondary index: every lookup is by `_id` (natural keys) or a periodic re-drive scan, and
// FerretDB would not use one for an equality filter anyway (docs/performance.md).
const INDEXES: IndexSpec[] = [];

/**
 * Journal ids sort by arrival: base-36 milliseconds, a per-process counter, then random bits
 * drawn once per process (two processes never share them, so ids never collide; drawing them
 * per request cost a measurable share of the request's CPU).
 */
let sequence = 0;
const processTag = randomBytes(5).toString('hex');
function journalId(now: number): string {
  sequence = (sequence + 1) % 1_679_616;
  return `j${now.toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${processTag}`;
}

const QuarantineItem = Type.Object({
  id: Type.String(),
  journalId: Type.String(),
  reason: Type.String(),
  phoneNumberId: Type.Optional(Type.String()),
  wabaId: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
  at: Type.String(),
});

/** Builds webhook-ingest: no I/O at import, every dependency passed in. */
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
    bodyLimit: BODY_LIMIT,
    ...(deps.log ? { log: deps.log } : {}),
  });
  const log = app.log as Logger;
  const counters = newCounters();

  // ---- App secrets: vault in production; the environment only when told so explicitly.
  const appIds = listOf(config.META_APP_IDS);
  const devSecrets = listOf(config.DEV_META_APP_SECRETS);
  if (appIds.length > 0 && devSecrets.length > 0)
    throw new Error(
      'webhook-ingest: META_APP_IDS (secrets from vault) and DEV_META_APP_SECRETS are both set; unset DEV_META_APP_SECRETS (it is for development only)',
    );
  let secrets: AppSecrets;
  let vaultSecrets: VaultAppSecrets | undefined;
  let feed: Redis | undefined;
  const vaultClosers: (() => Promise<void>)[] = [];
  if (appIds.length > 0) {
    // vault announces every change of a secret on its change feed: listening to it makes a
    // rotation or removal take effect at once; the periodic refresh covers a missed message.
    const subscriber = deps.redis.duplicate();
    subscriber.on('error', (err) => log.warn({ err }, 'vault change feed connection error'));
    feed = subscriber;
    // Read with this service's own identity: vault lets only webhook-ingest read meta.app_secret.
    const vault = createVaultClient({
      baseUrl: config.VAULT_URL,
      auth: app.internalAuth!,
      subscriber,
      prefix: config.KEY_PREFIX,
      cacheTtlMs: 0, // nothing cached: read() is used, on our own schedule
    });
    vaultClosers.push(() => vault.close());
    try {
      vaultSecrets = await loadVaultAppSecrets({ vault, appIds, vaultUrl: config.VAULT_URL, log });
    } catch (error) {
      await vault.close();
      subscriber.disconnect();
      throw error;
    }
    secrets = vaultSecrets;
    const ours = new Set(appIds.flatMap(appSecretRecordIds));
    const channel = vaultInvalidationChannel(config.KEY_PREFIX);
    subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      let change: unknown;
      try {
        change = JSON.parse(message);
      } catch {
        return;
      }
      if (
        Value.Check(SecretChanged, change) &&
        change.workspaceId === PLATFORM_WORKSPACE_ID &&
        change.purpose === 'meta.app_secret' &&
        ours.has(change.recordId)
      )
        void refreshSecrets();
    });
  } else {
    if (devSecrets.length > 0)
      log.warn(
        'Meta app secrets taken from DEV_META_APP_SECRETS (development only; production sets META_APP_IDS)',
      );
    else log.warn('no Meta app secret configured (META_APP_IDS is empty): every webhook POST answers 503');
    secrets = fixedAppSecrets(devSecrets);
  }
  /** One refresh now (also what the timer runs); counts a failure. */
  const refreshSecrets = async (): Promise<boolean> => {
    if (!vaultSecrets) return true;
    const ok = await vaultSecrets.refresh();
    if (!ok) counters.secretRefreshFailures++;
    return ok;
  };
  app.decorate('webhookSecretsRefresh', refreshSecrets);
  const secretTimer = vaultSecrets
    ? setInterval(() => void refreshSecrets(), config.APP_SECRET_REFRESH_MS).unref()
    : undefined;

  const journal = globalRepository<JournalDoc>(deps.db, 'webhook_journal');
  const doneRepo = globalRepository<DoneDoc>(deps.db, 'webhook_done');
  const quarantine = globalRepository<QuarantineDoc>(deps.db, 'webhook_quarantine');
  await migrate(deps.db, INDEXES, log);

  // Ordered (the default): ids are fresh, so a duplicate cannot happen, and FerretDB writes an
  // unordered insertMany one document at a time.
  //
  // Written entries go to the processor as one batch, straight from the commit: processing
  // batches then match journal batches (one directory lookup, one dedupe pipeline, one
  // addBulk per queue for all of them), and an entry whose request already timed out with
  // a 503 is processed too rather than waiting for the re-drive.
  const journalCommit = new GroupCommit<JournalDoc>(
    async (docs) => {
      await journal.insertMany(docs);
      live.enqueue(docs);
    },
    config.JOURNAL_BATCH_MAX,
    2,
    config.JOURNAL_TIMEOUT_MS,
  );
  registerIngestMetrics(app.metrics, {
    counters,
    journalBatches: () => journalCommit.batches,
    active: () => live.active,
    appSecrets: () => secrets.current().length,
  });

  // This thread's processor re-drives quarantined items (rare) and, unless PROCESSOR_THREAD
  // moves it to a worker thread, processes the live path too.
  const { processor, closeQueues } = buildProcessor({
    config,
    redis: deps.redis,
    db: deps.db,
    log,
    counters,
    auth: app.internalAuth!,
  });
  const live: LiveProcessor = deps.processorWorker
    ? new ThreadProcessor(deps.processorWorker, config, counters, log)
    : {
        active: processor.active,
        enqueue: (docs) => processor.enqueue(docs),
        idle: () => processor.idle(),
        close: async () => {},
      };
  app.decorate('webhookProcessor', processor);

  // ---- Re-drive: journal entries without a done mark, and quarantined unknown numbers.
  let watermark = Date.now() - RETENTION_MS;
  let redriving: Promise<void> | undefined;
  async function redriveJournal(): Promise<number> {
    const upper = new Date(Date.now() - config.REDRIVE_GRACE_MS);
    const range = { receivedAt: { $gte: new Date(watermark), $lt: upper } };
    // Ids first: the first pass after a start covers the whole retention, and only the open
    // entries' bodies are worth reading.
    const [entries, marks] = await Promise.all([
      journal.find(range, { projection: { _id: 1, receivedAt: 1 } }),
      // A mark lists the entries of one batch; any batch holding an entry of the range ends
      // at or after its start.
      doneRepo.find({ to: { $gte: new Date(watermark) } }, { projection: { entries: 1 } }),
    ]);
    const finished = new Set(marks.flatMap((m) => m.entries ?? []));
    const open = entries.filter((e) => !finished.has(e._id));
    const waiting = open.filter((e) => !live.active.has(e._id));
    for (let i = 0; i < waiting.length; i += 500) {
      const ids = waiting.slice(i, i + 500).map((e) => e._id);
      live.enqueue(await journal.find({ _id: { $in: ids } }));
    }
    counters.redriven += waiting.length;
    watermark = open.length ? Math.min(...open.map((e) => e.receivedAt.getTime())) : upper.getTime();
    return waiting.length;
  }
  async function redriveQuarantine(ids?: string[]): Promise<number> {
    const items = await quarantine.find(
      ids ? { _id: { $in: ids } } : { reason: { $in: ['unknown_number', 'unknown_waba'] } },
    );
    if (items.length === 0) return 0;
    const numbers = [...new Set(items.flatMap((q) => (q.phoneNumberId ? [q.phoneNumberId] : [])))];
    const wabas = [...new Set(items.flatMap((q) => (q.wabaId ? [q.wabaId] : [])))];
    const [known, knownWabas] = await Promise.all([
      processor.resolve(numbers),
      processor.resolveWabas(wabas),
    ]);
    const ready = items.filter((q) =>
      q.reason === 'unknown_number'
        ? q.phoneNumberId !== undefined && known.has(q.phoneNumberId)
        : q.reason === 'unknown_waba'
          ? q.wabaId !== undefined && knownWabas.has(q.wabaId)
          : true,
    );
    if (ready.length === 0) return 0;
    const bodies = new Map(
      (await journal.find({ _id: { $in: [...new Set(ready.map((q) => q.journalId))] } })).map((d) => [
        d._id,
        d,
      ]),
    );
    // Removed first: processing again quarantines anew whatever is still wrong.
    await quarantine.deleteMany({ _id: { $in: ready.map((q) => q._id) } });
    for (const q of ready) {
      const doc = bodies.get(q.journalId);
      if (!doc) continue;
      await processor.processBatch(
        [doc],
        q.reason === 'unknown_number' && q.phoneNumberId
          ? { phoneNumberId: q.phoneNumberId }
          : q.reason === 'unknown_waba' && q.wabaId
            ? { wabaId: q.wabaId }
            : undefined,
      );
    }
    counters.redriven += ready.length;
    return ready.length;
  }
  /** One re-drive pass (also what the timer runs); never two at once. */
  async function redrive(): Promise<{ journal: number; quarantine: number }> {
    while (redriving) await redriving;
    let result = { journal: 0, quarantine: 0 };
    redriving = (async () => {
      result = { journal: await redriveJournal(), quarantine: await redriveQuarantine() };
    })().finally(() => {
      redriving = undefined;
    });
    await redriving;
    return result;
  }
  app.decorate('webhookRedrive', redrive);
  const timer = setInterval(() => {
    redrive().catch((err: unknown) =>
      log.warn({ err }, 'webhook re-drive failed; the next interval retries'),
    );
  }, config.REDRIVE_INTERVAL_MS);
  timer.unref();
  const sweeper = startExpirySweeper({
    db: deps.db,
    collections: ['webhook_journal', 'webhook_done', 'webhook_quarantine'],
    intervalMs: 3_600_000,
    log,
  });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    if (secretTimer) clearInterval(secretTimer);
    for (const close of vaultClosers) await close();
    feed?.disconnect();
    await sweeper.stop();
    await live.idle();
    await live.close();
    await processor.idle();
    await closeQueues();
  });

  // ---- Meta's endpoints, in their own scope: there JSON bodies stay raw bytes.
  await app.register(async (meta) => {
    meta.removeContentTypeParser('application/json');
    meta.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );

    meta.get(
      '/api/v1/webhook',
      {
        schema: {
          querystring: Type.Object({
            'hub.mode': Type.Optional(Type.String({ maxLength: 64 })),
            'hub.verify_token': Type.Optional(Type.String({ maxLength: 512 })),
            'hub.challenge': Type.Optional(Type.String({ maxLength: 512 })),
          }),
          response: { 200: Type.String(), '4xx': ErrorResponse },
        },
      },
      async (request, reply) => {
        const q = request.query as Partial<Record<'hub.mode' | 'hub.verify_token' | 'hub.challenge', string>>;
        const token = config.WEBHOOK_VERIFY_TOKEN;
        const given = Buffer.from(q['hub.verify_token'] ?? '');
        const ok =
          token.length > 0 &&
          q['hub.mode'] === 'subscribe' &&
          given.length === Buffer.byteLength(token) &&
          timingSafeEqual(given, Buffer.from(token)) &&
          typeof q['hub.challenge'] === 'string';
        if (!ok) throw new AppError('WEBHOOK_VERIFY_TOKEN_INVALID');
        return reply.type('text/plain; charset=utf-8').send(q['hub.challenge'] as string);
      },
    );

    meta.post(
      '/api/v1/webhook',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          response: {
            200: Type.Object({ received: Type.Boolean() }),
            '4xx': ErrorResponse,
            '5xx': ErrorResponse,
          },
        },
      },
      async (request) => {
        counters.received++;
        const active = secrets.current();
        if (active.length === 0) throw new AppError('WEBHOOK_NOT_CONFIGURED');
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const problem = checkSignature(
          raw,
          request.headers['x-hub-signature-256'],
          active,
          request.headers['x-hub-signature'],
        );
        if (problem) {
          counters.rejected[problem] = (counters.rejected[problem] ?? 0) + 1;
          request.log.warn(
            { reason: problem, bytes: raw.length },
            'webhook signature refused; nothing stored',
          );
          throw new AppError('WEBHOOK_SIGNATURE_INVALID');
        }
        const now = Date.now();
        const doc: JournalDoc = {
          _id: journalId(now),
          receivedAt: new Date(now),
          body: raw.toString('utf8'),
          expiresAt: new Date(now + RETENTION_MS),
        };
        try {
          // The commit keeps the JOURNAL_TIMEOUT_MS deadline (one timer per batch, not one per request).
          await journalCommit.add(doc);
        } catch (err) {
          counters.journalFailures++;
          request.log.error({ err }, 'webhook journal write failed; answered 503 so Meta retries');
          throw new AppError(
            'DEPENDENCY_UNAVAILABLE',
            'The webhook journal cannot be written now; retry later.',
          );
        }
        counters.journaled++;
        return { received: true };
      },
    );
  });

  // ---- Operators.
  registerInternal(
    app,
    async (internal) => {
      internal.get(
        '/v1/webhook/stats',
        {
          schema: {
            response: {
              200: Type.Object({
                received: Type.Integer(),
                rejected: Type.Record(Type.String(), Type.Integer()),
                journaled: Type.Integer(),
                journalFailures: Type.Integer(),
                journalBatches: Type.Integer(),
                processed: Type.Integer(),
                items: Type.Integer(),
                duplicates: Type.Integer(),
                quarantined: Type.Record(Type.String(), Type.Integer()),
                redriven: Type.Integer(),
                lag: Type.Integer({ description: 'journaled entries not yet processed by this instance' }),
              }),
              '4xx': ErrorResponse,
            },
          },
        },
        async () => ({
          ...counters,
          journalBatches: journalCommit.batches,
          lag: live.active.size,
        }),
      );
      internal.get(
        '/v1/webhook/quarantine',
        {
          schema: {
            querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1_000, default: 100 }) }),
            response: { 200: Type.Object({ items: Type.Array(QuarantineItem) }), '4xx': ErrorResponse },
          },
        },
        async (request) => {
          const items = await quarantine.find({}, { limit: request.query.limit, sort: { at: 1 } });
          return {
            items: items.map((q) => ({
              id: q._id,
              journalId: q.journalId,
              reason: q.reason,
              ...(q.phoneNumberId ? { phoneNumberId: q.phoneNumberId } : {}),
              ...(q.wabaId ? { wabaId: q.wabaId } : {}),
              ...(q.detail ? { detail: q.detail } : {}),
              at: q.at.toISOString(),
            })),
          };
        },
      );
      internal.post(
        '/v1/webhook/quarantine/redrive',
        {
          schema: {
            body: Type.Object({
              ids: Type.Array(Type.String({ maxLength: 512 }), { minItems: 1, maxItems: 1_000 }),
            }),
            response: { 200: Type.Object({ redriven: Type.Integer() }), '4xx': ErrorResponse },
          },
        },
        async (request) => ({ redriven: await redriveQuarantine(request.body.ids) }),
      );
    },
    { auth: app.internalAuth! },
  );
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The webhook processor (tests wait on `idle()`). */
    webhookProcessor?: Processor;
    /** Runs one re-drive pass now: unprocessed journal entries, then known quarantined numbers and WABAs. */
    webhookRedrive?: () => Promise<{ journal: number; quarantine: number }>;
    /** Reads the app secrets from vault now (what the timer does); false when it failed and the last good set stayed. */
    webhookSecretsRefresh?: () => Promise<boolean>;
  }
}
