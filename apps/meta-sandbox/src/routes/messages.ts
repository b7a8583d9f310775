import { Type } from '@sinclair/typebox';
import { GraphSuccess, SendMessageResponse } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { Clock } from '../domain/ports';
import { acceptSend, markRead, type SendPolicy } from '../domain/send-decision';
import type { StatusProgression } from '../domain/status-progression';
import { validateSend } from '../domain/validate-message';
import type { World } from '../domain/world';
import { graphVersion, requireNumber } from './graph-auth';
import { graphAnswers, NumberParams } from './graph-schemas';

/** What the send route uses. */
export interface MessageRouteDeps {
  world: World;
  clock: Clock;
  policy: SendPolicy;
  progression: Pick<StatusProgression, 'afterAccepted'>;
}

/**
 * `POST /{phone-number-id}/messages` (§2): parses, lets the domain decide and record the send
 * (send-decision.ts), and answers in Meta's shape.
 */
export function registerMessageRoutes(app: ServiceApp, deps: MessageRouteDeps): void {
  app.post(
    '/:phoneNumberId/messages',
    {
      schema: {
        params: NumberParams,
        response: graphAnswers(Type.Union([SendMessageResponse, GraphSuccess])),
      },
    },
    async (request): Promise<SendMessageResponse | GraphSuccess> => {
      const number = requireNumber(deps, request, request.params.phoneNumberId);
      const command = validateSend(request.body);
      if (command.kind === 'read') {
        markRead(deps.world, number, command.messageId);
        return { success: true };
      }
      // validateSend accepted it, so the body is the JSON object Meta would store.
      const payload = request.body as Record<string, unknown>;
      const accepted = acceptSend(deps, { number, command, payload, version: graphVersion(request) });
      return {
        messaging_product: 'whatsapp',
        contacts: [{ input: command.to, wa_id: accepted.waId }],
        // §2.2 / §12: template sends carry message_status "accepted".
        messages: [
          { id: accepted.wamid, ...(command.type === 'template' ? { message_status: 'accepted' } : {}) },
        ],
      };
    },
  );
}
