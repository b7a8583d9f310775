import type { StatusObject, WebhookError } from '@wapi/contracts';
import type { Config } from './config';
import { webhookError } from './domain/graph-error';
import { randomHex } from './domain/ids';
import { createRandom } from './domain/prng';
import type { SendPlan, SendPolicy } from './domain/send-decision';
import { atLeast } from './domain/timers';
import { DEFAULT_TTL_MS } from './domain/ttl';
import {
  createWorld,
  customerOf,
  type OutboundMessage,
  type PhoneNumber,
  type StatusName,
  type World,
} from './domain/world';
import {
  createDeliveryEngine,
  type DeliveryEngine,
  type Faults,
  NO_FAULTS,
} from './webhooks/delivery-engine';
import { targetsFor, wabaTargets } from './webhooks/routing';

/** Status timings (§12: realistic latencies are unconfirmed; defaults from config). */
export interface Timings {
  sentMs: number;
  deliveredMs: number;
  readMs: number;
}

export type { SendPlan, SendPolicy } from './domain/send-decision';

export interface Sandbox {
  readonly world: World;
  readonly engine: DeliveryEngine;
  readonly config: Config;
  /** The configurable send rules, read once from config. */
  readonly policy: SendPolicy;
  now(): number;
  faults: Faults;
  timings: Timings;
  deterministic: boolean;
  /** Base URL of this sandbox as callers reach it (media URLs). */
  publicUrl: string;
  /** Starts the sent → delivered → read progression (or the async failure) of a send. */
  afterAccepted(message: OutboundMessage, number: PhoneNumber, plan: SendPlan): void;
  /** A simulated user's device came online: deliver what was waiting (§12). */
  deviceOnline(waId: string): void;
  /** Emits one change for `number` on `field` to every subscribed app. */
  emit(number: PhoneNumber, field: string, value: Record<string, unknown>): void;
  emitWaba(wabaId: string, field: string, value: Record<string, unknown>): void;
  metadata(number: PhoneNumber): { display_phone_number: string; phone_number_id: string };
  /** Schedules work on the sandbox's timers (cleared on reset and close). */
  later(ms: number, fn: () => void): void;
  reset(): void;
  close(): void;
}

export interface SandboxDeps {
  config: Config;
  now?: () => number;
}

const DAY_S = 86_400;
/** A status held by the reorder fault goes out at the latest this long after both next delays. */
const REORDER_FALLBACK_MS = 100;

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

