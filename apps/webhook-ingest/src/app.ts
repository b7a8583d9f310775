import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { AppError, ErrorResponse, QUEUES, type QueueName, queuePrefix } from '@wapi/contracts';
import {
  createInternalAuth,
  createService,
  parseInternalKeys,
  redisCheck,
  registerInternal,
  type ServiceApp,
} from '@wapi/service-kit';
import {
  type GlobalRepository,
  globalRepository,
  type IndexSpec,
  isDuplicateKeyError,
  migrate,
  mongoCheck,
  startExpirySweeper,
} from '@wapi/store';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { appSecretsOf, type Config, SERVICE } from './config';
import { GroupCommit } from './group-commit';
import {
  type DoneDoc,
  type JournalDoc,
  newCounters,
  Processor,
  type QuarantineDoc,
  RETENTION_MS,
  type SeenDoc,
} from './processor';
import { checkSignature } from './signature';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  /** The service's logger (runService passes its one logger; tests may pass one writing to a stream). */
  log?: Logger;
}

/** Meta's documented ceiling for a webhook body is far below this; larger bodies get 413. */
export const BODY_LIMIT = 3 * 1024 * 1024;

// No secondary index: every lookup is by `_id` (natural keys) or a periodic re-drive scan, and
// FerretDB would not use one for an equality filter anyway (docs/performance.md).
const INDEXES: IndexSpec[] = [];

/** Journal ids sort by arrival: base-36 milliseconds, a per-process counter, random bits. */
let sequence = 0;
function journalId(now: number): string {
  sequence = (sequence + 1) % 1_679_616;
  return `j${now.toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${randomBytes(5).toString('hex')}`;
}

const QuarantineItem = Type.Object({
  id: Type.String(),
  journalId: Type.String(),
  reason: Type.String(),
  phoneNumberId: Type.Optional(Type.String()),
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
  const secrets = appSecretsOf(config);
  const counters = newCounters();

  const journal = globalRepository<JournalDoc>(deps.db, 'webhook_journal');
  const doneRepo = globalRepository<DoneDoc>(deps.db, 'webhook_done');
  const seenRepo = globalRepository<SeenDoc>(deps.db, 'webhook_seen');
  const quarantine = globalRepository<QuarantineDoc>(deps.db, 'webhook_quarantine');
  await migrate(deps.db, INDEXES, log);

  // Ordered (the default): ids are fresh, so a duplicate cannot happen, and FerretDB writes an
  // unordered insertMany one document at a time.
  const journalCommit = new GroupCommit<JournalDoc>(async (docs) => {
    await journal.insertMany(docs);
  }, config.JOURNAL_BATCH_MAX);
  // Ordered first (one statement on FerretDB); only a batch holding a duplicate (a re-drive) is
  // written again unordered, skipping the duplicates.
  const appendAll = async <D extends { _id: string }>(repo: GlobalRepository<D>, docs: D[]) => {
    try {
      await repo.insertMany(docs as never);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      await repo.insertMany(docs as never, { ignoreDuplicates: true });
    }
  };
  const done = new GroupCommit<DoneDoc>((docs) => appendAll(doneRepo, docs), 500);
  const seen = new GroupCommit<SeenDoc>((docs) => appendAll(seenRepo, docs), 500);

  // Opened on first use: an instance that never processes anything holds no queue.
  const opened = new Map<QueueName, Queue>();
  const queues = (name: QueueName): Queue => {
    let queue = opened.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: deps.redis,
        prefix: queuePrefix(config.KEY_PREFIX, name),
        defaultJobOptions: { ...QUEUES[name].defaults },
      });
      queue.on('error', (err) => log.error({ queue: name, err }, 'queue error'));
      opened.set(name, queue);
    }
    return queue;
  };

  const processor = new Processor({
    redis: deps.redis,
    prefix: config.KEY_PREFIX,
    log,
    queues,
    journal,
    done,
    seen,
    seenRepo,
    quarantine,
    counters,
    ...(config.GATEWAY_URL
      ? { gateway: { url: config.GATEWAY_URL.replace(/\/$/, ''), auth: app.internalAuth! } }
      : {}),
  });
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
      doneRepo.find(range, { projection: { _id: 1 } }),
    ]);
    const finished = new Set(marks.map((m) => m._id));
    const open = entries.filter((e) => !finished.has(e._id));
    const waiting = open.filter((e) => !processor.active.has(e._id));
    for (let i = 0; i < waiting.length; i += 500) {
      const ids = waiting.slice(i, i + 500).map((e) => e._id);
      processor.enqueue(await journal.find({ _id: { $in: ids } }));
    }
    counters.redriven += waiting.length;
    watermark = open.length ? Math.min(...open.map((e) => e.receivedAt.getTime())) : upper.getTime();
    return waiting.length;
  }
  async function redriveQuarantine(ids?: string[]): Promise<number> {
    const items = await quarantine.find(ids ? { _id: { $in: ids } } : { reason: 'unknown_number' });
    if (items.length === 0) return 0;
    const numbers = [...new Set(items.flatMap((q) => (q.phoneNumberId ? [q.phoneNumberId] : [])))];
    const known = await processor.resolve(numbers);
    const ready = items.filter(
      (q) => q.reason !== 'unknown_number' || (q.phoneNumberId && known.has(q.phoneNumberId)),
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
      if (doc)
        await processor.processBatch([doc], q.reason === 'unknown_number' ? q.phoneNumberId : undefined);
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
    collections: ['webhook_journal', 'webhook_done', 'webhook_seen', 'webhook_quarantine'],
    intervalMs: 3_600_000,
    log,
  });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await sweeper.stop();
    await processor.idle();
    await Promise.all([...opened.values()].map((q) => q.close()));
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
        if (secrets.length === 0) throw new AppError('WEBHOOK_NOT_CONFIGURED');
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const problem = checkSignature(
          raw,
          request.headers['x-hub-signature-256'],
          secrets,
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
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            journalCommit.add(doc),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`journal write exceeded ${config.JOURNAL_TIMEOUT_MS} ms`)),
                config.JOURNAL_TIMEOUT_MS,
              );
            }),
          ]);
        } catch (err) {
          counters.journalFailures++;
          request.log.error({ err }, 'webhook journal write failed; answered 503 so Meta retries');
          throw new AppError(
            'DEPENDENCY_UNAVAILABLE',
            'The webhook journal cannot be written now; retry later.',
          );
        } finally {
          clearTimeout(timer);
        }
        counters.journaled++;
        processor.enqueue([doc]);
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
          lag: processor.active.size,
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
    /** Runs one re-drive pass now: unprocessed journal entries, then known quarantined numbers. */
    webhookRedrive?: () => Promise<{ journal: number; quarantine: number }>;
  }
}
