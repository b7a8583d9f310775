import { AppError, ErrorResponse, keyOf } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { Redis } from 'ioredis';
import { principalOf } from '../plugins/auth';
import type { MessagingRepositories } from './repositories';
import { assignedKey, refillAssigned, seesAllConversations } from './visibility';

/** What `GET /api/v1/events` streams: a status change or an inbound message, as applied. */
export interface LiveEvent {
  type: 'message.status' | 'message.inbound';
  messageId: string;
  /** The conversation (contact) it belongs to: agents get only their assigned ones. */
  contactId: string;
  wamid: string | null;
  status: string;
  at: string;
}

/** A Redis stream per workspace, capped, so a reconnecting client resumes by `Last-Event-ID`. */
const streamKey = (prefix: string, workspaceId: string) => keyOf(prefix, 'gw-events', workspaceId);
const KEEP = 10_000;

/** Appends applied changes to their workspaces' streams (one pipeline per batch). */
export async function publishLiveEvents(
  redis: Redis,
  prefix: string,
  events: { workspaceId: string; event: LiveEvent }[],
): Promise<void> {
  if (events.length === 0) return;
  const pipeline = redis.pipeline();
  for (const { workspaceId, event } of events) {
    pipeline.xadd(
      streamKey(prefix, workspaceId),
      'MAXLEN',
      '~',
      String(KEEP),
      '*',
      'e',
      JSON.stringify(event),
    );
  }
  await pipeline.exec();
}

/**
 * `GET /api/v1/events`: Server-Sent Events of the caller's workspace (needs `messages:read`;
 * every event is about messages). Each connection reads with its own blocking Redis
 * connection; `Last-Event-ID` (a stream id) resumes after that event, as long as it is among
 * the last 10,000. An agent gets only the events of the conversations assigned to them
 * (checked per batch against their assigned set, so an assignment applies at once).
 */
export function registerLiveEvents(
  app: ServiceApp,
  deps: { redis: Redis; prefix: string; repos: MessagingRepositories },
): void {
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const close of [...open]) close();
  });

  app.get(
    '/api/v1/events',
    {
      config: { permission: 'messages:read' },
      schema: {
        tags: ['events'],
        description:
          'text/event-stream of `message.status` and `message.inbound` events; resume with Last-Event-ID',
        response: { '4xx': ErrorResponse, '5xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { workspaceId } = principal;
      const all = seesAllConversations(principal);
      // A stream only for a client asking for one (EventSource does): a plain call would hang.
      if (!request.headers.accept?.includes('text/event-stream')) {
        throw new AppError(
          'BAD_REQUEST',
          'GET /api/v1/events is a Server-Sent Events stream; send Accept: text/event-stream (EventSource does).',
        );
      }
      const header = request.headers['last-event-id'];
      let lastId = typeof header === 'string' && /^[0-9]{1,20}-[0-9]{1,20}$/.test(header) ? header : '$';
      const reader = deps.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      reader.on('error', () => undefined);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        open.delete(close);
        reader.disconnect();
        reply.raw.end();
      };
      open.add(close);
      request.raw.on('close', close);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      if (!all) await refillAssigned(deps.redis, deps.prefix, deps.repos, principal);
      // `$` means "from now": pin it to the stream's current end, so nothing written between
      // two reads is skipped. Only then say "connected": a client that acts on that line
      // (sends, then waits for the status) must not miss what happens right after it.
      if (lastId === '$') {
        const last = await reader.xrevrange(streamKey(deps.prefix, workspaceId), '+', '-', 'COUNT', 1);
        lastId = last[0]?.[0] ?? '0-0';
      }
      reply.raw.write(': connected\n\n');
      while (!closed) {
        const answer = await reader
          .xread('COUNT', 500, 'BLOCK', 15_000, 'STREAMS', streamKey(deps.prefix, workspaceId), lastId)
          .catch(() => null);
        if (closed) break;
        if (!answer) {
          // A comment line keeps proxies from closing an idle stream.
          reply.raw.write(': keep-alive\n\n');
          continue;
        }
        for (const [, entries] of answer) {
          const events = entries.map(([id, fields]) => {
            const data = fields[1] ?? '{}';
            return { id, data, event: JSON.parse(data) as LiveEvent };
          });
          let shown: Set<string> | undefined;
          if (!all && events.length > 0) {
            const contacts = [...new Set(events.map((e) => e.event.contactId))];
            const member = await deps.redis
              .smismember(assignedKey(deps.prefix, workspaceId, principal.id), ...contacts)
              .catch(() => [] as number[]); // fail closed: show nothing rather than another's events
            shown = new Set(contacts.filter((_, i) => member[i] === 1));
          }
          for (const { id, data, event } of events) {
            lastId = id;
            if (shown && !shown.has(event.contactId)) continue;
            reply.raw.write(`id: ${id}\nevent: ${event.type}\ndata: ${data}\n\n`);
          }
        }
      }
    },
  );
}
