import { keyOf, type MessageSendV1, sendPriorityOf } from '@wapi/contracts';
import { assertPayload, jobIdOf, type Producer } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { Redis } from 'ioredis';
import type { MessageDoc, MessagingRepositories } from './repositories';

/** The `message.send.v1` job of a stored message. */
export const sendJobOf = (m: MessageDoc): MessageSendV1 => ({
  workspaceId: m.workspaceId,
  messageId: m._id,
  phoneNumberId: m.phoneNumberId,
  to: m.waId,
  category: m.category,
  content: m.content as MessageSendV1['content'],
  ...(m.replyToWamid ? { replyToWamid: m.replyToWamid } : {}),
  acceptedAt: m.createdAt.toISOString(),
});

/** A member of the pending set: `<workspace>|<message id>` (neither contains `|`). */
const memberOf = (m: Pick<MessageDoc, 'workspaceId' | '_id'>) => `${m.workspaceId}|${m._id}`;

/**
 * The outbox of accepted messages: a message is marked pending in a Redis sorted set (score:
 * when) before it is stored, and unmarked once its job is enqueued. When the enqueue fails
 * (Redis went away between the two) the message is also written to the small `message_outbox`
 * collection, so a Redis that comes back empty still knows it. `sweep()` enqueues whatever
 * stayed pending longer than `graceMs` (its job id is the message's, so a job that did get
 * enqueued is not duplicated; the sender's ledger keyed by message id makes the send
 * exactly-once even if a completed job was already removed).
 *
 * The happy path costs two Redis calls per request (one per batch) and no database write.
 */
export function messageOutbox(deps: {
  redis: Redis;
  prefix: string;
  repos: MessagingRepositories;
  sendQueue(): Producer<'message.send.v1'>;
  now(): Date;
  graceMs?: number;
}) {
  const pendingKey = keyOf(deps.prefix, 'gw-outbox', 'pending');
  const lockKey = keyOf(deps.prefix, 'gw-outbox', 'lock');
  const graceMs = deps.graceMs ?? 30_000;

  async function enqueue(docs: MessageDoc[]): Promise<void> {
    if (docs.length === 0) return;
    const producer = deps.sendQueue();
    if (docs.length === 1 && docs[0]) {
      const m = docs[0];
      await producer.add(sendJobOf(m), {
        jobId: jobIdOf(m.workspaceId, m._id),
        priority: sendPriorityOf(m),
      });
      return;
    }
    const jobs = docs.map((m) => {
      const data = sendJobOf(m);
      assertPayload('message.send.v1', data);
      return {
        name: 'message.send.v1',
        data,
        opts: { jobId: jobIdOf(m.workspaceId, m._id), priority: sendPriorityOf(m) },
      };
    });
    await producer.queue.addBulk(jobs);
  }

  return {
    /** Marks messages pending before they are stored (Redis down here: nothing is stored, 503). */
    async mark(docs: Pick<MessageDoc, 'workspaceId' | '_id'>[]): Promise<void> {
      if (docs.length === 0) return;
      const at = deps.now().getTime();
      await deps.redis.zadd(pendingKey, ...docs.flatMap((m) => [at, memberOf(m)]));
    },

    /**
     * Enqueues stored messages and unmarks them. Answers false when the enqueue failed: the
     * messages are then in the outbox collection and the sweep enqueues them, so the caller
     * still answers 202 (they are accepted; a retry without Idempotency-Key would duplicate).
     */
    async enqueue(docs: MessageDoc[]): Promise<boolean> {
      if (docs.length === 0) return true;
      try {
        await enqueue(docs);
      } catch {
        // Not fatal to the request: the outbox collection (the database is up: it just took
        // the messages) holds them until a sweep enqueues them.
        const at = deps.now();
        await deps.repos.outbox.insertMany(
          docs.map((m) => ({ _id: m._id, workspaceId: m.workspaceId, at })),
          { ignoreDuplicates: true },
        );
        return false;
      }
      await deps.redis.zrem(pendingKey, ...docs.map(memberOf)).catch(() => undefined);
      return true;
    },

    /**
     * Enqueues what stayed pending longer than the grace period, and what the outbox
     * collection holds; one instance at a time (a Redis lock). Answers how many it enqueued.
     */
    async sweep(limit = 500): Promise<number> {
      if ((await deps.redis.set(lockKey, '1', 'PX', 60_000, 'NX')) !== 'OK') return 0;
      try {
        const cutoff = deps.now().getTime() - graceMs;
        const pending = await deps.redis.zrangebyscore(pendingKey, 0, cutoff, 'LIMIT', 0, limit);
        const stored = await deps.repos.outbox.find({}, { limit });
        const wanted = new Map<string, Set<string>>();
        const want = (ws: string, id: string) => wanted.set(ws, (wanted.get(ws) ?? new Set()).add(id));
        for (const member of pending) {
          const [ws, id] = member.split('|');
          if (ws && id) want(ws, id);
        }
        for (const o of stored) want(o.workspaceId, o._id);
        let enqueued = 0;
        for (const [ws, ids] of wanted) {
          // Pending but never stored (the insert failed, the request answered an error): dropped.
          const docs = await deps.repos.messages.find(asWorkspaceId(ws), { _id: { $in: [...ids] } });
          await enqueue(docs);
          enqueued += docs.length;
        }
        if (pending.length > 0) await deps.redis.zrem(pendingKey, ...pending);
        if (stored.length > 0) await deps.repos.outbox.deleteMany({ _id: { $in: stored.map((o) => o._id) } });
        return enqueued;
      } finally {
        await deps.redis.del(lockKey);
      }
    },
  };
}
export type MessageOutbox = ReturnType<typeof messageOutbox>;
