import { type MessageEventV1, type MessageInboundV1, SENT_KEY_TTL_MS, sentKey } from '@wapi/contracts';
import { createWorker, drainOnClose, type ServiceApp } from '@wapi/service-kit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { applyInboundMessages, applyMessageEvents, microBatcher } from './apply-events';
import { publishLiveEvents } from './live-events';
import { messageStateStore } from './message-state';
import { contactIdOf, inboundMessageId, type MessagingRepositories } from './repositories';

/**
 * The consumers of `message.events.v1` and `message.inbound.v1`. Many jobs run at once
 * (concurrency 1,000 for status events, whose batches are cheap now; 200 for inbound) and feed one micro-batcher each, so a burst is written with a few
 * `insertMany` calls and one Redis script (message-state.ts) instead of one round trip per
 * event.
 */
export function registerMessagingWorkers(
  app: ServiceApp,
  deps: { repos: MessagingRepositories; connection: Redis; prefix: string; log: Logger; now(): Date },
): void {
  const options = { connection: deps.connection, prefix: deps.prefix, log: deps.log };
  // Published after the write, so a client never sees a change the store does not hold; a
  // failed publish is logged (the state itself is applied).
  const publish = (items: Parameters<typeof publishLiveEvents>[2]) =>
    publishLiveEvents(deps.connection, deps.prefix, items).catch((error: unknown) => {
      deps.log.error({ err: error }, 'live events not published');
    });
  const state = messageStateStore({ redis: deps.connection, prefix: deps.prefix, repos: deps.repos });
  // Messages accepted from now on are read from Redis without a rebuild (see states()).
  app.addHook('onReady', () => state.ensureEpoch());
  const events = microBatcher<MessageEventV1>(async (batch) => {
    await recordSentWamids(deps.connection, deps.prefix, batch);
    const { unresolved, resolved } = await applyMessageEvents(state, batch);
    await publish(
      resolved.map(({ event, messageId }) => ({
        workspaceId: event.workspaceId,
        event: {
          type: 'message.status',
          messageId,
          contactId: contactIdOf(event.workspaceId, event.recipient),
          wamid: event.wamid ?? null,
          status: event.status,
          at: event.occurredAt,
        },
      })),
    );
    return unresolved;
  });
  const inbound = microBatcher<MessageInboundV1>(async (batch) => {
    await applyInboundMessages(deps.repos, batch, deps.now());
    await publish(
      batch.map((m) => ({
        workspaceId: m.workspaceId,
        event: {
          type: 'message.inbound',
          messageId: inboundMessageId(m.workspaceId, m.wamid),
          contactId: contactIdOf(m.workspaceId, m.from),
          wamid: m.wamid,
          status: 'received',
          at: m.receivedAt,
        },
      })),
    );
    return [];
  });
  drainOnClose(
    app,
    createWorker('message.events.v1', (payload) => events.add(payload), options, { concurrency: 1000 }),
  );
  drainOnClose(
    app,
    createWorker('message.inbound.v1', (payload) => inbound.add(payload), options, { concurrency: 200 }),
  );
}

/**
 * A status webhook that names its message (`messageId`, from `biz_opaque_callback_data`)
 * proves Meta accepted that send: its wamid goes under `sentKey`, where message-sender looks
 * when a send's Graph answer was lost, so it records the send instead of calling again.
 */
async function recordSentWamids(redis: Redis, prefix: string, batch: MessageEventV1[]): Promise<void> {
  const pipeline = redis.pipeline();
  for (const e of batch)
    if (e.source === 'webhook' && e.messageId && e.wamid)
      pipeline.set(sentKey(prefix, e.workspaceId, e.messageId), e.wamid, 'PX', SENT_KEY_TTL_MS);
  if (pipeline.length > 0) await pipeline.exec();
}
