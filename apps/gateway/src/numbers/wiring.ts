import { randomUUID } from 'node:crypto';
import type { AuditV1 } from '@wapi/contracts';
import { createProducer, jobIdOf } from '@wapi/service-kit';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { PhoneDirectory } from '../messaging/directory';
import type { NumberHealthDeps } from './health';
import { numberRepositories } from './store';

/**
 * Builds the `NumberHealthDeps` of this process: the repositories, the directory, an
 * `audit.v1` producer opened on the first event, and the clock. `close()` closes the producer.
 */
export function createNumberHealth(options: {
  db: Db;
  redis: Redis;
  prefix: string;
  directory: Pick<PhoneDirectory, 'publish'>;
  log: Logger;
  now(): Date;
}): { deps: NumberHealthDeps; close(): Promise<void> } {
  const repos = numberRepositories(options.db);
  let producer: ReturnType<typeof createProducer<'audit.v1'>> | undefined;
  return {
    deps: {
      numbers: repos.numbers,
      qualityEvents: repos.qualityEvents,
      directory: options.directory,
      now: options.now,
      async audit(event: AuditV1) {
        producer ??= createProducer('audit.v1', {
          connection: options.redis,
          prefix: options.prefix,
          log: options.log,
        });
        await producer.add(event, { jobId: jobIdOf('gateway', randomUUID()) });
      },
    },
    async close() {
      await producer?.close();
    },
  };
}
