import { checkSuppression } from '@wapi/consent';
import { type ErrorCode, type MessageEventV1, type MessageSendV1, windowKey } from '@wapi/contracts';
import { MetaApiError, type MetaClient } from '@wapi/meta-client';
import { jobIdOf, type Producer } from '@wapi/service-kit';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LedgerBatcher } from './batcher';
import type { SenderMetrics } from './metrics';
import type { Limit, RedisState } from './redis-state';
import type { TokenSource } from './tokens';

/** Pacing settings (defaults match Meta's: 80 msg/s per number, 45 then one per 6 s per pair). */
export interface PacingOptions {
  /** Throughput of a number without an override in Redis (`sender` family, `mps` hash). */
  defaultMps: number;
  /** Fraction of a number's throughput the sender uses (headroom for clock jitter on the wire). */
  safety: number;
  pairBurst: number;
  pairIntervalMs: number;
  /** Share of a number's throughput marketing may use; the rest stays for the other categories. */
  marketingShare: number;
}

export interface SenderDeps {
  redis: Redis;
  prefix: string;
  state: RedisState;
  ledger: LedgerBatcher;
  meta: MetaClient;
  tokens: TokenSource;
  events: Producer<'message.events.v1'>;
  log: Logger;
  metrics: SenderMetrics;
  pacing: PacingOptions;
  /** A call claimed longer ago than this and never finished is in doubt (the Graph timeout plus margin). */
  inDoubtAfterMs: number;
  now?: () => number;
}

/** What the ledger keeps as a message's outcome. */
interface Outcome {
  status: 'sent' | 'failed';
  wamid?: string;
  error?: { code: number; title: string; classification?: string };
}

/** Why a message is in the dead-letter list; kept in the failed job's reason. */
export const OUTCOME_UNKNOWN: ErrorCode = 'SEND_OUTCOME_UNKNOWN';

/** Meta's request body of a send (§2), without `messaging_product` (meta-client adds it). */
export type GraphSend = Record<string, unknown> & { to: string; type: string };

/** Meta's request body for a queued message. */
export function toGraph(p: MessageSendV1): GraphSend {
  const c = p.content as { type: string } & Record<string, unknown>;
  const base: GraphSend = {
    recipient_type: 'individual',
    to: p.to,
    type: c.type,
    // Echoed in Meta's status webhooks: lets a message whose send is in doubt be matched later.
    biz_opaque_callback_data: p.messageId,
    ...(p.replyToWamid ? { context: { message_id: p.replyToWamid } } : {}),
  };
  const body = base as Record<string, unknown>;
  if (c.type === 'text') {
    const text = c.text as { body: string; previewUrl?: boolean };
    body.text = {
      body: text.body,
      ...(text.previewUrl === undefined ? {} : { preview_url: text.previewUrl }),
    };
  } else if (c.type === 'template') {
    const t = c.template as { name: string; language: string; components?: unknown[] };
    body.template = {
      name: t.name,
      language: { code: t.language },
      ...(t.components ? { components: t.components } : {}),
    };
  } else if (['image', 'video', 'audio', 'document', 'sticker'].includes(c.type)) {
    body[c.type] = c.media;
  } else {
    body[c.type] = c[c.type];
  }
  return base;
}

/**
 * The `message.send.v1` processor: re-check, pace, claim, call Graph once, record, emit.
 *
 * Exactly once: the hot ledger (Redis) is claimed atomically before each Graph call and the
 * claim is appended to the store's ledger (`_id` = message and call number; a duplicate
 * insert means someone else claimed it) before the call. A job that finds a call of its
 * message started and never finished does not call again: it waits until that call must
 * have ended, then dead-letters the message as `SEND_OUTCOME_UNKNOWN` (the status webhook,
 * which carries the message id in `biz_opaque_callback_data`, tells what happened).
 */
/**
 * Calls in flight per number, in this process. Bounds how many sends can reach Meta at once
 * after a stall on the way (Meta's side or the network holding requests, then delivering
 * them together): Meta counts arrivals, and at 80/s the pacing's headroom is only a few
 * messages per second.
 */
