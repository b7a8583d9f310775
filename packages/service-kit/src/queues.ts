import { Value } from '@sinclair/typebox/value';
import { AppError, QUEUES, type QueueName, type QueuePayload, queuePrefix } from '@wapi/contracts';
import { type Job, type JobsOptions, Queue, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface QueueConnection {
  /**
   * For a producer on a request path: a `request`-role connection (see createRedis), so an
   * enqueue during an outage fails at once instead of waiting in ioredis' offline queue.
   * For a worker: a `worker`-role connection (waits out outages, as BullMQ requires).
   */
  connection: Redis;
  /** Where queue and worker errors go (without a listener BullMQ writes them to the console). */
  log: Pick<Logger, 'error'>;
  /** Key prefix name (`KEY_PREFIX`); each queue gets `${prefix}:{q:<queue>}` (see queuePrefix). */
  prefix: string;
}

export interface ProducerOptions extends QueueConnection {
  /**
   * Longest time `add()` may take before it rejects with DEPENDENCY_UNAVAILABLE (503). Keep it
   * at or below the service's READINESS_TIMEOUT_MS so a request answers within it.
   * Default 1,000 ms.
   */
  timeoutMs?: number;
}

/** The code `add()` rejects with while Redis cannot take the job. */
const UNAVAILABLE = 'DEPENDENCY_UNAVAILABLE';

function describeErrors(name: QueueName, payload: unknown): string {
  const first = [...Value.Errors(QUEUES[name].payload, payload)].slice(0, 3);
  return first.map((e) => `${e.path || '/'} ${e.message}`).join('; ');
}

/** Throws QUEUE_PAYLOAD_INVALID unless `payload` matches the queue's schema. */
export function assertPayload<N extends QueueName>(
  name: N,
  payload: unknown,
): asserts payload is QueuePayload<N> {
  if (!Value.Check(QUEUES[name].payload, payload)) {
    throw new AppError('QUEUE_PAYLOAD_INVALID', `${name}: ${describeErrors(name, payload)}`);
  }
}

/** Longest job id accepted (it becomes part of several Redis keys per job). */
export const JOB_ID_MAX_LENGTH = 256;
/** Characters a job id may hold: URL-unreserved ones plus `%` (jobIdOf's escape). */
const JOB_ID_CHARS = /^[A-Za-z0-9._~%-]+$/;
/**
 * BullMQ gives its own jobs integer ids from a counter and refuses custom integer ids
 * ("Custom Id cannot be integers"); `05` or `-0` are refused too, so nothing integer-like
 * can ever be mistaken for a counter id.
 */
const INTEGER_LIKE = /^-?[0-9]+$/;

/** Why `jobId` is not a valid job id, or undefined when it is. */
export function jobIdProblem(jobId: unknown): string | undefined {
  if (typeof jobId !== 'string' || jobId.length === 0) return 'it must be a non-empty string';
  if (jobId.length > JOB_ID_MAX_LENGTH) return `it is longer than ${JOB_ID_MAX_LENGTH} characters`;
  if (jobId.includes(':')) return "it contains ':', BullMQ's key separator";
  if (!JOB_ID_CHARS.test(jobId)) return 'it has characters outside [A-Za-z0-9._~%-]';
  if (INTEGER_LIKE.test(jobId)) return 'it looks like an integer, which BullMQ reserves for its own ids';
  return undefined;
}

function invalidJobId(queue: string, jobId: unknown, problem: string): AppError {
  const shown = typeof jobId === 'string' ? JSON.stringify(jobId.slice(0, 64)) : String(jobId);
  return new AppError(
    'QUEUE_PAYLOAD_INVALID',
    `${queue}: jobId ${shown} is invalid: ${problem}; build it with jobIdOf(...parts)`,
  );
}

/** Throws QUEUE_PAYLOAD_INVALID unless `jobId` is a valid job id (see jobIdProblem). */
export function assertJobId(jobId: unknown, queue = 'queue'): asserts jobId is string {
  const problem = jobIdProblem(jobId);
  if (problem) throw invalidJobId(queue, jobId, problem);
}

/**
 * Builds a valid, deterministic job id from the parts that identify the work, e.g.
 * `jobIdOf(workspaceId, messageId)` -> `ws_1~msg_1`. Injective: each part is
 * percent-encoded (everything outside `[A-Za-z0-9._-]`, including the `~` separator and
 * `%` itself), so two different part lists never give the same id (`a~b`+`c` vs
 * `a`+`b~c`). An id that would look like an integer gets its first character escaped
 * (`123` -> `%3123`). Throws QUEUE_PAYLOAD_INVALID for no parts, a single empty part,
 * a string that is not well-formed Unicode, or a result over JOB_ID_MAX_LENGTH (hash
 * long parts first).
 */
export function jobIdOf(...parts: (string | number)[]): string {
  if (parts.length === 0) throw invalidJobId('jobIdOf', '', 'it needs at least one part');
  let id: string;
  try {
    id = parts
      .map((part) =>
        encodeURIComponent(String(part)).replace(
          /[!'()*~]/g,
          (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
        ),
      )
      .join('~');
  } catch {
    // encodeURIComponent throws URIError on a lone surrogate.
    throw invalidJobId('jobIdOf', '', 'a part is not well-formed Unicode');
  }
  if (INTEGER_LIKE.test(id)) id = `%${id.charCodeAt(0).toString(16).toUpperCase()}${id.slice(1)}`;
  assertJobId(id, 'jobIdOf');
  return id;
}

export interface Producer<N extends QueueName> {
  readonly queue: Queue<QueuePayload<N>>;
  /**
   * Validates payload and `jobId`, then enqueues. `jobId` is derived from the entity
   * (`jobIdOf(workspaceId, messageId)`) so that a repeated enqueue of the same thing is a
   * no-op (hot dedupe; MongoDB unique indexes are the truth).
   *
   * Rejects with QUEUE_PAYLOAD_INVALID (before touching Redis) for a bad payload or job id,
   * and with DEPENDENCY_UNAVAILABLE (503) when Redis cannot take the job within `timeoutMs`.
   * After a timeout the job may still arrive once Redis answers; retrying with the same
   * `jobId` is therefore safe and never duplicates it.
   */
  add(
    payload: QueuePayload<N>,
    options: { jobId: string } & Omit<JobsOptions, 'jobId'>,
  ): Promise<Job<QueuePayload<N>>>;
  close(): Promise<void>;
}

/** ioredis' ways of saying "not connected" (offline queue off, retries exhausted, closed). */
function isConnectionError(error: unknown, connection: Redis): boolean {
  if (connection.status !== 'ready') return true;
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT/.test(error.message)
  );
}

/**
 * A typed producer for one registered queue, with the registry's default job options.
 * Give it a `request`-role connection on request paths: `add()` then answers within
 * `timeoutMs` even while Redis is down.
 */
export function createProducer<N extends QueueName>(
  name: N,
  { connection, prefix, log, timeoutMs = 1_000 }: ProducerOptions,
): Producer<N> {
  const queue = new Queue<QueuePayload<N>>(name, {
    connection,
    prefix: queuePrefix(prefix, name),
    defaultJobOptions: { ...QUEUES[name].defaults },
  });
  queue.on('error', (error) => log.error({ queue: name, err: error }, 'queue error'));
  const unavailable = (why: string) =>
    new AppError(
      UNAVAILABLE,
      `${name}: Redis ${why}; the job may not be queued, retry later with the same jobId`,
    );
  return {
    queue,
    async add(payload, options) {
      assertPayload(name, payload);
      assertJobId(options.jobId, name);
      // BullMQ's generic job-name typing is stricter than we need; the name is the queue name.
      const adding = (queue as Queue).add(name, payload, options) as Promise<Job<QueuePayload<N>>>;
      // The race below may leave `adding` behind; it must never become an unhandled rejection.
      adding.catch(() => undefined);
      // A timer bounds what ioredis cannot: a queue still waiting for its first 'ready'
      // (service started during an outage), a worker-role connection's offline queue, or
      // a Redis that accepts connections but does not answer.
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(unavailable(`did not take the job within ${timeoutMs} ms (${connection.status})`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([adding, timedOut]);
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (isConnectionError(error, connection)) {
          throw unavailable(`is unreachable (${connection.status}: ${(error as Error).message})`);
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => queue.close(),
  };
}

/**
 * A typed worker for one registered queue. A payload that fails its schema on dequeue
 * fails the job at once without retries (UnrecoverableError): retrying cannot fix it, and
 * it stays in the failed set for inspection.
 */
export function createWorker<N extends QueueName>(
  name: N,
  process: (payload: QueuePayload<N>, job: Job<QueuePayload<N>>) => Promise<void>,
  { connection, prefix, log }: QueueConnection,
  options: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
): Worker<QueuePayload<N>> {
  const worker = new Worker<QueuePayload<N>>(
    name,
    async (job) => {
      if (!Value.Check(QUEUES[name].payload, job.data)) {
        throw new UnrecoverableError(`QUEUE_PAYLOAD_INVALID ${name}: ${describeErrors(name, job.data)}`);
      }
      await process(job.data, job);
    },
    { concurrency: 10, ...options, connection, prefix: queuePrefix(prefix, name) },
  );
  worker.on('error', (error) => log.error({ queue: name, err: error }, 'worker error'));
  return worker;
}

/**
 * Closes `worker` when the app closes: BullMQ's `close()` stops taking new jobs and waits
 * for the active ones to finish, so SIGTERM (runService -> app.close) finishes in-flight jobs
 * before connections are closed.
 */
export function drainOnClose(app: FastifyInstance, worker: Pick<Worker, 'close'>): void {
  app.addHook('onClose', async () => {
    await worker.close();
  });
}
