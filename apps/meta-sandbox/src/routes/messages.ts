import { randomBytes } from 'node:crypto';
import type { SendMessageResponse, WebhookError } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import { GraphError, invalid, webhookError } from '../domain/graph-error';
import { newWamid } from '../domain/ids';
import { admitReach } from '../domain/messaging-limits';
import { pricingFor } from '../domain/pricing';
import { createPairLimiter } from '../domain/rate-limiters';
import { normaliseRecipient } from '../domain/recipient';
import { checkTemplateSend } from '../domain/template-check';
import { ttlMsFor } from '../domain/ttl';
import { validateSend } from '../domain/validate-message';
import {
  customerOf,
  entryPointAt,
  FEP_WINDOW_MS,
  inServiceWindow,
  type OutboundMessage,
  SERVICE_WINDOW_MS,
  windowKey,
} from '../domain/world';
import type { Sandbox, SendPlan } from '../sandbox';
import { requireNumber, versionNumber } from './graph-auth';

type Params = { version: string; phoneNumberId: string };

const HEALTHY_ECOSYSTEM =
  'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.';
const LIMIT_DETAILS =
  'Message failed to send because the business portfolio reached its messaging limit for unique users in 24 hours.';

/** `POST /{phone-number-id}/messages` (§2). */
export function registerMessageRoutes(app: FastifyInstance, sandbox: Sandbox): void {
  const { world } = sandbox;

  app.post<{ Params: Params }>('/:version/:phoneNumberId/messages', async (request) => {
    const number = requireNumber(sandbox, request, request.params.phoneNumberId);
    const command = validateSend(request.body);
    const now = sandbox.now();

    if (command.kind === 'read') {
      // §2.10: marks this inbound message and every earlier one in the thread as read.
      const target = world.inbound.get(command.messageId);
      if (!target || target.phoneNumberId !== number.id)
        throw invalid('message_id', `${command.messageId} is not a message received by this number`);
      for (const record of world.inbound.values())
        if (record.phoneNumberId === number.id && record.from === target.from && record.at <= target.at)
          record.readByBusiness = true;
      return { success: true };
    }

    // §4: 133010 for a number that was never registered (§8.4).
    if (!number.registered)
      throw new GraphError(133010, 'The phone number is not registered on the WhatsApp Business Platform.');
    const waId = normaliseRecipient(command.to, number.callingCode);
    if (!waId) throw invalid('to', `${command.to} is not a valid phone number`);
    if (waId === number.display) throw new GraphError(131021, 'The recipient phone number is the sender.');

    const template =
      command.type === 'template' ? checkTemplateSend(world, number.wabaId, command.content) : undefined;
    const category = template?.category;
    for (const type of ['image', 'audio', 'video', 'document', 'sticker'] as const) {
      const mediaId = command.type === type ? command.content.id : undefined;
      if (typeof mediaId === 'string' && !world.media.has(mediaId))
        throw invalid(`${type}.id`, `media ${mediaId} does not exist or has expired`);
    }
    const inWindow = inServiceWindow(world, number.id, waId, now);
    if (command.type !== 'template' && !inWindow && sandbox.config.SANDBOX_REENGAGEMENT_MODE === 'sync')
      throw new GraphError(
        131047,
        'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
      );

    // Rate limits come after validation: whether failing requests consume quota is unconfirmed (§13.10).
    if (!number.limiter.tryTake(now))
      throw new GraphError(130429, 'Cloud API message throughput has been reached.');
    const pairKey = windowKey(number.id, waId);
    let pair = world.pairLimiters.get(pairKey);
    if (!pair) {
      pair = createPairLimiter(sandbox.config.SANDBOX_PAIR_BURST, sandbox.config.SANDBOX_PAIR_INTERVAL_MS);
      world.pairLimiters.set(pairKey, pair);
    }
    if (!pair.tryTake(now))
      throw new GraphError(
        131056,
        'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
      );

    // Narrowed copies for the helpers below.
    const to: string = waId;
    const sendType = command.type;
    const content = command.content;
    const customer = customerOf(world, waId);
    const entryPoint = entryPointAt(world, number.id, waId, now);
    const marketing = category?.toUpperCase() === 'MARKETING';
    // §5.3: business-initiated = a template outside the customer-service window.
    const businessInitiated = command.type === 'template' && !inWindow;
    const failure = asyncFailure();
    if (failure === 'limit' && sandbox.config.SANDBOX_MESSAGING_LIMIT_MODE === 'sync')
      throw new GraphError(sandbox.config.SANDBOX_MESSAGING_LIMIT_CODE, LIMIT_DETAILS);

    const plan: SendPlan = {
      pricing: pricingFor(category, inWindow, entryPoint !== 'none'),
      failure:
        failure === 'limit'
          ? webhookError(sandbox.config.SANDBOX_MESSAGING_LIMIT_CODE, LIMIT_DETAILS)
          : failure,
      // §12: a user who blocked the business never gets past `sent`, and no error says why.
      onlySent: command.type === 'reaction' || customer.blocked,
      voice: command.type === 'audio' && command.content.voice === true,
      entryPoint: undefined,
    };
    if (!plan.failure) {
      if (entryPoint !== 'none') plan.entryPoint = openEntryPoint();
      if (marketing && !inWindow) {
        // §6: every marketing message counts toward the per-user cap, except inside a CSW.
        const log = world.marketingLog.get(waId) ?? [];
        log.push(now);
        world.marketingLog.set(waId, log);
      }
    }

    /** The async failure of this send, if any (§4, §6, §9, §12), in the order Meta would decide. */
    function asyncFailure(): WebhookError | 'limit' | undefined {
      // §4: 131026 is mostly async (200, then `failed`).
      if (!customer.onWhatsApp) return webhookError(131026, 'Message Undeliverable.');
      // §4 note on 131047: default async failed status after a 200 (configurable).
      if (sendType !== 'template' && !inWindow)
        return webhookError(
          131047,
          'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
        );
      if (marketing) {
        // §9: accepted, then `failed` 131050; nothing delivered.
        if (customer.marketing === 'stop')
          return webhookError(
            131050,
            'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
          );
        // §6: no marketing templates delivered to US (+1) numbers since 2025-04-01 → async 131049.
        const usPause = customer.usMarketingPause ?? sandbox.config.SANDBOX_US_MARKETING_PAUSE;
        if (usPause && to.startsWith('1')) return webhookError(131049, HEALTHY_ECOSYSTEM);
        // §4 130472: marketing template without an open CSW or free-entry-point window.
        if (customer.marketingExperiment && !inWindow && entryPoint === 'none')
          return webhookError(
            130472,
            "Failed to send message because this user's phone number is part of an experiment.",
          );
        // §6 per-user marketing limit, counted over a rolling 24 h outside CSWs → async 131049.
        if (customer.marketingCap !== null && !inWindow) {
          const recent = (world.marketingLog.get(to) ?? []).filter((at) => now - at < SERVICE_WINDOW_MS);
          world.marketingLog.set(to, recent);
          if (recent.length >= customer.marketingCap) return webhookError(131049, HEALTHY_ECOSYSTEM);
        }
      }
      if (sendType === 'reaction') {
        // §2.8: unknown target or a reaction to a reaction → async 131009.
        const targetId = String(content.message_id);
        const target = world.outbound.get(targetId) ?? world.inbound.get(targetId);
        if (!target || target.type === 'reaction')
          return webhookError(131009, 'Message failed to send because the reaction target is invalid.');
      }
      // §5.3 / §12: unique users reached outside the CSW per portfolio; what Meta does above the
      // limit is unconfirmed (§13.3), so the failure is configurable.
      if (
        businessInitiated &&
        sandbox.config.SANDBOX_MESSAGING_LIMIT_MODE !== 'off' &&
        !admitReach(world, number, to, now)
      )
        return 'limit';
      return undefined;
    }

    /** §6: the reply within 24 h of a Click-to-WhatsApp inbound opens a 72 h window. */
    function openEntryPoint(): { conversationId: string; expiresAt: number } | undefined {
      const entry = world.entryPoints.get(windowKey(number.id, to));
      if (!entry) return undefined;
      if (entryPoint === 'opening') {
        entry.windowStart = now;
        entry.conversationId = randomBytes(16).toString('hex');
      }
      return { conversationId: entry.conversationId, expiresAt: (entry.windowStart ?? now) + FEP_WINDOW_MS };
    }

    const body = request.body as Record<string, unknown>;
    const message: OutboundMessage = {
      wamid: newWamid(waId),
      phoneNumberId: number.id,
      to: waId,
      type: command.type,
      payload: body,
      at: now,
      version: versionNumber(request.params.version),
      statuses: [],
      awaitingDevice: false,
      ttlExpiresAt: now + ttlMsFor(template),
    };
    world.outbound.set(message.wamid, message);
    sandbox.afterAccepted(message, number, plan);

    const response: SendMessageResponse = {
      messaging_product: 'whatsapp',
      contacts: [{ input: command.to, wa_id: waId }],
      // §2.2 / §12: template sends carry message_status "accepted".
      messages: [
        {
          id: message.wamid,
          ...(command.type === 'template' ? { message_status: 'accepted' as const } : {}),
        },
      ],
    };
    return response;
  });
}
