import { checkSuppression } from '@wapi/consent';
import { type ErrorCode, type MessageEventV1, type MessageSendV1, windowKey } from '@wapi/contracts';
import { MetaApiError, type MetaClient } from '@wapi/meta-client';
import { jobIdOf, type Producer } from '@wapi/service-kit';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { retryDelayMs } from './backoff';
import type { LedgerBatcher } from './batcher';
import type { DirectoryCache } from './directory';
import type { SenderMetrics } from './metrics';
import { type Lane, PARK_AFTER_MS, type Parking } from './park';
import type { Limit, RedisState, SentMark } from './redis-state';
import type { TokenSource } from './tokens';

/** Pacing settings (defaults match Meta's: 80 msg/s per number, 45 then one per 6 s per pair). */
export interface PacingOptions {
  /** Throughput of a number the directory gives none for (and without an override). */
  defaultMps: number;
  /** Fraction of a number's throughput the sender uses (headroom for clock jitter on the wire). */
  safety: number;
  pairBurst: number;
  pairIntervalMs: number;
  /** Share of a number's throughput marketing may use; the rest stays for the other categories. */
  marketingShare: number;
  /** How far ahead a marketing message may hold a slot on its number (see the README). */
  marketingHorizonMs: number;
  /** How long a message waits for the portfolio messaging limit before failing. */
  messagingLimitMaxWaitMs: number;
  /** How long a number's directory facts (throughput, portfolio, limit) are cached. */
  directoryCacheMs: number;
}

/** Transient-retry settings: exponential from `baseMs` (or Meta's suggested wait), capped, jittered. */
export interface RetryOptions {
  baseMs: number;
  maxMs: number;
  /** Injectable for tests; `Math.random` by default. */
  random?: () => number;
}

export interface SenderDeps {
  redis: Redis;
  prefix: string;
  state: RedisState;
  ledger: LedgerBatcher;
  meta: MetaClient;
  tokens: TokenSource;
  directory: DirectoryCache;
  events: Producer<'message.events.v1'>;
  log: Logger;
  metrics: SenderMetrics;
  /** Parks a backlogged number's waiting jobs in bulk (absent: every job runs in order). */
  parking?: Parking;
  pacing: PacingOptions;
  retry: RetryOptions;
  /** A call claimed longer ago than this and never finished is in doubt (the Graph timeout plus margin). */
  inDoubtAfterMs: number;
  /** After that, how long to wait for the message's status webhook (`sentKey`) before dead-lettering. */
  settleWaitMs: number;
  now?: () => number;
}

/** What the ledger keeps as a message's outcome. */
interface Outcome {
  status: 'sent' | 'failed';
  wamid?: string;
  error?: { code: number; title: string; classification?: string; wapiCode?: string };
}

/** Why a message is in the dead-letter list; kept in the failed job's reason. */
export const OUTCOME_UNKNOWN: ErrorCode = 'SEND_OUTCOME_UNKNOWN';
/** A business-initiated message that waited too long for the portfolio's messaging limit. */
export const LIMIT_REACHED: ErrorCode = 'MESSAGING_LIMIT_REACHED';

/** Meta's default time to live of authentication templates (§2.11): waiting longer is pointless. */
const AUTHENTICATION_MAX_WAIT_MS = 10 * 60_000;
/** A pacing wait up to this long is slept in the job instead of delaying it (ms). */
const SHORT_WAIT_MS = 50;
/** How often a send in doubt looks for its status webhook. */
const SETTLE_POLL_MS = 1_000;

/** The pacing state a job keeps in its progress between its runs. */
interface Progress {
  /** The reserved moment of its Graph call (epoch ms). */
  slot?: number;
  /** Marketing: its place in the number's marketing lane (epoch ms). */
  ticket?: number;
  /** Since when it waits for the portfolio messaging limit. */
  limitSince?: number;
  /** Transient retries made so far. */
  retries?: number;
  /** In doubt: a later message of the number whose status webhook tells statuses flow. */
  probe?: SentMark;
  /** Parked in bulk (park.ts): `slot` (or `ticket`) was booked for it; its pair slot was not. */
  parked?: 1;
}

