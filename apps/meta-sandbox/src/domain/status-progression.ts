import type { StatusObject, WebhookError } from '@wapi/contracts';
import type { FaultSwitch } from './faults';
import { webhookError } from './graph-error';
import { randomHex } from './ids';
import { type Clock, numberMetadata, type Scheduler, type WebhookSink } from './ports';
import type { SendPlan } from './send-decision';
import { DEFAULT_TTL_MS } from './ttl';
import { customerOf, type OutboundMessage, type PhoneNumber, type StatusName, type World } from './world';

/** Status latencies (§12: realistic ones are unconfirmed; defaults from config). */
export interface Timings {
  sentMs: number;
  deliveredMs: number;
  readMs: number;
}

/** The timings in force and whether they are exact (no ±50 % jitter). */
export interface TimingsView extends Timings {
  deterministic: boolean;
}

/**
 * What happens to an accepted send after the 200 (§3.5, §12): `sent`, `delivered` (held while
 * the user's device is offline, dropped past the TTL), `read`, `played`, or the planned async
 * failure — with the drop-delivered, delivered-then-failed and reorder faults.
 */
export interface StatusProgression {
  /** Starts the sent → delivered → read progression (or the async failure) of a send. */
  afterAccepted(message: OutboundMessage, number: PhoneNumber, plan: SendPlan): void;
  /** A simulated user's device came online: deliver what was waiting (§12). */
  deviceOnline(waId: string): void;
  timings(): TimingsView;
  /** Merges new timings (`PUT /_sandbox/timings`) and returns those in force. */
  setTimings(patch: Partial<TimingsView>): TimingsView;
  /** Forgets every message in progress (the caller clears the timers). */
  reset(): void;
}

export interface StatusProgressionDeps {
  world: World;
  clock: Clock;
  scheduler: Scheduler;
  webhooks: WebhookSink;
  faults: FaultSwitch;
  /** Seeded generator of jitter and fault decisions. */
  random: () => number;
  timings: TimingsView;
}

const DAY_S = 86_400;
/** A status held by the reorder fault goes out at the latest this long after both next delays. */
const REORDER_FALLBACK_MS = 100;

type StatusFn = (name: StatusName, withPricing: boolean, error?: WebhookError) => void;

export function createStatusProgression(deps: StatusProgressionDeps): StatusProgression {
  const { world, clock, scheduler, webhooks, faults, random } = deps;
  let timings: TimingsView = { ...deps.timings };
  /** Messages whose `delivered` waits for the device (§12: offline device delays delivery). */
  const pending = new Map<string, Array<{ message: OutboundMessage; status: StatusFn }>>();
  /** Plans of voice notes waiting for the device (needed for `played`). */
  const plans = new Map<string, SendPlan>();
  /** Status webhooks held back by the reorder fault, per wamid (released after the next one). */
  const held = new Map<string, () => void>();

  function delay(ms: number): number {
    return timings.deterministic ? ms : Math.round(ms * (0.5 + random()));
  }

  /** Builds and emits the status objects of one message (§3.5). */
  function statusEmitter(message: OutboundMessage, number: PhoneNumber, plan: SendPlan): StatusFn {
    // Pre-v24 `conversation.id` is unique per message (§3.5).
    const conversationId = randomHex(16);
    return (name, withPricing, error) => {
      const at = clock.now();
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
        webhooks.toNumber(number, 'messages', {
          messaging_product: 'whatsapp',
          metadata: numberMetadata(number),
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
    if (!faults.current().reorder || random() >= 0.5) {
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
    scheduler.later(2 * (timings.deliveredMs + timings.readMs) + REORDER_FALLBACK_MS, release);
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
        scheduler.later(delay(timings.readMs), () => status('played', false));
    };
    if (faults.current().dropDelivered && customer.readReceipts) {
      scheduler.later(delay(timings.deliveredMs + timings.readMs), () => {
        status('read', true);
        afterRead();
      });
      return;
    }
    scheduler.later(delay(timings.deliveredMs), () => {
      status('delivered', true);
      const rate = faults.current().deliveredThenFailed;
      if (rate > 0 && random() < rate) {
        // §3.5: rarely `delivered` and then `failed` (one of the user's devices failed). The code
        // Meta sends is not documented; 131000 "Something went wrong" is the sandbox's choice.
        scheduler.later(delay(timings.deliveredMs), () =>
          status(
            'failed',
            false,
            webhookError(131000, 'Message failed to reach one of the recipient devices.'),
          ),
        );
        return;
      }
      if (customer.readReceipts)
        scheduler.later(delay(timings.readMs), () => {
          status('read', false);
          afterRead();
        });
    });
  }

  return {
    afterAccepted(message, number, plan) {
      const status = statusEmitter(message, number, plan);
      if (plan.voice && !plan.failure) plans.set(message.wamid, plan);
      if (plan.failure) {
        const failure = plan.failure;
        scheduler.later(delay(timings.sentMs), () => status('failed', false, failure));
        return;
      }
      scheduler.later(delay(timings.sentMs), () => {
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
      const at = clock.now();
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
    timings: () => ({ ...timings }),
    setTimings(patch) {
      const next = { ...timings };
      for (const [key, value] of Object.entries(patch))
        if (value !== undefined) (next as Record<string, unknown>)[key] = value;
      timings = next;
      return { ...timings };
    },
    reset() {
      pending.clear();
      plans.clear();
      held.clear();
    },
  };
}
