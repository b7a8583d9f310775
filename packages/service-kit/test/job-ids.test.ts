import type { MessageSendV1 } from '@wapi/contracts';
import { useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProducer,
  createRedis,
  JOB_ID_MAX_LENGTH,
  jobIdOf,
  jobIdProblem,
  type Producer,
} from '../src/index';

const ctx = useTestContext('jobids');
const quiet = { warn: () => undefined, error: () => undefined };

const command: MessageSendV1 = {
  workspaceId: 'ws_1',
  messageId: 'msg_1',
  phoneNumberId: '106540352242922',
  to: '919876543210',
  category: 'utility',
  content: { type: 'text', text: { body: 'Your order shipped' } },
  acceptedAt: '2026-11-25T10:00:00.000Z',
};

describe('job ids on enqueue', () => {
  let producer: Producer<'message.send.v1'>;
  let connection: ReturnType<typeof createRedis>;
  beforeAll(() => {
    connection = createRedis(ctx.infra.redisUrl, 'request', quiet);
    producer = createProducer('message.send.v1', { connection, prefix: ctx.prefix, log: quiet });
  });
  afterAll(async () => {
    await producer.queue.obliterate({ force: true });
    await producer.close();
    await connection.quit();
  });

  it.each([
    ['42', /integer/],
    ['-7', /integer/],
    ['007', /integer/],
    ['ws_1:msg_1', /':'/],
    ['', /non-empty/],
    ['a'.repeat(JOB_ID_MAX_LENGTH + 1), /longer than 256/],
    ['has space', /characters outside/],
    ['{tag}', /characters outside/],
  ])('refuses jobId %j with QUEUE_PAYLOAD_INVALID before touching Redis', async (jobId, reason) => {
    const error = await producer.add(command, { jobId }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUEUE_PAYLOAD_INVALID' });
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toMatch(/jobIdOf/);
    expect(await producer.queue.count()).toBe(0);
  });

  it('accepts what jobIdOf builds, even from integer-like or awkward parts', async () => {
    for (const parts of [['42'], ['ws_1', 'msg_1'], ['wamid.HBgL+/=', 'a:b'], ['-7'], ['{x}', '']]) {
      const jobId = jobIdOf(...parts);
      const job = await producer.add({ ...command, messageId: `m${jobId.length}` }, { jobId });
      expect(job.id).toBe(jobId);
    }
    expect(await producer.queue.count()).toBe(5);
  });
});

describe('jobIdOf', () => {
  it('is readable for ordinary ids', () => {
    expect(jobIdOf('ws_1', 'msg_1')).toBe('ws_1~msg_1');
    expect(jobIdOf('65f0c0ffee', 3)).toBe('65f0c0ffee~3');
    expect(jobIdOf('123')).toBe('%3123');
  });

  it('never gives the same id for two different part lists', () => {
    const atoms = ['', 'a', '~', '%', '%7E', '%25', '_', ':', '1', '12', '-', '-1', '%31', 'é', '😀', 'a~b'];
    const lists: string[][] = [];
    let frontier: string[][] = [[]];
    for (let length = 1; length <= 3; length++) {
      frontier = frontier.flatMap((list) => atoms.map((atom) => [...list, atom]));
      lists.push(...frontier);
    }
    const seen = new Map<string, string>();
    for (const parts of lists) {
      let id: string;
      try {
        id = jobIdOf(...parts);
      } catch {
        // Only a lone empty part has no id (an empty id is invalid).
        expect(parts).toEqual(['']);
        continue;
      }
      expect(jobIdProblem(id), `${JSON.stringify(parts)} -> ${id}`).toBeUndefined();
      const previous = seen.get(id);
      expect(previous, `${JSON.stringify(parts)} and ${previous} both give ${id}`).toBeUndefined();
      seen.set(id, JSON.stringify(parts));
    }
    expect(seen.size).toBe(lists.length - 1);
    expect(jobIdOf('a~b', 'c')).not.toBe(jobIdOf('a', 'b~c'));
  });

  it('refuses what cannot be a job id, saying what to do', () => {
    expect(() => jobIdOf()).toThrow(/at least one part/);
    expect(() => jobIdOf('\ud800')).toThrow(/well-formed/);
    expect(() => jobIdOf('x'.repeat(300))).toThrow(/longer than 256/);
  });
});
