import type { WebhookError } from '@wapi/contracts';
import { GraphError, invalid, webhookError } from './graph-error';
import { newWamid, randomHex } from './ids';
import { admitReach } from './messaging-limits';
import type { Clock } from './ports';
import { type Pricing, pricingFor } from './pricing';
import { createPairLimiter } from './rate-limiters';
import { normaliseRecipient } from './recipient';
import type { StatusProgression } from './status-progression';
import { checkTemplateSend } from './template-check';
import { ttlMsFor } from './ttl';
import type { SendCommand } from './validate-message';
import {
  customerOf,
  entryPointAt,
  FEP_WINDOW_MS,
  inServiceWindow,
  type OutboundMessage,
  type PhoneNumber,
  SERVICE_WINDOW_MS,
  type Template,
  type World,
  windowKey,
} from './world';

/** The send rules that are configurable, read once from config (no `SANDBOX_*` in routes). */
export interface SendPolicy {
  /** §4 note: 131047 as a `failed` status after a 200 (`async`) or an HTTP 400 (`sync`). */
  reengagement: 'async' | 'sync';
  /** §5.3 / §13.3: the portfolio messaging limit, its failure mode and code. */
  messagingLimit: { mode: 'async' | 'sync' | 'off'; code: number };
  /** §6: the US (+1) marketing pause, unless a customer says otherwise. */
  usMarketingPause: boolean;
  /** §5.2: pair rate. */
  pair: { burst: number; intervalMs: number };
  /** Sent messages kept (control API, reaction targets); the oldest are forgotten beyond it. */
  retainedMessages: number;
}

/** What happens to an accepted send after the 200 (§3.5, §4 notes). */
export interface SendPlan {
  pricing: Pricing;
  /** Async failure: a `failed` status with this error instead of the normal progression. */
  failure: WebhookError | undefined;
  /** §2.8: reactions only get `sent`; §12: so do messages to a user who blocked the business. */
  onlySent: boolean;
  /** §3.5: a voice note (audio with `voice: true`) may get `played` after `read`. */
  voice: boolean;
  /** §3.5 / §6: sent inside a free-entry-point window (conversation per window). */
  entryPoint: { conversationId: string; expiresAt: number } | undefined;
}

export type MessageCommand = Extract<SendCommand, { kind: 'message' }>;

/** An accepted send: who it goes to, the template it uses, and what follows the 200. */
export interface SendDecision {
  waId: string;
  template: Template | undefined;
  plan: SendPlan;
}

const REENGAGEMENT =
  'Message failed to send because more than 24 hours have passed since the customer last replied to this number.';
const HEALTHY_ECOSYSTEM =
  'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.';
const LIMIT_DETAILS =
  'Message failed to send because the business portfolio reached its messaging limit for unique users in 24 hours.';

/**
 * §2.10: marks inbound `messageId` and every earlier message of its thread as read. Throws
 * 131009 when the id is not a message this number received.
 */
export function markRead(world: World, number: PhoneNumber, messageId: string): void {
  const target = world.inbound.get(messageId);
  if (!target || target.phoneNumberId !== number.id)
    throw invalid('message_id', `${messageId} is not a message received by this number`);
  for (const record of world.inbound.values())
    if (record.phoneNumberId === number.id && record.from === target.from && record.at <= target.at)
      record.readByBusiness = true;
}

/**
 * Decides a send (§2, §4, §5, §6, §9, §12) in the order Meta would: synchronous refusals throw
 * a GraphError (the route answers it); an accepted send returns its plan, including an async
 * failure when Meta would accept and then fail it. It takes the quotas it uses (throughput, pair
 * rate, portfolio reach, per-user marketing cap) and opens a free-entry-point window when this
 * reply opens one.
 */
