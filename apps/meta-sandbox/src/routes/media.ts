import { createHash, randomBytes } from 'node:crypto';
import type { MediaInfo } from '@wapi/contracts';
import { MediaUploadResponse } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import type { FastifyRequest } from 'fastify';
import { GraphError, invalidParam, missing } from '../domain/graph-error';
import { newObjectId } from '../domain/ids';
import { MEDIA_LIMITS, MEDIA_URL_TTL_MS, UPLOADED_MEDIA_TTL_MS } from '../domain/media-types';
import { parseMultipart } from '../domain/multipart';
import type { Media } from '../domain/world';
import type { Sandbox } from '../sandbox';
import { authenticate, canAccessWaba, requireNumber } from './graph-auth';
import {
  graphAnswers,
  MediaBytes,
  MediaDownloadQuery,
  MediaUploadQuery,
  NumberParams,
} from './graph-schemas';

/** Path of media downloads, shaped like Meta's lookaside URLs (§10). */
export const MEDIA_DOWNLOAD_PATH = '/whatsapp_business/attachments/';

export function baseUrl(sandbox: Sandbox, request: FastifyRequest): string {
  return sandbox.publicUrl || `${request.protocol}://${request.host}`;
}

/** `GET /{media-id}` body with a fresh URL valid 5 minutes (§10). */
export function mediaInfo(sandbox: Sandbox, base: string, media: Media): MediaInfo {
  const hash = randomBytes(16).toString('hex');
  sandbox.world.mediaUrls.set(hash, { mediaId: media.id, expiresAt: sandbox.now() + MEDIA_URL_TTL_MS });
  const url = `${base}${MEDIA_DOWNLOAD_PATH}?mid=${media.id}&ext=${Math.floor(sandbox.now() / 1000)}&hash=${hash}`;
  return {
    messaging_product: 'whatsapp',
    url,
    mime_type: media.mimeType,
    sha256: media.sha256,
    file_size: String(media.bytes.length),
    id: media.id,
  };
}

export function storeMedia(
  sandbox: Sandbox,
  phoneNumberId: string,
  mimeType: string,
  bytes: Buffer,
  ttlMs: number,
): Media {
  const now = sandbox.now();
  const media: Media = {
    id: newObjectId(),
    phoneNumberId,
    mimeType,
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    createdAt: now,
    expiresAt: now + ttlMs,
  };
  sandbox.world.media.set(media.id, media);
  return media;
}

/** Media upload (§10). */
export function registerMediaRoutes(app: ServiceApp, sandbox: Sandbox): void {
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
      const number = requireNumber(sandbox, request, request.params.phoneNumberId);
      const contentType = String(request.headers['content-type'] ?? '');
      if (!contentType.startsWith('multipart/form-data') || !Buffer.isBuffer(request.body))
        throw invalidParam('Media uploads must be multipart/form-data.');
      const parts = parseMultipart(request.body, contentType);
      if (!parts) throw invalidParam('The multipart body is malformed.');
      const field = (name: string) => parts.find((p) => p.name === name);
      // §1.4: `messaging_product` may come in the query string instead of a form field.
      const product = field('messaging_product')?.data.toString() ?? request.query.messaging_product;
      if (product !== 'whatsapp')
        throw invalidParam('The parameter messaging_product is required and must be "whatsapp".');
      const file = field('file');
      if (!file || file.filename === undefined) throw missing('file');
      const mimeType = field('type')?.data.toString().trim() || request.query.type || file.contentType;
      if (!mimeType) throw missing('type');
      const limit = MEDIA_LIMITS[mimeType];
      if (limit === undefined)
        throw invalidParam(
          `Param file must be a file with one of the following types: ${Object.keys(MEDIA_LIMITS).join(', ')}. Received file of type '${mimeType}'.`,
        );
      if (file.data.length > limit)
        throw invalidParam(`File of type ${mimeType} must be at most ${limit} bytes.`);
      const media = storeMedia(sandbox, number.id, mimeType, Buffer.from(file.data), UPLOADED_MEDIA_TTL_MS);
      return { id: media.id };
    },
  );
}

/** The authenticated download of media URLs (§10); outside Graph's versioned paths. */
export function registerMediaDownload(app: ServiceApp, sandbox: Sandbox): void {
  // §10: the URL needs the bearer token; expired or unknown → 404.
  app.get(
    MEDIA_DOWNLOAD_PATH,
    {
      config: { graphPublic: true, unversioned: true },
      schema: { querystring: MediaDownloadQuery, response: graphAnswers(MediaBytes) },
    },
    async (request, reply) => {
      const token = authenticate(sandbox, request);
      const link = sandbox.world.mediaUrls.get(request.query.hash ?? '');
      const media =
        link && link.expiresAt > sandbox.now() && link.mediaId === request.query.mid
          ? sandbox.world.media.get(link.mediaId)
          : undefined;
      const number = media ? sandbox.world.numbers.get(media.phoneNumberId) : undefined;
      if (!media || !number || !canAccessWaba(token, number.wabaId))
        throw new GraphError(100, 'The media URL is invalid or has expired; request a new one.', {
          http: 404,
        });
      return reply.type(media.mimeType).send(media.bytes);
    },
  );
}
