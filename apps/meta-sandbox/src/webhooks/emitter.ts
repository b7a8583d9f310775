import type { WebhookSink } from '../domain/ports';
import type { World } from '../domain/world';
import type { DeliveryEngine } from './delivery-engine';
import { targetsFor, wabaTargets } from './routing';

/**
 * The domain's {@link WebhookSink}: resolves the receivers of a change in `world` (§8.3, §3.7
 * field subscriptions) and hands it to the delivery engine, which batches, encodes and signs.
 */
export function createWebhookSink(world: World, engine: DeliveryEngine): WebhookSink {
  return {
    toNumber(number, field, value) {
      for (const target of targetsFor(world, number, field))
        engine.enqueue(target, number.wabaId, field, value);
    },
    toWaba(wabaId, field, value) {
      for (const target of wabaTargets(world, wabaId, field)) engine.enqueue(target, wabaId, field, value);
    },
  };
}
