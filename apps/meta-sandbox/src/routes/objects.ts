import type { FastifyInstance } from 'fastify';
import { GraphError, invalidParam, unknownObject } from '../domain/graph-error';
import { NODE_DEFAULT_FIELDS, phoneNumberFields, pickFields } from '../domain/phone-number-view';
import { editTemplate, templateView } from '../domain/templates';
import type { Sandbox } from '../sandbox';
import { canAccessWaba, requireNumber, tokenOf, versionNumber } from './graph-auth';
import { baseUrl, mediaInfo } from './media';
import { scheduleReview, templateFor } from './templates';

type Params = { version: string; id: string };
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Graph nodes by id: media (§10), templates (§7.1), phone numbers (§8.5), WABAs. An id the
 * token cannot see answers like an unknown one (Graph's "does not exist … missing permissions").
 */
export function registerObjectRoutes(app: FastifyInstance, sandbox: Sandbox): void {
  const { world } = sandbox;

  app.get<{ Params: Params; Querystring: { fields?: string; phone_number_id?: string } }>(
    '/:version/:id',
    async (request) => {
      const { id } = request.params;
      const token = tokenOf(request);
      const media = world.media.get(id);
      if (media && media.expiresAt > sandbox.now()) {
        const number = world.numbers.get(media.phoneNumberId);
        if (!number || !canAccessWaba(token, number.wabaId)) throw unknownObject('get', id);
        // §10: `phone_number_id`, when given, must match the uploader.
        const given = request.query.phone_number_id;
        if (given !== undefined && given !== media.phoneNumberId)
          throw invalidParam('Param phone_number_id does not match the number that owns this media.');
        return mediaInfo(sandbox, baseUrl(sandbox, request), media);
      }
      const template = world.templates.get(id);
      if (template && canAccessWaba(token, template.wabaId)) return templateView(template);
      const number = world.numbers.get(id);
      if (number && canAccessWaba(token, number.wabaId))
        return pickFields(
          phoneNumberFields(world, number, versionNumber(request.params.version)),
          request.query.fields,
          NODE_DEFAULT_FIELDS,
        );
      const waba = world.wabas.get(id);
      if (waba && canAccessWaba(token, waba.id))
        return { id: waba.id, name: waba.name, message_template_namespace: `ns_${waba.id}` };
      throw unknownObject('get', id);
    },
  );

  // §7.1 / §7.4 template edit (back to review); §8.3 number-level override (verified with a
  // GET challenge) and §8.4 PIN change.
  app.post<{ Params: Params }>('/:version/:id', async (request) => {
    const template = templateFor(sandbox, request, request.params.id);
    if (template) {
      editTemplate(template, request.body, sandbox.now());
      scheduleReview(sandbox, template);
      return { success: true };
    }
    const number = requireNumber(sandbox, request, request.params.id);
    const body = isObj(request.body) ? request.body : {};
    if (body.pin !== undefined) {
      if (typeof body.pin !== 'string' || !/^\d{6}$/.test(body.pin))
        throw invalidParam('Param pin must be 6 digits.');
      number.pin = body.pin;
      return { success: true };
    }
    if (isObj(body.webhook_configuration)) {
      const uri = body.webhook_configuration.override_callback_uri;
      const verifyToken = body.webhook_configuration.verify_token;
      if (uri === undefined || uri === '') {
        number.override = undefined;
        return { success: true };
      }
      if (typeof uri !== 'string' || !/^https?:\/\//.test(uri) || uri.length > 200)
        throw invalidParam('Param override_callback_uri must be a URL of at most 200 characters.');
      if (!(await sandbox.engine.verify(uri, typeof verifyToken === 'string' ? verifyToken : '')))
        throw new GraphError(
          2200,
          `Callback verification failed with the following errors: the URL ${uri} did not echo the challenge.`,
        );
      number.override = { uri, verifyToken: typeof verifyToken === 'string' ? verifyToken : undefined };
      return { success: true };
    }
    throw invalidParam('Nothing to update: pass pin or webhook_configuration.');
  });

  // §10: delete media.
  app.delete<{ Params: Params; Querystring: { phone_number_id?: string } }>(
    '/:version/:id',
    async (request) => {
      const media = world.media.get(request.params.id);
      const number = media ? world.numbers.get(media.phoneNumberId) : undefined;
      if (!media || !number || !canAccessWaba(tokenOf(request), number.wabaId))
        throw unknownObject('delete', request.params.id);
      world.media.delete(media.id);
      return { success: true };
    },
  );
}
