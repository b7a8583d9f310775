import type { Config } from './config';
import { createFaultSwitch, type FaultSwitch } from './domain/faults';
import type { Clock, WebhookSink } from './domain/ports';
import { createRandom } from './domain/prng';
import type { SendPolicy } from './domain/send-decision';
import { createStatusProgression, type StatusProgression } from './domain/status-progression';
import { createTemplateReview, type TemplateReview } from './domain/templates';
import { createTimerSet, type TimerSet } from './domain/timers';
import { clearWorld, createWorld, type World } from './domain/world';
import { createDeliveryEngine, type DeliveryEngine } from './webhooks/delivery-engine';
import { createWebhookSink } from './webhooks/emitter';

export type { SendPlan, SendPolicy } from './domain/send-decision';
export type { Timings } from './domain/status-progression';

/**
 * The sandbox's collaborators, built once from config by {@link createSandbox}. Nothing
 * receives this whole: `app.ts` hands each route plugin the few members it uses.
 */
export interface Sandbox {
  /** The simulated Meta world (in memory). */
  readonly world: World;
  readonly clock: Clock;
  /** Timers of status progressions and template reviews (cleared on reset and close). */
  readonly timers: TimerSet;
  /** Webhook POSTs: queueing, batching, signing, retries, the GET handshake. */
  readonly engine: DeliveryEngine;
  /** Where the domain's webhook changes go (routing into the engine). */
  readonly webhooks: WebhookSink;
  readonly faults: FaultSwitch;
  /** The configurable send rules, read once from config. */
  readonly policy: SendPolicy;
  readonly progression: StatusProgression;
  readonly review: TemplateReview;
  /** Empties the world and forgets everything in progress (timers, deliveries, faults). */
  reset(): void;
  close(): void;
}

export interface SandboxDeps {
  config: Config;
  now?: () => number;
}

/** The send rules of `config` (routes and the domain read this, never `SANDBOX_*`). */
export function sendPolicyFrom(config: Config): SendPolicy {
  return {
    reengagement: config.SANDBOX_REENGAGEMENT_MODE,
    messagingLimit: { mode: config.SANDBOX_MESSAGING_LIMIT_MODE, code: config.SANDBOX_MESSAGING_LIMIT_CODE },
    usMarketingPause: config.SANDBOX_US_MARKETING_PAUSE,
    pair: { burst: config.SANDBOX_PAIR_BURST, intervalMs: config.SANDBOX_PAIR_INTERVAL_MS },
    retainedMessages: config.SANDBOX_RETAINED_MESSAGES,
  };
}

/** Wires the collaborators from config: the composition root of everything but HTTP. */
export function createSandbox(deps: SandboxDeps): Sandbox {
  const { config } = deps;
  const clock: Clock = { now: deps.now ?? Date.now };
  // One seeded generator for jitter, fault decisions and the engine's shuffles, so a run
  // replays exactly for a SANDBOX_RANDOM_SEED.
  const random = createRandom(config.SANDBOX_RANDOM_SEED);
  const world = createWorld();
  const timers = createTimerSet();
  const faults = createFaultSwitch();
  const engine = createDeliveryEngine({
    timeoutMs: config.SANDBOX_WEBHOOK_TIMEOUT_MS,
    retryBaseMs: config.SANDBOX_WEBHOOK_RETRY_BASE_MS,
    horizonMs: config.SANDBOX_WEBHOOK_RETRY_HORIZON_MS,
    batchMax: config.SANDBOX_WEBHOOK_BATCH_MAX,
    batchWindowMs: config.SANDBOX_WEBHOOK_BATCH_WINDOW_MS,
    concurrency: config.SANDBOX_WEBHOOK_CONCURRENCY,
    encoding: config.SANDBOX_WEBHOOK_ENCODING,
    now: clock.now,
    random,
    faults: faults.current,
  });
  const webhooks = createWebhookSink(world, engine);
  const progression = createStatusProgression({
    world,
    clock,
    scheduler: timers,
    webhooks,
    faults,
    random,
    timings: {
      sentMs: config.SANDBOX_STATUS_SENT_MS,
      deliveredMs: config.SANDBOX_STATUS_DELIVERED_MS,
      readMs: config.SANDBOX_STATUS_READ_MS,
      deterministic: config.SANDBOX_DETERMINISTIC,
    },
  });
  const review = createTemplateReview({
    world,
    scheduler: timers,
    webhooks,
    delayMs: config.SANDBOX_TEMPLATE_REVIEW_MS,
  });
  return {
    world,
    clock,
    timers,
    engine,
    webhooks,
    faults,
    policy: sendPolicyFrom(config),
    progression,
    review,
    reset() {
      timers.clear();
      progression.reset();
      engine.reset();
      clearWorld(world);
      faults.reset();
    },
    close() {
      timers.clear();
      engine.close();
    },
  };
}
