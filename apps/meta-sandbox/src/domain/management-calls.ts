import { GraphError } from './graph-error';
import { createHourlyCallLimiter } from './rate-limiters';
import type { Waba, World } from './world';

/** §5.4: management calls per app × WABA per rolling hour, without and with a registered number. */
const CALLS_PER_HOUR = 200;
const CALLS_PER_HOUR_ACTIVE = 5_000;

/**
 * Takes one management call of `appId` on `waba` (§5.4): 200 per rolling hour, or 5,000 when the
 * WABA has a registered number; above it → 80007.
 */
export function takeManagementCall(world: World, waba: Waba, appId: string, now: number): void {
  let limiter = waba.callLimiters.get(appId);
  if (!limiter) {
    limiter = createHourlyCallLimiter();
    waba.callLimiters.set(appId, limiter);
  }
  const active = [...world.numbers.values()].some((n) => n.wabaId === waba.id && n.registered);
  if (!limiter.tryTake(now, active ? CALLS_PER_HOUR_ACTIVE : CALLS_PER_HOUR))
    throw new GraphError(80007, 'The WhatsApp Business Account has reached its rate limit.');
}
