import { type Static, Type } from '@sinclair/typebox';
import { checkSuppression } from '@wapi/consent';
import { ErrorResponse, type MessageSendV1 } from '@wapi/contracts';
import { registerInternal, type ServiceApp } from '@wapi/service-kit';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisState } from './redis-state';

const closed = { additionalProperties: false } as const;

export const DeadLetter = Type.Object(
  {
    jobId: Type.String(),
    workspaceId: Type.String(),
    messageId: Type.String(),
    phoneNumberId: Type.String(),
    to: Type.String(),
    category: Type.String(),
    reason: Type.String({
      description:
        'why it failed: META_<code>: <title>, SEND_OUTCOME_UNKNOWN: …, or the last retryable error',
    }),
    attempts: Type.Integer(),
    failedAt: Type.Union([Type.String(), Type.Null()]),
  },
  closed,
);
export type DeadLetter = Static<typeof DeadLetter>;

export const DeadLetterList = Type.Object({ items: Type.Array(DeadLetter) }, closed);
export const ReplayRequest = Type.Object(
  { jobIds: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 500 }) },
  closed,
);
export const ReplayResponse = Type.Object(
  {
    replayed: Type.Array(Type.String()),
    refused: Type.Array(Type.Object({ jobId: Type.String(), code: Type.String() }, closed)),
  },
  closed,
);
export type ReplayResponse = Static<typeof ReplayResponse>;

/** The dead-letter list: failed `message.send.v1` jobs (kept: the queue never removes them). */
export function createDeadLetters(
  queue: () => Queue<MessageSendV1>,
  redis: Redis,
  state: RedisState,
  prefix: string,
) {
  return {
    async list(limit = 100): Promise<DeadLetter[]> {
      const jobs = await queue().getFailed(0, limit - 1);
      return jobs.map((job) => ({
        jobId: String(job.id),
        workspaceId: job.data.workspaceId,
        messageId: job.data.messageId,
        phoneNumberId: job.data.phoneNumberId,
        to: job.data.to,
        category: job.data.category,
        reason: job.failedReason ?? '',
        attempts: job.attemptsMade,
        failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      }));
    },
    /**
     * Sends chosen dead letters again: never to a contact who has opted out since (checked
     * now), and the ledger is reopened so the next run may call Graph (the operator decided
     * that an in-doubt message was not delivered) — unless its status webhook has arrived
     * meanwhile (`sentKey`): then the run records it as sent, without a call.
     */
    async replay(jobIds: readonly string[]): Promise<ReplayResponse> {
      const answer: ReplayResponse = { replayed: [], refused: [] };
      for (const jobId of jobIds) {
        const job = await queue().getJob(jobId);
        if (!job || !(await job.isFailed())) {
          answer.refused.push({ jobId, code: 'NOT_FOUND' });
          continue;
        }
        const p = job.data;
        if (p.purpose !== 'consent_confirmation') {
          const { ready, suppressed } = await checkSuppression(redis, {
            prefix,
            workspaceId: p.workspaceId,
            contacts: [p.to],
            category: p.category,
          });
          if (!ready) {
            answer.refused.push({ jobId, code: 'DEPENDENCY_UNAVAILABLE' });
            continue;
          }
          if (suppressed[0]) {
            answer.refused.push({ jobId, code: 'CONTACT_OPTED_OUT' });
            continue;
          }
        }
        // A status webhook showed Meta has it: the ledger stays `calling`, so the retried job
        // settles it from that (sent, with its wamid) instead of calling Graph again.
        if (!(await state.settled(p.workspaceId, p.messageId))) await state.reset(p.workspaceId, p.messageId);
        await job.updateProgress({});
        await job.retry('failed');
        answer.replayed.push(jobId);
      }
      return answer;
    },
  };
}
export type DeadLetters = ReturnType<typeof createDeadLetters>;

const errors = { 400: ErrorResponse, 401: ErrorResponse, 500: ErrorResponse, 503: ErrorResponse };

/** `GET /internal/v1/dead-letters` and `POST /internal/v1/dead-letters/replay`. */
export function registerDeadLetterRoutes(service: ServiceApp, deadLetters: DeadLetters): void {
  const auth = service.internalAuth;
  if (!auth) return;
  registerInternal(
    service,
    async (app) => {
      app.get(
        '/v1/dead-letters',
        {
          schema: {
            querystring: Type.Object(
              { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000 })) },
              closed,
            ),
            response: { 200: DeadLetterList, ...errors },
          },
        },
        async (request) => ({ items: await deadLetters.list(request.query.limit ?? 100) }),
      );
      app.post(
        '/v1/dead-letters/replay',
        { schema: { body: ReplayRequest, response: { 200: ReplayResponse, ...errors } } },
        async (request) => deadLetters.replay(request.body.jobIds),
      );
    },
    { auth },
  );
}