function progressOf(job: Job): Progress {
  const progress = job.progress as Progress | number | undefined;
  return typeof progress === 'object' && progress !== null ? progress : {};
}

/** Meta's request body of a send (§2), without `messaging_product` (meta-client adds it). */
export type GraphSend = Record<string, unknown> & { to: string; type: string };

/** Meta's request body for a queued message (§2). */
export function toGraph(p: MessageSendV1): GraphSend {
  const c = p.content;
  const body: GraphSend = {
    recipient_type: 'individual',
    to: p.to,
    type: c.type,
    // Echoed in Meta's status webhooks: lets a message whose send is in doubt be matched later.
    biz_opaque_callback_data: p.messageId,
    // §2.9: a reaction is never a reply (Meta refuses `context` on one).
    ...(p.replyToWamid && c.type !== 'reaction' ? { context: { message_id: p.replyToWamid } } : {}),
  };
  switch (c.type) {
    case 'text':
      body.text = {
        body: c.text.body,
        ...(c.text.previewUrl === undefined ? {} : { preview_url: c.text.previewUrl }),
      };
      break;
    case 'template':
      body.template = {
        name: c.template.name,
        language: { code: c.template.language },
        ...(c.template.components ? { components: c.template.components } : {}),
      };
      break;
    case 'reaction':
      // §2.8: `{message_id, emoji}`; an empty emoji removes an earlier reaction.
      body.reaction = { message_id: c.reaction.wamid, emoji: c.reaction.emoji };
      break;
    case 'location':
      // §2 location object: latitude and longitude (numbers), optional name and address.
      body.location = {
        latitude: c.location.latitude,
        longitude: c.location.longitude,
        ...(c.location.name === undefined ? {} : { name: c.location.name }),
        ...(c.location.address === undefined ? {} : { address: c.location.address }),
      };
      break;
    case 'interactive':
      // Meta's field names already (contracts, §2.5–§2.6).
      body.interactive = c.interactive;
      break;
    default:
      // The media types (§2.4): `{id | link, caption?, filename?}` as Meta spells them.
      body[c.type] = c.media;
  }
  return body;
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
 * them together): Meta counts arrivals in any second, and the pacing leaves it only the
 * headroom (`mps` - N) for such a pile-up. But a cap also caps the rate at cap / latency, so
 * it grows with the Graph latency this process observes (see `capOf` below).
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

