import { AppError, type SandboxSeedCustomer, type SandboxUserPreferencesRequest } from '@wapi/contracts';
import { type Clock, numberMetadata, type WebhookSink } from './ports';
import { setCustomer } from './seed';
import type { StatusProgression } from './status-progression';
import { type Customer, customerOf, type World } from './world';

/**
 * Changes how a simulated user behaves (`PUT /_sandbox/customers/:waId`). A device that comes
 * back online receives what was waiting for it (§12), so its statuses resume.
 */
export function updateCustomer(
  deps: { world: World; progression: Pick<StatusProgression, 'deviceOnline'> },
  waId: string,
  patch: Omit<SandboxSeedCustomer, 'waId'>,
): Customer {
  const wasOffline = !customerOf(deps.world, waId).online;
  const customer = setCustomer(deps.world, { ...patch, waId });
  if (wasOffline && customer.online) deps.progression.deviceOnline(customer.waId);
  return customer;
}

/**
 * §9: the user stops or resumes marketing messages from a business number; Meta then sends a
 * `user_preferences` webhook, and marketing templates to a stopped user fail with 131050.
 */
export function setMarketingPreference(
  deps: { world: World; clock: Clock; webhooks: WebhookSink },
  input: SandboxUserPreferencesRequest,
): { marketing: Customer['marketing'] } {
  const number = deps.world.numbers.get(input.phoneNumberId);
  if (!number)
    throw new AppError(
      'VALIDATION_FAILED',
      `unknown phone number ${input.phoneNumberId}; create it first (POST /_sandbox/phone-numbers or the seed)`,
    );
  const customer = customerOf(deps.world, input.waId);
  customer.marketing = input.value;
  deps.webhooks.toNumber(number, 'user_preferences', {
    messaging_product: 'whatsapp',
    metadata: numberMetadata(number),
    contacts: [{ profile: { name: customer.name }, wa_id: input.waId }],
    user_preferences: [
      {
        wa_id: input.waId,
        detail: `User requested to ${input.value} marketing messages`,
        category: 'marketing_messages',
        value: input.value,
        timestamp: Math.floor(deps.clock.now() / 1_000),
      },
    ],
  });
  return { marketing: customer.marketing };
}