export function decideSend(
  world: World,
  policy: SendPolicy,
  number: PhoneNumber,
  command: MessageCommand,
  now: number,
): SendDecision {
  // §4: 133010 for a number that was never registered (§8.4).
  if (!number.registered)
    throw new GraphError(133010, 'The phone number is not registered on the WhatsApp Business Platform.');
  const waId = normaliseRecipient(command.to, number.callingCode);
  if (!waId) throw invalid('to', `${command.to} is not a valid phone number`);
  if (waId === number.display) throw new GraphError(131021, 'The recipient phone number is the sender.');

  const template =
    command.type === 'template' ? checkTemplateSend(world, number.wabaId, command.content) : undefined;
  for (const type of ['image', 'audio', 'video', 'document', 'sticker'] as const) {
    const mediaId = command.type === type ? command.content.id : undefined;
    if (typeof mediaId === 'string' && !world.media.has(mediaId))
      throw invalid(`${type}.id`, `media ${mediaId} does not exist or has expired`);
  }
  const inWindow = inServiceWindow(world, number.id, waId, now);
  if (command.type !== 'template' && !inWindow && policy.reengagement === 'sync')
    throw new GraphError(131047, REENGAGEMENT);

  // Rate limits come after validation: whether failing requests consume quota is unconfirmed (§13.10).
  if (!number.limiter.tryTake(now))
    throw new GraphError(130429, 'Cloud API message throughput has been reached.');
  const pairKey = windowKey(number.id, waId);
  let pair = world.pairLimiters.get(pairKey);
  if (!pair) {
    pair = createPairLimiter(policy.pair.burst, policy.pair.intervalMs);
    world.pairLimiters.set(pairKey, pair);
  }
  if (!pair.tryTake(now))
    throw new GraphError(
      131056,
      'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
    );

  const category = template?.category;
  const customer = customerOf(world, waId);
  const entryPoint = entryPointAt(world, number.id, waId, now);
  const marketing = category?.toUpperCase() === 'MARKETING';
  // §5.3: business-initiated = a template outside the customer-service window.
  const businessInitiated = command.type === 'template' && !inWindow;

  /** The async failure of this send, if any (§4, §6, §9, §12), in the order Meta would decide. */
  const asyncFailure = (): WebhookError | 'limit' | undefined => {
    // §4: 131026 is mostly async (200, then `failed`).
    if (!customer.onWhatsApp) return webhookError(131026, 'Message Undeliverable.');
    // §4 note on 131047: default async failed status after a 200 (configurable).
    if (command.type !== 'template' && !inWindow) return webhookError(131047, REENGAGEMENT);
    if (marketing) {
      // §9: accepted, then `failed` 131050; nothing delivered.
      if (customer.marketing === 'stop')
        return webhookError(
          131050,
          'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
        );
      // §6: no marketing templates delivered to US (+1) numbers since 2025-04-01 → async 131049.
      const usPause = customer.usMarketingPause ?? policy.usMarketingPause;
      if (usPause && waId.startsWith('1')) return webhookError(131049, HEALTHY_ECOSYSTEM);
      // §4 130472: marketing template without an open CSW or free-entry-point window.
      if (customer.marketingExperiment && !inWindow && entryPoint === 'none')
        return webhookError(
          130472,
          "Failed to send message because this user's phone number is part of an experiment.",
        );
      // §6 per-user marketing limit, counted over a rolling 24 h outside CSWs → async 131049.
      if (customer.marketingCap !== null && !inWindow) {
        const recent = (world.marketingLog.get(waId) ?? []).filter((at) => now - at < SERVICE_WINDOW_MS);
        world.marketingLog.set(waId, recent);
        if (recent.length >= customer.marketingCap) return webhookError(131049, HEALTHY_ECOSYSTEM);
      }
    }
    if (command.type === 'reaction') {
      // §2.8: unknown target or a reaction to a reaction → async 131009.
      const targetId = String(command.content.message_id);
      const target = world.outbound.get(targetId) ?? world.inbound.get(targetId);
      if (!target || target.type === 'reaction')
        return webhookError(131009, 'Message failed to send because the reaction target is invalid.');
    }
    // §5.3 / §12: unique users reached outside the CSW per portfolio; what Meta does above the
    // limit is unconfirmed (§13.3), so the failure is configurable.
    if (businessInitiated && policy.messagingLimit.mode !== 'off' && !admitReach(world, number, waId, now))
      return 'limit';
    return undefined;
  };

  const failure = asyncFailure();
  if (failure === 'limit' && policy.messagingLimit.mode === 'sync')
    throw new GraphError(policy.messagingLimit.code, LIMIT_DETAILS);

  const plan: SendPlan = {
    pricing: pricingFor(category, inWindow, entryPoint !== 'none'),
    failure: failure === 'limit' ? webhookError(policy.messagingLimit.code, LIMIT_DETAILS) : failure,
    // §12: a user who blocked the business never gets past `sent`, and no error says why.
    onlySent: command.type === 'reaction' || customer.blocked,
    voice: command.type === 'audio' && command.content.voice === true,
    entryPoint: undefined,
  };
  if (!plan.failure) {
    if (entryPoint !== 'none') plan.entryPoint = openEntryPoint(world, number.id, waId, entryPoint, now);
    if (marketing && !inWindow) {
      // §6: every marketing message counts toward the per-user cap, except inside a CSW.
      const log = world.marketingLog.get(waId) ?? [];
      log.push(now);
      world.marketingLog.set(waId, log);
    }
  }
  return { waId, template, plan };
}