export function createSandbox(deps: SandboxDeps): Sandbox {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const random = createRandom(config.SANDBOX_RANDOM_SEED);
  const world = createWorld();
  const timers = new Set<NodeJS.Timeout>();
  type StatusFn = (name: StatusName, withPricing: boolean, error?: WebhookError) => void;
  /** Messages whose `delivered` waits for the device (§12: offline device delays delivery). */
  const pending = new Map<string, Array<{ message: OutboundMessage; status: StatusFn }>>();
  /** Plans of voice notes waiting for the device (needed for `played`). */
  const plans = new Map<string, SendPlan>();
  /** Status webhooks held back by the reorder fault, per wamid (released after the next one). */
  const held = new Map<string, () => void>();

  const sandbox: Sandbox = {
    world,
    config,
    policy: sendPolicyFrom(config),
    now,
    faults: { ...NO_FAULTS },
    timings: {
      sentMs: config.SANDBOX_STATUS_SENT_MS,
      deliveredMs: config.SANDBOX_STATUS_DELIVERED_MS,
      readMs: config.SANDBOX_STATUS_READ_MS,
    },
    deterministic: config.SANDBOX_DETERMINISTIC,
    publicUrl: config.SANDBOX_PUBLIC_URL,
    engine: createDeliveryEngine({
      timeoutMs: config.SANDBOX_WEBHOOK_TIMEOUT_MS,
      retryBaseMs: config.SANDBOX_WEBHOOK_RETRY_BASE_MS,
      horizonMs: config.SANDBOX_WEBHOOK_RETRY_HORIZON_MS,
      batchMax: config.SANDBOX_WEBHOOK_BATCH_MAX,
      batchWindowMs: config.SANDBOX_WEBHOOK_BATCH_WINDOW_MS,
      concurrency: config.SANDBOX_WEBHOOK_CONCURRENCY,
      encoding: config.SANDBOX_WEBHOOK_ENCODING,
      now,
      random,
      faults: () => sandbox.faults,
    }),
    later(ms, fn) {
      atLeast(timers, ms, fn);
    },
    metadata(number) {
      return { display_phone_number: number.display, phone_number_id: number.id };
    },
    emit(number, field, value) {
      for (const target of targetsFor(world, number, field))
        sandbox.engine.enqueue(target, number.wabaId, field, value);
    },
    emitWaba(wabaId, field, value) {
      for (const target of wabaTargets(world, wabaId, field))
        sandbox.engine.enqueue(target, wabaId, field, value);
    },
    afterAccepted(message, number, plan) {
      const status = statusEmitter(message, number, plan);
      if (plan.voice && !plan.failure) plans.set(message.wamid, plan);
      if (plan.failure) {
        const failure = plan.failure;
        sandbox.later(delay(sandbox.timings.sentMs), () => status('failed', false, failure));
        return;
      }
      sandbox.later(delay(sandbox.timings.sentMs), () => {
        status('sent', true);
        if (plan.onlySent) return;
        if (!customerOf(world, message.to).online) {
          message.awaitingDevice = true;
          const list = pending.get(message.to) ?? [];
          list.push({ message, status });
          pending.set(message.to, list);
          return;
        }
        deliver(message, status, plan);
      });
    },
    deviceOnline(waId) {
      const list = pending.get(waId) ?? [];
      pending.delete(waId);
      const at = now();
      for (const item of list) {
        item.message.awaitingDevice = false;
        // §2.11 / §12: undelivered past its TTL → dropped silently, no `failed`.
        if (at >= (item.message.ttlExpiresAt ?? item.message.at + DEFAULT_TTL_MS)) {
          item.message.droppedAt = at;
          continue;
        }
        deliver(item.message, item.status, plans.get(item.message.wamid));
      }
    },
    reset() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      pending.clear();
      plans.clear();
      held.clear();
      sandbox.engine.reset();
      for (const map of Object.values(world)) (map as Map<unknown, unknown>).clear();
      sandbox.faults = { ...NO_FAULTS };
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      sandbox.engine.close();
    },
  };

  function delay(ms: number): number {
    return sandbox.deterministic ? ms : Math.round(ms * (0.5 + random()));
  }

  /** Builds and emits the status objects of one message (§3.5). */
  function statusEmitter(message: OutboundMessage, number: PhoneNumber, plan: SendPlan): StatusFn {
    // Pre-v24 `conversation.id` is unique per message (§3.5).
    const conversationId = randomHex(16);
    return (name, withPricing, error) => {
      const at = now();
      message.statuses.push({ status: name, at, ...(error ? { errorCode: error.code } : {}) });
      const object: StatusObject = {
        id: message.wamid,
        status: name,
        timestamp: String(Math.floor(at / 1_000)),
        recipient_id: message.to,
      };
      const opaque = message.payload.biz_opaque_callback_data;
      if (typeof opaque === 'string') object.biz_opaque_callback_data = opaque;
      if (withPricing) {
        // §3.5: `conversation` before v24, and from v24 only inside a free-entry-point window,
        // where its id is the window's and it expires with the window; `expiration_timestamp`
        // only on `sent`.
        const fep = plan.entryPoint;
        if (message.version < 24 || fep) {
          const expires = fep ? Math.floor(fep.expiresAt / 1_000) : Math.floor(at / 1_000) + DAY_S;
          object.conversation = {
            id: fep?.conversationId ?? conversationId,
            ...(name === 'sent' ? { expiration_timestamp: String(expires) } : {}),
            origin: { type: plan.pricing.category },
          };
        }
        object.pricing = { ...plan.pricing };
      }
      if (error) object.errors = [error];
      const send = () =>
        sandbox.emit(number, 'messages', {
          messaging_product: 'whatsapp',
          metadata: sandbox.metadata(number),
          statuses: [object],
        });
      reorderable(message.wamid, send);
    };
  }

  /**
   * §12 fault injection "random reordering across statuses of one message" (§3.6: `delivered`
   * may arrive before `sent`, `read` before `delivered`). With the reorder fault on, a status is
   * held back (seeded PRNG, one in two) and released right after the message's next status, or
   * after a fallback when no further status comes (last status, offline device).
   */
  function reorderable(wamid: string, send: () => void): void {
    const previous = held.get(wamid);
    if (previous) {
      held.delete(wamid);
      send();
      previous();
      return;
    }
    if (!sandbox.faults.reorder || random() >= 0.5) {
      send();
      return;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (held.get(wamid) === release) held.delete(wamid);
      send();
    };
    held.set(wamid, release);
    const { deliveredMs, readMs } = sandbox.timings;
    sandbox.later(2 * (deliveredMs + readMs) + REORDER_FALLBACK_MS, release);
  }

  /**
   * `delivered` then `read` (read only with read receipts on, §3.5). With the drop-delivered
   * fault only `read` is sent, carrying the pricing (pricing on `sent` and one of delivered/read).
   */
  function deliver(message: OutboundMessage, status: StatusFn, plan: SendPlan | undefined): void {
    plans.delete(message.wamid);
    const customer = customerOf(world, message.to);
    // §3.5: `played` on the first play of a voice note, after `read` (only with receipts on).
    const afterRead = () => {
      if (plan?.voice && customer.playsVoiceNotes)
        sandbox.later(delay(sandbox.timings.readMs), () => status('played', false));
    };
    if (sandbox.faults.dropDelivered && customer.readReceipts) {
      sandbox.later(delay(sandbox.timings.deliveredMs + sandbox.timings.readMs), () => {
        status('read', true);
        afterRead();
      });
      return;
    }
    sandbox.later(delay(sandbox.timings.deliveredMs), () => {
      status('delivered', true);
      const rate = sandbox.faults.deliveredThenFailed;
      if (rate > 0 && random() < rate) {
        // §3.5: rarely `delivered` and then `failed` (one of the user's devices failed). The code
        // Meta sends is not documented; 131000 "Something went wrong" is the sandbox's choice.
        sandbox.later(delay(sandbox.timings.deliveredMs), () =>
          status(
            'failed',
            false,
            webhookError(131000, 'Message failed to reach one of the recipient devices.'),
          ),
        );
        return;
      }
      if (customer.readReceipts)
        sandbox.later(delay(sandbox.timings.readMs), () => {
          status('read', false);
          afterRead();
        });
    });
  }

  return sandbox;
}