export function createSendProcessor(deps: SenderDeps) {
  const now = deps.now ?? Date.now;
  const { state, redis, metrics, pacing } = deps;
  const random = deps.retry.random ?? Math.random;
  // 4 at 80/s, 50 at 1,000/s: full rate with a Graph latency up to ~50 ms, and no more
  // arriving together after a stall than the pacing headroom (5 % of 80/s) absorbs.
  // Graph latency (ms, moving average): on loopback to the sandbox ~2 ms, to Meta ~100s of ms.
  let latencyMs = 5;
  // The headroom the pacing leaves (4 at 80/s with the default safety, 50 at 1,000/s), or
  // what the observed latency needs for the full rate (x 1.5), whichever is larger: a stall
  // can then pile up more than the headroom at Meta (those few get 130429 and are
  // rescheduled), which beats a number that can never reach its rate.
  const inFlight = createInFlight((mps) =>
    Math.max(2, mps - Math.floor(mps * pacing.safety), Math.ceil((mps * latencyMs * 1.5) / 1000)),
  );

  /** Each number's pacing keys, built once (escaping key parts is per-message work otherwise). */
  const numberKeys = new Map<string, { number: string; window: string; marketing: string }>();
  function keysOf(pnid: string) {
    let keys = numberKeys.get(pnid);
    if (!keys) {
      keys = {
        number: state.numberKey(pnid),
        window: state.windowKey(pnid),
        marketing: state.marketingKey(pnid),
      };
      numberKeys.set(pnid, keys);
    }
    return keys;
  }
  const sentOk = metrics.sends.labels({ outcome: 'sent', code: '0' });

  /** A number's pacing facts: the operator override, else gateway's directory, else the default. */
  const facts = new Map<
    string,
    { until: number; value: Promise<{ mps: number; businessId?: string; messagingLimit?: number | null }> }
  >();
  function factsOf(pnid: string) {
    const t = now();
    const hit = facts.get(pnid);
    if (hit && hit.until > t) return hit.value;
    const value = Promise.all([redis.hget(state.mpsKey(), pnid), deps.directory.get(pnid)]).then(
      ([override, entry]) => ({
        mps: override ? Number(override) : (entry?.throughputMps ?? pacing.defaultMps),
        // The limit is the portfolio's (§5.3); until gateway knows the portfolio, its WABA
        // stands in for it: a portfolio holds one WABA or more, so this never counts less
        // than the WABA's own reach (it may allow a portfolio of several WABAs more).
        ...(entry?.businessId
          ? { businessId: entry.businessId }
          : entry
            ? { businessId: `waba:${entry.wabaId}` }
            : {}),
        ...(entry?.messagingLimit !== undefined ? { messagingLimit: entry.messagingLimit } : {}),
      }),
      (error: unknown) => {
        facts.delete(pnid);
        throw error;
      },
    );
    facts.set(pnid, { until: t + pacing.directoryCacheMs, value });
    return value;
  }

  /**
   * Marks the number's latest sent message (at most once a second per number and process):
   * the probe that tells a send in doubt whether status webhooks are flowing.
   */
  const marked = new Map<string, number>();
  async function markSent(p: MessageSendV1): Promise<void> {
    const t = now();
    if ((marked.get(p.phoneNumberId) ?? 0) > t - 1_000) return;
    marked.set(p.phoneNumberId, t);
    await state.markSent(p.phoneNumberId, { workspaceId: p.workspaceId, messageId: p.messageId, at: t });
  }

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
    if (outcome.status === 'sent') await markSent(p);
    await emit(p, outcome);
    await deps.ledger.record({
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

  /** A refusal before Meta: `error.code` 0 and wapi's stable code in `wapiCode`; no Graph call. */
  async function refuse(p: MessageSendV1, wapiCode: ErrorCode, title: string): Promise<void> {
    deps.log.info({ messageId: p.messageId, code: wapiCode }, 'message refused before sending');
    metrics.sends.inc({ outcome: 'refused', code: wapiCode });
    const outcome: Outcome = {
      status: 'failed',
      error: { code: 0, title, classification: 'refused', wapiCode },
    };
    await state.finish(p.workspaceId, p.messageId, outcome);
    await emit(p, outcome);
  }

  /**
   * A transient failure: retried after an exponential, jittered delay (the job keeps its
   * count), up to the job's attempts; then thrown for the dead-letter list.
   */
  async function retryLater(
    job: Job,
    progress: Progress,
    suggestedMs: number,
    reason: string,
    exhausted: () => Promise<void>,
  ): Promise<never> {
    const retries = (progress.retries ?? 0) + 1;
    if (retries >= (job.opts.attempts ?? 1)) {
      await exhausted();
      throw new UnrecoverableError(`${reason}; gave up after ${retries} attempts`);
    }
    // A fresh slot at the next run: the reserved one has passed.
    await job.updateProgress({ retries });
    return delay(
      job,
      now() +
        retryDelayMs(retries, Math.max(deps.retry.baseMs, suggestedMs), deps.retry.maxMs, deps.retry.random),
    );
  }

  /**
   * The portfolio messaging limit (§5.3): business-initiated (a template outside the
   * customer's window) to a recipient not reached in 24 h counts; absent limit: not known
   * yet, not limited; null: unlimited. Delays the job (throws) while no place is free.
   */
  async function reachOrWait(
    p: MessageSendV1,
    job: Job,
    progress: Progress,
    number: Awaited<ReturnType<typeof factsOf>>,
    windowOpen: () => Promise<boolean>,
  ): Promise<void> {
    if (
      p.content.type !== 'template' ||
      !number.businessId ||
      typeof number.messagingLimit !== 'number' ||
      (await windowOpen())
    )
      return;
    const wait = await state.reach(number.businessId, p.to, number.messagingLimit, now());
    if (wait <= 0) return;
    const since = progress.limitSince ?? now();
    const bound =
      p.category === 'authentication'
        ? Math.min(AUTHENTICATION_MAX_WAIT_MS, pacing.messagingLimitMaxWaitMs)
        : pacing.messagingLimitMaxWaitMs;
    if (now() + wait > since + bound) {
      const title = `The portfolio's messaging limit (${number.messagingLimit} recipients per 24 h) frees no place for a new recipient within ${Math.round(bound / 1000)} s.`;
      await refuse(p, LIMIT_REACHED, title);
      throw new UnrecoverableError(`${LIMIT_REACHED}: ${title} Replay it once a place is free.`);
    }
    metrics.waits.inc({ reason: 'messaging_limit' });
    // A parked job's slot is not kept: it paces again once a place is free.
    const { parked: _parked, slot: _slot, ticket: _ticket, ...rest } = progress;
    await job.updateProgress({ ...(progress.parked ? rest : progress), limitSince: since });
    await delay(job, now() + wait);
  }

  /**
   * The number is booked more than `PARK_AFTER_MS` ahead: its waiting jobs of this lane are
   * parked in bulk (`park.ts`) with the slots that follow `firstSlot`, and those slots are
   * booked on the lane's pacing key, so that other numbers' jobs behind them are taken next.
   */
  async function parkBacklog(
    p: MessageSendV1,
    lane: Lane,
    key: string,
    firstSlot: number,
    intervalMs: number,
  ) {
    if (!deps.parking) return;
    const t = now();
    const earlyMs = lane === 'marketing' ? pacing.marketingHorizonMs : 0;
    try {
      const parked = await deps.parking.park({
        phoneNumberId: p.phoneNumberId,
        lane,
        firstSlot,
        intervalMs,
        earlyMs,
        now: t,
      });
      if (parked === 0) return;
      const end = firstSlot + parked * intervalMs;
      await state.push(key, end, end - t + 60_000);
      metrics.parked.inc({ lane }, parked);
    } catch (error) {
      // Not parking only costs the backlog's jobs a run each, and parked jobs whose block
      // was not booked are held to the number's rate by the sliding window: log it, send on.
      deps.log.warn(
        { err: error, phoneNumberId: p.phoneNumberId },
        'parking a backlog failed; its jobs run one by one (check Redis if this repeats)',
      );
    }
  }

  /**
   * Pacing: the earliest slot the number's throughput, the pair rate, the marketing lane and
   * the portfolio's messaging limit allow, reserved once and kept in the job's progress. The
   * job sleeps (delayed, off the queue) until it. Returns when the job may call now.
   */
  async function pace(p: MessageSendV1, job: Job, progress: Progress, windowOpen: () => Promise<boolean>) {
    if (progress.slot !== undefined && !progress.parked) {
      if (progress.slot > now() + 1) await delay(job, progress.slot);
      return;
    }
    const number = await factsOf(p.phoneNumberId);
    const rate = number.mps * pacing.safety;
    await reachOrWait(p, job, progress, number, windowOpen);

    const numberLimit: Limit = { key: keysOf(p.phoneNumberId).number, intervalMs: 1000 / rate, burst: 1 };
    const pairLimit: Limit = {
      key: state.pairKey(p.phoneNumberId, p.to),
      intervalMs: pacing.pairIntervalMs,
      burst: pacing.pairBurst,
    };
    if (progress.slot !== undefined) {
      // Parked (park.ts): its slot on the number was booked in bulk; the pair rate was not.
      if (progress.slot > now() + SHORT_WAIT_MS) await delay(job, progress.slot);
      const pairWait = await state.pace([pairLimit], now());
      if (pairWait >= 1) {
        metrics.waits.inc({ reason: 'throughput' });
        const { parked: _parked, slot: _slot, ...rest } = progress;
        await job.updateProgress(rest);
        await delay(job, now() + pairWait);
      }
      const left = progress.slot - now();
      if (left >= 1) await new Promise((resolve) => setTimeout(resolve, left));
      return;
    }
    if (p.category === 'marketing') {
      // Marketing first takes a place in its own lane at a share of the number's rate (and
      // its pair slot), and holds a slot on the number itself only within the horizon: a
      // campaign never books the number far ahead, so confirmations, authentication and
      // utility find a slot within the horizon and take the rest of the number's rate.
      let ticket = progress.ticket;
      if (ticket === undefined) {
        const laneInterval = 1000 / (rate * pacing.marketingShare);
        const lane = keysOf(p.phoneNumberId).marketing;
        const wait = await state.pace([{ key: lane, intervalMs: laneInterval, burst: 1 }, pairLimit], now());
        ticket = now() + wait;
        if (wait > pacing.marketingHorizonMs) {
          metrics.waits.inc({ reason: 'marketing_share' });
          if (wait > PARK_AFTER_MS)
            await parkBacklog(p, 'marketing', lane, ticket + laneInterval, laneInterval);
          await job.updateProgress({ ...progress, ticket });
          await delay(job, ticket - pacing.marketingHorizonMs);
        }
      }
      // The number's slot, within the horizon too: jobs that woke late together (a busy
      // worker) must not book the number ahead of the messages that take precedence. A
      // parked job's pair slot was not taken with its ticket: it is taken here.
      const slot = await state.tryPace(
        progress.parked ? [numberLimit, pairLimit] : [numberLimit],
        now(),
        ticket,
        pacing.marketingHorizonMs,
      );
      if (!slot.reserved) {
        // Woke late (its ticket passed while the worker was busy), behind others that did:
        // come back when the number frees up, spread over how late it is, so that a crowd of
        // late jobs does not wake together at every slot.
        metrics.waits.inc({ reason: 'marketing_share' });
        const late = Math.min(30_000, Math.max(0, now() - ticket));
        if (progress.ticket === undefined) await job.updateProgress({ ...progress, ticket });
        await delay(job, now() + slot.wait - pacing.marketingHorizonMs + random() * late);
      }
      if (slot.wait >= 1) {
        metrics.waits.inc({ reason: 'throughput' });
        const { parked: _parked, ...rest } = progress;
        await job.updateProgress({ ...rest, ticket, slot: now() + slot.wait });
        await delay(job, now() + slot.wait);
      }
      return;
    }
    const wait = await state.pace([numberLimit, pairLimit], now());
    if (wait >= 1 && wait <= SHORT_WAIT_MS) {
      // A slot this close (a fast number's next one is ~1 ms away) is waited for here: a
      // round trip through the delayed set would cost more than the wait (half the CPU per
      // message at 1,000/s). A worker that dies meanwhile just leaves the slot unused.
      await new Promise((resolve) => setTimeout(resolve, wait));
      return;
    }
    if (wait >= 1) {
      metrics.waits.inc({ reason: 'throughput' });
      const slot = now() + wait;
      if (wait > PARK_AFTER_MS)
        await parkBacklog(p, 'other', numberLimit.key, slot + numberLimit.intervalMs, numberLimit.intervalMs);
      await job.updateProgress({ ...progress, slot });
      await delay(job, slot);
    }
  }

  /** 5. The call (a 190 gets one more, with a token read past the cache), and its outcome. */
  async function call(
    p: MessageSendV1,
    job: Job<MessageSendV1>,
    progress: Progress,
    claimed: number,
    release: () => void,
  ): Promise<void> {
    const body = toGraph(p);
    let call = claimed;
    let fresh = false;
    for (;;) {
      try {
        const token = await deps.tokens.get(p.workspaceId, p.phoneNumberId, fresh);
        if (!(await state.start(p.workspaceId, p.messageId, call, now()))) {
          throw new Error(
            'another run of this job claimed the message meanwhile (its lock was lost); this run does not call Graph',
          );
        }
        const stop = metrics.graphLatency.startTimer();
        // The body follows Meta's schema field for field (toGraph); the cast only bridges our
        // closed queue payload types to the request type's open unions.
        const answer = await deps.meta.sendMessage(
          token,
          p.phoneNumberId,
          body as unknown as Parameters<MetaClient['sendMessage']>[2],
        );
        latencyMs = latencyMs * 0.9 + stop() * 100;
        sentOk.inc();
        metrics.queueWait.observe({ category: p.category }, (now() - job.timestamp) / 1000);
        const wamid = answer.messages[0]?.id;
        await record(p, call, { status: 'sent', ...(wamid ? { wamid } : {}) }, release);
        return;
      } catch (error) {
        if (error instanceof DelayedError || error instanceof UnrecoverableError) throw error;
        if (!(error instanceof MetaApiError)) {
          // No answer: the request may have reached Meta (timeout, reset). Leave the claim
          // `calling`, so the retry finds it in doubt instead of calling again — unless the
          // connection was never made, which is retried like any transient error.
          if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(String((error as Error).message))) {
            await state.release(p.workspaceId, p.messageId);
            metrics.sends.inc({ outcome: 'retry', code: 'connect' });
            release();
            const title = `Graph unreachable: ${(error as Error).message}`.slice(0, 512);
            return retryLater(job, progress, 0, title, () =>
              record(p, call, { status: 'failed', error: { code: 0, title, classification: 'retryable' } }),
            );
          }
          throw error;
        }
        const kind = error.classification.kind;
        metrics.sends.inc({
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
            workspaceId: p.workspaceId,
            messageId: p.messageId,
            phoneNumberId: p.phoneNumberId,
            call,
            at: new Date(now()),
          });
          await redis.hset(state.ledgerKey(p.workspaceId, p.messageId), 'state', 'claimed', 'n', call);
          continue;
        }
        if (error.classification.kind === 'rate-limited') {
          await state.release(p.workspaceId, p.messageId);
          // The reserved slot was too early for Meta: pace again after the wait.
          await job.updateProgress(progress.retries ? { retries: progress.retries } : {});
          const until = now() + error.classification.retryAfterMs;
          if (error.classification.scope === 'number')
            await state.push(keysOf(p.phoneNumberId).number, until);
          if (error.classification.scope === 'pair')
            await state.push(state.pairKey(p.phoneNumberId, p.to), until);
          deps.log.warn({ messageId: p.messageId, code: error.code }, 'Meta rate limit; message rescheduled');
          release();
          return delay(job, until);
        }
        if (error.classification.kind === 'retryable') {
          await state.release(p.workspaceId, p.messageId);
          release();
          return retryLater(
            job,
            progress,
            error.classification.retryAfterMs,
            `META_${error.code}: ${failure.title} (retryable)`,
            () => record(p, call, { status: 'failed', error: failure }),
          );
        }
        if (kind === 'auth') await redis.sadd(state.flaggedKey(), p.phoneNumberId);
        await record(p, call, { status: 'failed', error: failure }, release);
        throw new UnrecoverableError(`META_${error.code}: ${failure.title}`);
      }
    }
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
    let open: Promise<boolean> | undefined;
    const windowOpen = () => {
      open ??= redis
        .get(windowKey(deps.prefix, p.phoneNumberId, p.to))
        .then((until) => Number(until) > now());
      return open;
    };
    if (p.content.type !== 'template' && !(await windowOpen()))
      return refuse(
        p,
        'OUTSIDE_CUSTOMER_SERVICE_WINDOW',
        'Free-form messages can only be sent within 24 hours of the customer’s last message.',
      );

    // 3. Pacing: a slot is reserved once; the job sleeps (delayed, off the queue) until it.
    const progress = progressOf(job);
    await pace(p, job, progress, windowOpen);

    // 4. Claim the call.
    const claim = await state.claim(p.workspaceId, p.messageId, now());
    if (claim.kind === 'done') return emit(p, JSON.parse(claim.outcome) as Outcome);
    if (claim.kind === 'calling') {
      // A call of this message left and its outcome was never recorded (its worker died, or
      // the answer never came). Never call again: settle it from its status webhook.
      const wamid = await state.settled(p.workspaceId, p.messageId);
      if (wamid) {
        deps.log.info({ messageId: p.messageId }, 'send in doubt settled by its status webhook');
        metrics.sends.inc({ outcome: 'settled', code: '0' });
        return record(p, claim.call, { status: 'sent', wamid });
      }
      if (progress.parked) {
        // Its later runs (one a second while in doubt) must not take a pair slot each: as a
        // job that paced itself, it keeps its slot and skips pacing from now on.
        delete progress.parked;
        await job.updateProgress(progress);
      }
      const ended = claim.since + deps.inDoubtAfterMs;
      if (now() < ended) return delay(job, ended);
      // A probe: a message of the same number sent after this call. Once its status webhook
      // has arrived and ours has not after the settle wait, statuses are flowing and Meta
      // never had ours (the worker died between marking the call and writing it).
      let probe = progress.probe;
      if (!probe) {
        const latest = await state.latestSent(p.phoneNumberId);
        if (latest && latest.at > claim.since) {
          probe = latest;
          await job.updateProgress({ ...progress, probe });
        }
      }
      if (now() < ended + deps.settleWaitMs)
        return delay(job, Math.min(ended + deps.settleWaitMs, now() + SETTLE_POLL_MS));
      if (probe && (await state.settled(probe.workspaceId, probe.messageId))) {
        deps.log.warn(
          { messageId: p.messageId, probe: probe.messageId },
          'send in doubt never reached Meta (a later message has its status webhook, this one none): sending it',
        );
        metrics.sends.inc({ outcome: 'resent_after_doubt', code: '0' });
        await state.release(p.workspaceId, p.messageId);
        await job.updateProgress({});
        return delay(job, now());
      }
      // The claim stays `calling`: a replay finds it in doubt too, until someone decides.
      throw new UnrecoverableError(
        `${OUTCOME_UNKNOWN}: a Graph call for this message started at ${new Date(claim.since).toISOString()} and neither its answer nor its status webhook arrived (the worker stopped), and no later message of the number shows that statuses are flowing; it is not resent — check with Meta before replaying`,
      );
    }
    const claimed = await deps.ledger.insert({
      _id: `${p.workspaceId}:${p.messageId}:${claim.call}`,
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

    // The number's sliding window, Meta's way of counting (the sandbox does the same: at most
    // `mps` in any 1,000 ms): N = mps x safety sends in any second at most; the rest of the
    // number's quota is headroom for sends that pile up on the way (the in-flight cap).
    // Checked after the claim's grouped insert, right before the call: jobs released
    // together by one insert batch must not reach Meta together.
    const numberMps = (await factsOf(p.phoneNumberId)).mps;
    const limit = Math.max(1, Math.floor(numberMps * pacing.safety));
    let free: (() => void) | undefined = await inFlight.acquire(p.phoneNumberId, numberMps);
    /** Frees this run's in-flight slot (once). */
    const release = () => {
      free?.();
      free = undefined;
    };
    try {
      // The window is checked holding the in-flight slot, so its count is of calls that
      // leave now, not of calls that then queue behind the cap and leave together later.
      // A full window frees within its 1,000 ms (usually a few ms: the pacing plans the same
      // rate, and wake-ups that bunch only move a call by a slot or two), so the run waits
      // here, claim and slot kept, instead of a trip through the delayed set that would give
      // up the claim (a new ledger insert at the next run) and the call's place in line.
      // (Waiting without the slot was tried: every run behind the cap then checks the window
      // and sleeps to the same moment, some 45 checks per message in scenario A.)
      for (;;) {
        const full = await state.window(keysOf(p.phoneNumberId).window, limit, 1_000, now());
        if (full === 0) break;
        metrics.waits.inc({ reason: 'sliding_window' });
        await new Promise((resolve) => setTimeout(resolve, full));
      }
      return await call(p, job, progress, claim.call, release);
    } finally {
      // Every path has moved the state on from `calling` (or left it there on purpose: no
      // answer) before getting here. The slot is held until then, so no more than the cap
      // are ever in doubt at once.
      release();
    }
  };
}
