import { MediaUploadResponse } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { GraphError, invalidParam } from '../domain/graph-error';
import { MEDIA_DOWNLOAD_PATH, uploadMedia } from '../domain/media';
import { parseMultipart } from '../domain/multipart';
import type { Clock } from '../domain/ports';
import type { World } from '../domain/world';
import { authenticate, canAccessWaba, type GraphAccess, requireNumber } from './graph-auth';
import {
  graphAnswers,
  MediaBytes,
  MediaDownloadQuery,
  MediaUploadQuery,
  NumberParams,
} from './graph-schemas';

/** What the media routes use. */
export interface MediaRouteDeps {
  world: World;
  clock: Clock;
}

/** Media upload (§10). */
export function registerMediaRoutes(app: ServiceApp, deps: MediaRouteDeps): void {
  app.post(
    '/:phoneNumberId/media',
    {
      schema: {
        params: NumberParams,
        querystring: MediaUploadQuery,
        response: graphAnswers(MediaUploadResponse),
      },
    },
    async (request) => {
      const number = requireNumber(deps, request, request.params.phoneNumberId);
      const contentType = String(request.headers['content-type'] ?? '');
      if (!contentType.startsWith('multipart/form-data') || !Buffer.isBuffer(request.body))
        throw invalidParam('Media uploads must be multipart/form-data.');
      const parts = parseMultipart(request.body, contentType);
      if (!parts) throw invalidParam('The multipart body is malformed.');
      const media = uploadMedia(deps.world, deps.clock.now(), number.id, parts, request.query);
      return { id: media.id };
    },
  );
}

/** The authenticated download of media URLs (§10); outside Graph's versioned paths. */
export function registerMediaDownload(app: ServiceApp, deps: GraphAccess): void {
  // §10: the URL needs the bearer token; expired or unknown → 404.
  app.get(
    MEDIA_DOWNLOAD_PATH,
    {
      config: { graphPublic: true, unversioned: true },
      schema: { querystring: MediaDownloadQuery, response: graphAnswers(MediaBytes) },
    },
    async (request, reply) => {
      const token = authenticate(deps, request);
      const link = deps.world.mediaUrls.get(request.query.hash ?? '');
      const media =
        link && link.expiresAt > deps.clock.now() && link.mediaId === request.query.mid
          ? deps.world.media.get(link.mediaId)
          : undefined;
      const number = media ? deps.world.numbers.get(media.phoneNumberId) : undefined;
      if (!media || !number || !canAccessWaba(token, number.wabaId))
        throw new GraphError(100, 'The media URL is invalid or has expired; request a new one.', {
          http: 404,
        });
      return reply.type(media.mimeType).send(media.bytes);
    },
  );
}
