import { GraphSuccess } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { GraphError, invalidParam, unknownObject } from '../domain/graph-error';
import {
  NODE_DEFAULT_FIELDS,
  phoneNumberFields,
  pickFields,
  selectFields,
} from '../domain/phone-number-view';
import { editTemplate, templateView } from '../domain/templates';
import type { Sandbox } from '../sandbox';
import { canAccessWaba, graphVersion, requireNumber, tokenOf } from './graph-auth';
import { GraphNode, graphAnswers, IdParams, MediaDeleteQuery, NodeQuery } from './graph-schemas';
import { baseUrl, mediaInfo } from './media';
import { scheduleReview, templateFor } from './templates';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Graph nodes by id: media (§10), templates (§7.1), phone numbers (§8.5), WABAs. An id the
 * token cannot see answers like an unknown one (Graph's "does not exist … missing permissions").
 */
export function registerObjectRoutes(app: ServiceApp, sandbox: Sandbox): void {
  const { world } = sandbox;

  app.get(
    '/:id',
    { schema: { params: IdParams, querystring: NodeQuery, response: graphAnswers(GraphNode) } },
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
      // §7.1: `fields=` narrows a template lookup (`?fields=status` → id and status).
      if (template && canAccessWaba(token, template.wabaId))
        return selectFields(templateView(template), request.query.fields);
      const number = world.numbers.get(id);
      if (number && canAccessWaba(token, number.wabaId))
        return pickFields(
          phoneNumberFields(world, number, graphVersion(request)),
          request.query.fields,
          NODE_DEFAULT_FIELDS,
        );
      const waba = world.wabas.get(id);
      if (waba && canAccessWaba(token, waba.id))
        return selectFields(
          { id: waba.id, name: waba.name, message_template_namespace: `ns_${waba.id}` },
          request.query.fields,
        );
      throw unknownObject('get', id);
    },
  );

  // §7.1 / §7.4 template edit (back to review); §8.3 number-level override (verified with a
  // GET challenge) and §8.4 PIN change.
  app.post(
    '/:id',
    { schema: { params: IdParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
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
    },
  );

  // §10: delete media.
  app.delete(
    '/:id',
    { schema: { params: IdParams, querystring: MediaDeleteQuery, response: graphAnswers(GraphSuccess) } },
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
