import { Value } from '@sinclair/typebox/value';
import { AppError, QUEUES, type QueueName, type QueuePayload, queuePrefix } from '@wapi/contracts';
import { type Job, type JobsOptions, Queue, UnrecoverableError, Worker, type WorkerOptions } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface QueueConnection {
  /** A `worker`-role connection (see createRedis). */
  connection: Redis;
  /** Where queue and worker errors go (without a listener BullMQ writes them to the console). */
  log: Pick<Logger, 'error'>;
  /** Key prefix name (`KEY_PREFIX`); wrapped in a hash tag. */
  prefix: string;
}

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

export interface Producer<N extends QueueName> {
  readonly queue: Queue<QueuePayload<N>>;
  /**
   * Validates and enqueues. `jobId` should be derived from the entity (e.g. the message id)
   * so that a repeated enqueue of the same thing is a no-op (hot dedupe; MongoDB unique
   * indexes are the truth).
   */
  add(
    payload: QueuePayload<N>,
    options: { jobId: string } & Omit<JobsOptions, 'jobId'>,
  ): Promise<Job<QueuePayload<N>>>;
  close(): Promise<void>;
}

/** A typed producer for one registered queue, with the registry's default job options. */
export function createProducer<N extends QueueName>(
  name: N,
  { connection, prefix, log }: QueueConnection,
): Producer<N> {
  const queue = new Queue<QueuePayload<N>>(name, {
    connection,
    prefix: queuePrefix(prefix),
    defaultJobOptions: { ...QUEUES[name].defaults },
  });
  queue.on('error', (error) => log.error({ queue: name, err: error }, 'queue error'));
  return {
    queue,
    async add(payload, options) {
      assertPayload(name, payload);
      // BullMQ's generic job-name typing is stricter than we need; the name is the queue name.
      return (queue as Queue).add(name, payload, options) as Promise<Job<QueuePayload<N>>>;
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
    { concurrency: 10, ...options, connection, prefix: queuePrefix(prefix) },
  );
  worker.on('error', (error) => log.error({ queue: name, err: error }, 'worker error'));
  return worker;
}

/**
 * Closes `worker` when the app closes: BullMQ's `close()` stops taking new jobs and waits
 * for the active ones to finish, so SIGTERM (serve -> app.close) finishes in-flight jobs
 * before connections are closed.
 */
export function drainOnClose(app: FastifyInstance, worker: Pick<Worker, 'close'>): void {
  app.addHook('onClose', async () => {
    await worker.close();
  });
}
