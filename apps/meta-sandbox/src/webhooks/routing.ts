import type { PhoneNumber, World } from '../domain/world';
import type { WebhookTarget } from './delivery-engine';

/**
 * Where a change for `number` goes, one target per app subscribed to its WABA (§8.2, §8.3):
 * `messages` webhooks follow phone override → WABA override → app callback URL; other fields
 * go to the app URL (implied by §8.3, unconfirmed).
 */
export function targetsFor(world: World, number: PhoneNumber, field: string): WebhookTarget[] {
  const waba = world.wabas.get(number.wabaId);
  if (!waba) return [];
  const targets: WebhookTarget[] = [];
  for (const subscription of waba.subscriptions.values()) {
    const app = world.apps.get(subscription.appId);
    // §3.7: apps subscribe per field; unsubscribed fields are not delivered to them.
    if (!app?.fields.has(field)) continue;
    const url =
      field === 'messages'
        ? (number.override?.uri ?? subscription.overrideCallbackUri ?? app.callbackUrl)
        : app.callbackUrl;
    if (url) targets.push({ url, appId: app.id, secret: app.secret });
  }
  return targets;
}

/** Targets for WABA-level fields (templates): every app subscribed to the WABA and the field. */
export function wabaTargets(world: World, wabaId: string, field: string): WebhookTarget[] {
  const waba = world.wabas.get(wabaId);
  if (!waba) return [];
  const targets: WebhookTarget[] = [];
  for (const subscription of waba.subscriptions.values()) {
    const app = world.apps.get(subscription.appId);
    if (app?.callbackUrl && app.fields.has(field))
      targets.push({ url: app.callbackUrl, appId: app.id, secret: app.secret });
  }
  return targets;
}
