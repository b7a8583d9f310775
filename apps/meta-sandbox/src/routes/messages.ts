import type { SendMessageResponse } from '@wapi/contracts';
import type { FastifyInstance } from 'fastify';
import { GraphError, invalid, webhookError } from '../domain/graph-error';
import { newWamid } from '../domain/ids';
import { pricingFor } from '../domain/pricing';
import { createPairLimiter } from '../domain/rate-limiters';
import { normaliseRecipient } from '../domain/recipient';
import { checkTemplateSend } from '../domain/template-check';
import { validateSend } from '../domain/validate-message';
import { customerOf, inServiceWindow, type OutboundMessage, windowKey } from '../domain/world';
import type { Sandbox, SendPlan } from '../sandbox';
import { requireNumber, versionNumber } from './graph-auth';

type Params = { version: string; phoneNumberId: string };

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

    let category: string | undefined;
    if (command.type === 'template')
      category = checkTemplateSend(world, number.wabaId, command.content).category;
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

    const plan: SendPlan = {
      pricing: pricingFor(category, inWindow),
      failure: undefined,
      onlySent: command.type === 'reaction',
    };
    const customer = customerOf(world, waId);
    if (!customer.onWhatsApp) {
      // §4: 131026 is mostly async (200, then `failed`).
      plan.failure = webhookError(131026, 'Message Undeliverable.');
    } else if (command.type !== 'template' && !inWindow) {
      // §4 note on 131047: default async failed status after a 200 (configurable).
      plan.failure = webhookError(
        131047,
        'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
      );
    } else if (category?.toLowerCase() === 'marketing' && customer.marketing === 'stop') {
      // §9: accepted, then `failed` 131050; nothing delivered.
      plan.failure = webhookError(
        131050,
        'Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.',
      );
    } else if (command.type === 'reaction') {
      // §2.8: unknown target or a reaction to a reaction → async 131009.
      const targetId = String(command.content.message_id);
      const target = world.outbound.get(targetId) ?? world.inbound.get(targetId);
      if (!target || target.type === 'reaction')
        plan.failure = webhookError(131009, 'Message failed to send because the reaction target is invalid.');
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
