import { Type } from '@sinclair/typebox';
import { GraphSuccess } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { profileView, updateProfile } from '../domain/business-profile';
import type { Clock } from '../domain/ports';
import type { World } from '../domain/world';
import { publicBase } from './base-url';
import { requireNumber } from './graph-auth';
import { FieldsQuery, graphAnswers, NumberParams } from './graph-schemas';

/** §8.6: the profile in `data[0]`, with the fields asked for (open: nothing Meta sends is dropped). */
const BusinessProfileList = Type.Object({
  data: Type.Array(
    Type.Object({ messaging_product: Type.Literal('whatsapp') }, { additionalProperties: true }),
  ),
});

/** `GET`/`POST /{phone-number-id}/whatsapp_business_profile` (docs/meta-platform.md §8.6). */
/** What the profile routes use. */
export interface ProfileRouteDeps {
  world: World;
  clock: Clock;
  publicUrl: string;
}

export function registerProfileRoutes(app: ServiceApp, deps: ProfileRouteDeps): void {
  app.get(
    '/:phoneNumberId/whatsapp_business_profile',
    {
      schema: { params: NumberParams, querystring: FieldsQuery, response: graphAnswers(BusinessProfileList) },
    },
    async (request) => {
      const number = requireNumber(deps, request, request.params.phoneNumberId);
      return profileView(number.profile, request.query.fields);
    },
  );

  app.post(
    '/:phoneNumberId/whatsapp_business_profile',
    { schema: { params: NumberParams, response: graphAnswers(GraphSuccess) } },
    async (request) => {
      const number = requireNumber(deps, request, request.params.phoneNumberId);
      const base = publicBase(deps.publicUrl, request);
      updateProfile(
        number.profile,
        request.body,
        (handle) => `${base}/whatsapp_business/profile_pictures/${encodeURIComponent(handle)}`,
      );
      return { success: true };
    },
  );
}
