import type { PhoneNumber } from './world';

// What the domain needs from the outside world, as narrow interfaces: the composition root
// (sandbox.ts) wires real implementations in, and a route passes on only the ones it uses.

/** Milliseconds since the epoch; tests inject a manual clock. */
export interface Clock {
  now(): number;
}

/** Runs work later on the sandbox's timers (cleared by reset and close). */
export interface Scheduler {
  /** Runs `fn` after at least `ms` milliseconds (a lower bound, see `atLeast`). */
  later(ms: number, fn: () => void): void;
}

/** Where the domain's webhook changes go (the delivery engine routes, batches and signs them). */
export interface WebhookSink {
  /**
   * One change about `number` to every app subscribed to its WABA and `field`; `messages`
   * follow number override → WABA override → app URL (§8.3).
   */
  toNumber(number: PhoneNumber, field: string, value: Record<string, unknown>): void;
  /** One WABA-level change (templates, account, capability) to every subscribed app's URL. */
  toWaba(wabaId: string, field: string, value: Record<string, unknown>): void;
}

/** The GET verification handshake of a callback URL (§3.1). */
export interface CallbackVerifier {
  /** True when the receiver echoes the challenge with a 200. */
  verify(url: string, verifyToken: string): Promise<boolean>;
}

/** `metadata` of a `messages` change value (§3.3). */
export function numberMetadata(number: PhoneNumber): {
  display_phone_number: string;
  phone_number_id: string;
} {
  return { display_phone_number: number.display, phone_number_id: number.id };
}