function createInFlight(capOf: (mps: number) => number) {
  const numbers = new Map<string, { active: number; waiting: Array<() => void> }>();
  return {
    async acquire(pnid: string, mps: number): Promise<() => void> {
      let entry = numbers.get(pnid);
      if (!entry) {
        entry = { active: 0, waiting: [] };
        numbers.set(pnid, entry);
      }
      const e = entry;
      if (e.active >= capOf(mps)) await new Promise<void>((resolve) => e.waiting.push(resolve));
      else e.active += 1;
      return () => {
        const next = e.waiting.shift();
        if (next) next();
        else {
          e.active -= 1;
          if (e.active === 0) numbers.delete(pnid);
        }
      };
    },
  };
}

/** The pacing slot a delayed job holds (kept in its progress), if any. */
function slotOf(job: Job): number | undefined {
  const progress = job.progress as { slot?: unknown } | number | undefined;
  if (typeof progress !== 'object' || progress === null) return undefined;
  return typeof progress.slot === 'number' ? progress.slot : undefined;
}

export function createSendProcessor(deps: SenderDeps) {
  const now = deps.now ?? Date.now;
  const { state, redis } = deps;
  // 4 at 80/s, 50 at 1,000/s: full rate with a Graph latency up to ~50 ms, and no more
  // arriving together after a stall than the pacing headroom (5 % of 80/s) absorbs.
  const inFlight = createInFlight((mps) => Math.max(2, Math.ceil(mps * 0.05)));

  async function emit(p: MessageSendV1, outcome: Outcome): Promise<void> {
    const event: MessageEventV1 = {
      workspaceId: p.workspaceId,
      messageId: p.messageId,
      recipient: p.to,
      status: outcome.status,
      occurredAt: new Date(now()).toISOString(),
      source: 'sender',
      ...(outcome.wamid ? { wamid: outcome.wamid } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    };
    await deps.events.add(event, { jobId: jobIdOf(p.workspaceId, p.messageId, outcome.status) });
  }

  async function record(
    p: MessageSendV1,
    call: number,
    outcome: Outcome,
    afterFinish: () => void = () => undefined,
  ): Promise<void> {
    // Redis first (sub-millisecond): from here on no run of this job calls Graph again, and a
    // run that finds it done re-emits the event (deduplicated by its job id).
    await state.finish(p.workspaceId, p.messageId, outcome);
    afterFinish();
    await emit(p, outcome);
    await deps.ledger.insert({
      _id: `${p.workspaceId}:${p.messageId}:${call}:outcome`,
      kind: 'outcome',
      workspaceId: p.workspaceId,
      messageId: p.messageId,
      phoneNumberId: p.phoneNumberId,
      call,
      at: new Date(now()),
      status: outcome.status,
      ...(outcome.wamid ? { wamid: outcome.wamid } : {}),
      ...(outcome.error ? { errorCode: outcome.error.code, errorTitle: outcome.error.title } : {}),
    });
  }

  async function delay(job: Job, until: number): Promise<never> {
    await job.moveToDelayed(Math.ceil(until), job.token);
    throw new DelayedError();
  }

  /** A refusal before Meta: the gateway's code, no Graph call. */
  async function refuse(p: MessageSendV1, code: string, title: string): Promise<void> {
    deps.log.info({ messageId: p.messageId, code }, 'message refused before sending');
    deps.metrics.sends.inc({ outcome: 'refused', code: '0' });
    const outcome: Outcome = { status: 'failed', error: { code: 0, title, classification: code } };
    await state.finish(p.workspaceId, p.messageId, outcome);
    await emit(p, outcome);
  }

  async function mps(pnid: string): Promise<number> {
    const override = await redis.hget(state.mpsKey(), pnid);
    return override ? Number(override) : deps.pacing.defaultMps;
  }

  return async function process(p: MessageSendV1, job: Job<MessageSendV1>): Promise<void> {
    // 1. Already done (a duplicate job, or a retry after the outcome was recorded).
    const done = (await state.outcome(p.workspaceId, p.messageId)) as Outcome | undefined;
    if (done) return emit(p, done);

    // 2. Re-check consent and the window just before sending.
    if (p.purpose !== 'consent_confirmation') {
      const { ready, suppressed } = await checkSuppression(redis, {
        prefix: deps.prefix,
        workspaceId: p.workspaceId,
        contacts: [p.to],
        category: p.category,
      });
      if (!ready)
        throw new Error(
          'the suppression list is not loaded in Redis (compliance rebuilds it at start-up); the message is retried, never sent unchecked',
        );
      if (suppressed[0])
        return refuse(p, 'CONTACT_OPTED_OUT', 'The contact has opted out of messages in this scope.');
    }
    if (p.content.type !== 'template') {
      const until = Number(await redis.get(windowKey(deps.prefix, p.phoneNumberId, p.to)));
      if (!(until > now()))
        return refuse(
          p,
          'OUTSIDE_CUSTOMER_SERVICE_WINDOW',
          'Free-form messages can only be sent within 24 hours of the customer’s last message.',
        );
    }

    // 3. Pacing: a slot is reserved once; the job sleeps (delayed, off the queue) until it.
    const reserved = slotOf(job);
    if (reserved === undefined) {
      const rate = (await mps(p.phoneNumberId)) * deps.pacing.safety;
      const limits: Limit[] = [
        { key: state.numberKey(p.phoneNumberId), intervalMs: 1000 / rate, burst: 1 },
        {
          key: state.pairKey(p.phoneNumberId, p.to),
          intervalMs: deps.pacing.pairIntervalMs,
          burst: deps.pacing.pairBurst,
        },
      ];
      // Marketing also passes a limiter of its own at a share of the number's rate, so the
      // rest of the number's slots stay free for confirmations, authentication and utility.
      if (p.category === 'marketing')
        limits.push({
          key: state.marketingKey(p.phoneNumberId),
          intervalMs: 1000 / (rate * deps.pacing.marketingShare),
          burst: 1,
        });
      const wait = await state.pace(limits, now());
      if (wait >= 1) {
        deps.metrics.waits.inc();
        const slot = now() + wait;
        await job.updateProgress({ slot });
        return delay(job, slot);
      }
    } else if (reserved > now() + 1) {
      return delay(job, reserved);
    }

    // 4. Claim the call.
    const claim = await state.claim(p.workspaceId, p.messageId, now());
    if (claim.kind === 'done') return emit(p, JSON.parse(claim.outcome) as Outcome);
    if (claim.kind === 'calling') {
      if (now() - claim.since < deps.inDoubtAfterMs) return delay(job, claim.since + deps.inDoubtAfterMs);
      // The claim stays `calling`: a replay finds it in doubt too, until someone decides.
      throw new UnrecoverableError(
        `${OUTCOME_UNKNOWN}: a Graph call for this message started at ${new Date(claim.since).toISOString()} and its outcome was never recorded (the worker stopped); it is not resent — check its status webhook (biz_opaque_callback_data = message id) before replaying`,
      );
    }
    const claimed = await deps.ledger.insert({
      _id: `${p.workspaceId}:${p.messageId}:${claim.call}`,
      kind: 'claim',
      workspaceId: p.workspaceId,
      messageId: p.messageId,
      phoneNumberId: p.phoneNumberId,
      call: claim.call,
      at: new Date(now()),
    });
    if (!claimed) {
      // The store already holds this call: Redis lost the hot ledger. Never call twice.
      throw new UnrecoverableError(
        `${OUTCOME_UNKNOWN}: call ${claim.call} of this message is already in the send ledger but Redis had no record of it; not resent — check its status before replaying`,
      );
    }

    // The number's sliding window, Meta's way of counting: N sends in any second at most
    // (N from the safety share, and a slightly longer window, for jitter on the way to Meta).
    // Checked after the claim's grouped insert, right before the call: jobs released
    // together by one insert batch must not reach Meta together.
    const numberMps = await mps(p.phoneNumberId);
    const limit = Math.max(1, Math.floor(numberMps * deps.pacing.safety));
    const full = await state.window(state.windowKey(p.phoneNumberId), limit, 1_050, now());
    if (full > 0) {
      deps.metrics.waits.inc();
      // No call was made: the next run claims a new call number.
      await state.release(p.workspaceId, p.messageId);
      return delay(job, now() + full);
    }

    // 5. The call (a 190 gets one more, with a token read past the cache).
    const body = toGraph(p);
    let call = claim.call;
    let fresh = false;
    let free: (() => void) | undefined;
    /** Frees this run's in-flight slot (once). */
    const release = () => {
      free?.();
      free = undefined;
    };
    for (;;) {
      try {
        const token = await deps.tokens.get(p.workspaceId, p.phoneNumberId, fresh);
        // The body follows Meta's schema field for field (toGraph); the cast only bridges our
        // closed queue payload types to the request type's open unions.
        // Held until the message's state has moved on from `calling`, so no more than the cap
        // are ever in doubt at once.
        free = await inFlight.acquire(p.phoneNumberId, numberMps);
        if (!(await state.start(p.workspaceId, p.messageId, call, now()))) {
          throw new Error(
            'another run of this job claimed the message meanwhile (its lock was lost); this run does not call Graph',
          );
        }
        const stop = deps.metrics.graphLatency.startTimer();
        const answer = await deps.meta.sendMessage(
          token,
          p.phoneNumberId,
          body as unknown as Parameters<MetaClient['sendMessage']>[2],
        );
        stop();
        deps.metrics.sends.inc({ outcome: 'sent', code: '0' });
        const wamid = answer.messages[0]?.id;
        await record(p, call, { status: 'sent', ...(wamid ? { wamid } : {}) }, release);
        return;
      } catch (error) {
        if (!(error instanceof MetaApiError)) {
          // No answer: the request may have reached Meta (timeout, reset). Leave the claim
          // `calling`, so the retry finds it in doubt instead of calling again — unless the
          // connection was never made.
          if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(String((error as Error).message)))
            await state.release(p.workspaceId, p.messageId);
          throw error;
        }
        const kind = error.classification.kind;
        deps.metrics.sends.inc({
          outcome:
            kind === 'rate-limited'
              ? 'rate_limited'
              : kind === 'retryable'
                ? 'retry'
                : kind === 'auth' && !fresh
                  ? 'auth_retry'
                  : 'failed',
          code: String(error.code),
        });
        const failure = { code: error.code, title: error.message.slice(0, 512), classification: kind };
        if (kind === 'auth' && !fresh) {
          fresh = true;
          call += 1;
          await deps.ledger.insert({
            _id: `${p.workspaceId}:${p.messageId}:${call}`,
            kind: 'claim',
            workspaceId: p.workspaceId,
            messageId: p.messageId,
            phoneNumberId: p.phoneNumberId,
            call,
            at: new Date(now()),
          });
          await redis.hset(state.ledgerKey(p.workspaceId, p.messageId), 'state', 'claimed', 'n', call);
          release();
          continue;
        }
        if (kind === 'rate-limited') {
          await state.release(p.workspaceId, p.messageId);
          // The reserved slot was too early for Meta: pace again after the wait.
          await job.updateProgress({});
          const until = now() + error.classification.retryAfterMs;
          if (error.classification.scope === 'number')
            await state.push(state.numberKey(p.phoneNumberId), until);
          if (error.classification.scope === 'pair')
            await state.push(state.pairKey(p.phoneNumberId, p.to), until);
          deps.log.warn({ messageId: p.messageId, code: error.code }, 'Meta rate limit; message rescheduled');
          return delay(job, until);
        }
        const attempts = job.opts.attempts ?? 1;
        if (kind === 'retryable' && job.attemptsMade + 1 < attempts) {
          await state.release(p.workspaceId, p.messageId);
          throw new Error(`Graph error ${error.code} (retryable): ${error.message}; retried with backoff`);
        }
        if (kind === 'auth') await redis.sadd(state.flaggedKey(), p.phoneNumberId);
        await record(p, call, { status: 'failed', error: failure }, release);
        throw new UnrecoverableError(`META_${error.code}: ${failure.title}`);
      } finally {
        // Every branch above has moved the state on from `calling` (or left it there on
        // purpose: no answer) before getting here.
        release();
      }
    }
  };
}
