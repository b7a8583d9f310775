import { GraphSuccess } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { invalidParam, unknownObject } from '../domain/graph-error';
import { deleteMedia, mediaInfo } from '../domain/media';
import { updatePhoneNumber } from '../domain/number-settings';
import {
  NODE_DEFAULT_FIELDS,
  phoneNumberFields,
  pickFields,
  selectFields,
} from '../domain/phone-number-view';
import type { CallbackVerifier, Clock } from '../domain/ports';
import { editTemplate, type TemplateReview, templateView } from '../domain/templates';
import type { World } from '../domain/world';
import { publicBase } from './base-url';
import { canAccessWaba, graphVersion, requireNumber, tokenOf } from './graph-auth';
import { GraphNode, graphAnswers, IdParams, MediaDeleteQuery, NodeQuery } from './graph-schemas';
import { templateFor } from './templates';

/** What the node routes use. */
export interface ObjectRouteDeps {
  world: World;
  clock: Clock;
  verifier: CallbackVerifier;
  review: TemplateReview;
  publicUrl: string;
}

/**
 * Graph nodes by id: media (§10), templates (§7.1), phone numbers (§8.5), WABAs. An id the
 * token cannot see answers like an unknown one (Graph's "does not exist … missing permissions").
 */
export function registerObjectRoutes(app: ServiceApp, deps: ObjectRouteDeps): void {
  const { world } = deps;

  app.get(
    '/:id',
    { schema: { params: IdParams, querystring: NodeQuery, response: graphAnswers(GraphNode) } },
    async (request) => {
      const { id } = request.params;
      const token = tokenOf(request);
      const now = deps.clock.now();
      const media = world.media.get(id);
      if (media && media.expiresAt > now) {
        const number = world.numbers.get(media.phoneNumberId);
        if (!number || !canAccessWaba(token, number.wabaId)) throw unknownObject('get', id);
        // §10: `phone_number_id`, when given, must match the uploader.
        const given = request.query.phone_number_id;
        if (given !== undefined && given !== media.phoneNumberId)
          throw invalidParam('Param phone_number_id does not match the number that owns this media.');
        return mediaInfo(world, now, publicBase(deps.publicUrl, request), media);
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
      const template = templateFor(deps, request, request.params.id);
      if (template) {
        editTemplate(template, request.body, deps.clock.now());
        deps.review.schedule(template);
        return { success: true };
      }
      const number = requireNumber(deps, request, request.params.id);
      await updatePhoneNumber(deps.verifier, number, request.body);
      return { success: true };
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
      deleteMedia(world, media.id);
      return { success: true };
    },
  );
}
