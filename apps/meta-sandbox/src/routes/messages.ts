import { Type } from '@sinclair/typebox';
import { GraphSuccess, SendMessageResponse } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { decideSend, markRead, recordSend } from '../domain/send-decision';
import { validateSend } from '../domain/validate-message';
import type { Sandbox } from '../sandbox';
import { graphVersion, requireNumber } from './graph-auth';
import { graphAnswers, NumberParams } from './graph-schemas';

/**
 * `POST /{phone-number-id}/messages` (§2): parses, lets the domain decide (send-decision.ts),
 * hands an accepted send to the status progression, and answers in Meta's shape.
 */
export function registerMessageRoutes(app: ServiceApp, sandbox: Sandbox): void {
  const { world, policy } = sandbox;

  app.post(
    '/:phoneNumberId/messages',
    {
      schema: {
        params: NumberParams,
        response: graphAnswers(Type.Union([SendMessageResponse, GraphSuccess])),
      },
    },
    async (request): Promise<SendMessageResponse | GraphSuccess> => {
      const number = requireNumber(sandbox, request, request.params.phoneNumberId);
      const command = validateSend(request.body);
      const now = sandbox.now();
      if (command.kind === 'read') {
        markRead(world, number, command.messageId);
        return { success: true };
      }
      const decision = decideSend(world, policy, number, command, now);
      const message = recordSend(world, policy, {
        number,
        command,
        decision,
        // validateSend accepted it, so the body is the JSON object Meta would store.
        payload: request.body as Record<string, unknown>,
        version: graphVersion(request),
        now,
      });
      sandbox.afterAccepted(message, number, decision.plan);
      return {
        messaging_product: 'whatsapp',
        contacts: [{ input: command.to, wa_id: decision.waId }],
        // §2.2 / §12: template sends carry message_status "accepted".
        messages: [
          { id: message.wamid, ...(command.type === 'template' ? { message_status: 'accepted' } : {}) },
        ],
      };
    },
  );
}
