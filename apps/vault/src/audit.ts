import { randomUUID } from 'node:crypto';
import type { AuditV1 } from '@wapi/contracts';
import { assertPayload, createProducer, jobIdOf } from '@wapi/service-kit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Auditor } from './domain/secrets';

/**
 * Audit events onto `audit.v1` (consumed by compliance). One event is one job; a batch
 * (the rewrap job's) goes in one round trip. Events never hold a value (the payload schema
 * is closed and scalar-only, and vault never passes one).
 */
export function queueAuditor(options: { connection: Redis; prefix: string; log: Logger }): Auditor & {
  close(): Promise<void>;
} {
  // Created on the first event, not when the app is built: building does no I/O, and an
  // app that never audits (a health probe, a conformance run) opens no queue.
  let created: ReturnType<typeof createProducer<'audit.v1'>> | undefined;
  const producerOf = () => {
    created ??= createProducer('audit.v1', options);
    return created;
  };
  /**
   * Group commit: events recorded in the same tick go to Redis in one `addBulk`, flushed on
   * `setImmediate` (never on a timer, see docs/performance.md); each caller's promise settles
   * with its batch, so a read is still answered only after its audit event is queued.
   */
  let pending: Array<{ event: AuditV1; done: () => void; failed: (error: unknown) => void }> = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    try {
      const producer = producerOf();
      if (batch.length === 1) await producer.add(batch[0]!.event, { jobId: jobIdOf('vault', randomUUID()) });
      else
        await (producer.queue as unknown as { addBulk(jobs: unknown[]): Promise<unknown> }).addBulk(
          batch.map(({ event }) => ({
            name: 'audit.v1',
            data: event,
            opts: { jobId: jobIdOf('vault', randomUUID()) },
          })),
        );
      for (const entry of batch) entry.done();
    } catch (error) {
      for (const entry of batch) entry.failed(error);
    }
  };
  return {
    record(events: AuditV1[]) {
      // Checked here, so a bad event fails its own caller and never its batch.
      for (const event of events) assertPayload('audit.v1', event);
      return Promise.all(
        events.map(
          (event) =>
            new Promise<void>((done, failed) => {
              if (pending.length === 0) setImmediate(() => void flush());
              pending.push({ event, done, failed });
            }),
        ),
      ).then(() => undefined);
    },
    close: async () => {
      await created?.close();
    },
  };
}