/** §6: the reply within 24 h of a Click-to-WhatsApp inbound opens a 72 h window. */
function openEntryPoint(
  world: World,
  phoneNumberId: string,
  waId: string,
  state: 'open' | 'opening',
  now: number,
): { conversationId: string; expiresAt: number } | undefined {
  const entry = world.entryPoints.get(windowKey(phoneNumberId, waId));
  if (!entry) return undefined;
  if (state === 'opening') {
    entry.windowStart = now;
    entry.conversationId = randomHex(16);
  }
  return { conversationId: entry.conversationId, expiresAt: (entry.windowStart ?? now) + FEP_WINDOW_MS };
}

/**
 * Records an accepted send (what the control API lists and reactions may target), keeping the
 * newest `policy.retainedMessages` (a Map iterates in insertion order: the first is the oldest).
 */
export function recordSend(
  world: World,
  policy: SendPolicy,
  input: {
    number: PhoneNumber;
    command: MessageCommand;
    decision: SendDecision;
    payload: Record<string, unknown>;
    version: number;
    now: number;
  },
): OutboundMessage {
  const { decision, now } = input;
  const message: OutboundMessage = {
    wamid: newWamid(decision.waId),
    phoneNumberId: input.number.id,
    to: decision.waId,
    type: input.command.type,
    payload: input.payload,
    at: now,
    version: input.version,
    statuses: [],
    awaitingDevice: false,
    ttlExpiresAt: now + ttlMsFor(decision.template),
  };
  world.outbound.set(message.wamid, message);
  if (world.outbound.size > policy.retainedMessages) {
    const oldest = world.outbound.keys().next().value;
    if (oldest !== undefined) world.outbound.delete(oldest);
  }
  return message;
}

/**
 * The whole accepted-send path of `POST /{phone-number-id}/messages` after parsing: decide
 * (synchronous refusals throw a GraphError), record the message, and start its status
 * progression (§3.5). Returns what Meta's answer names (§2.2).
 */
export function acceptSend(
  deps: {
    world: World;
    clock: Clock;
    policy: SendPolicy;
    progression: Pick<StatusProgression, 'afterAccepted'>;
  },
  input: { number: PhoneNumber; command: MessageCommand; payload: Record<string, unknown>; version: number },
): { wamid: string; waId: string } {
  const now = deps.clock.now();
  const decision = decideSend(deps.world, deps.policy, input.number, input.command, now);
  const message = recordSend(deps.world, deps.policy, {
    number: input.number,
    command: input.command,
    decision,
    payload: input.payload,
    version: input.version,
    now,
  });
  deps.progression.afterAccepted(message, input.number, decision.plan);
  return { wamid: message.wamid, waId: decision.waId };
}
