/** Fault injection, switchable at run time through the control API (§12 "Webhook delivery engine"). */
export interface Faults {
  /** Probability that a delivered POST is sent again with the identical body. */
  duplicateRate: number;
  /**
   * Shuffle queued changes before they are batched, so POSTs leave out of order; the sandbox also
   * holds back some statuses of a message until its next status went out (§12 "random reordering
   * across statuses of one message").
   */
  reorder: boolean;
  /** Extra delay before a POST's first attempt (ms). */
  delayMs: number;
  /** Skip `delivered` and send only `read` (Meta's documented optimisation, §3.5). */
  dropDelivered: boolean;
  /** Probability that a `delivered` is followed by `failed` (multi-device: one device failed, §3.5). */
  deliveredThenFailed: number;
}

export const NO_FAULTS: Faults = {
  duplicateRate: 0,
  reorder: false,
  delayMs: 0,
  dropDelivered: false,
  deliveredThenFailed: 0,
};

/** The faults in force, shared by the delivery engine and the status progression. */
export interface FaultSwitch {
  current(): Faults;
  /** Merges `patch` into the current faults (`PUT /_sandbox/faults`) and returns them all. */
  merge(patch: Partial<Faults>): Faults;
  reset(): void;
}

export function createFaultSwitch(): FaultSwitch {
  let faults: Faults = { ...NO_FAULTS };
  return {
    current: () => faults,
    merge(patch) {
      // Only the keys given: `undefined` (an absent optional) must not erase a fault.
      const next = { ...faults };
      for (const [key, value] of Object.entries(patch))
        if (value !== undefined) (next as Record<string, unknown>)[key] = value;
      faults = next;
      return faults;
    },
    reset() {
      faults = { ...NO_FAULTS };
    },
  };
}
