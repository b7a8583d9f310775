import { type TSchema, Type } from '@sinclair/typebox';
import { GraphErrorBody } from '@wapi/contracts';

/**
 * Answer schemas of a Graph route: its 200 shape and Meta's error envelope (§1.3) for every
 * 4xx/5xx. Declared for serialisation and OpenAPI; request bodies are checked by the domain
 * validators instead, because Meta answers a bad body with its own codes (100, 131008, 131009…)
 * where a JSON-schema failure could only say "invalid".
 */
export const graphAnswers = <T extends TSchema>(schema: T) => ({
  200: schema,
  '4xx': GraphErrorBody,
  '5xx': GraphErrorBody,
});

/**
 * A Graph node narrowed by `fields=` (§1.1): `id` plus whichever fields were asked for. Open,
 * so serialisation never drops a field Meta sends.
 */
export const GraphNode = Type.Object({ id: Type.String() }, { additionalProperties: true });

/** A list of nodes narrowed by `fields=`, with Graph's cursors. */
export const GraphNodeList = Type.Object({ data: Type.Array(GraphNode) }, { additionalProperties: true });

/** The bytes of a media download (sent as a Buffer, never serialised). */
export const MediaBytes = Type.Unsafe<Buffer>({
  description: 'the media file, Content-Type = its MIME type',
});

const Opt = Type.Optional;

/** Path parameters and query strings of the Graph routes; request types come from these. */
export const NumberParams = Type.Object({ phoneNumberId: Type.String() });
export const WabaParams = Type.Object({ wabaId: Type.String() });
export const IdParams = Type.Object({ id: Type.String() });
export const FieldsQuery = Type.Object({ fields: Opt(Type.String()) });
export const MediaUploadQuery = Type.Object({
  messaging_product: Opt(Type.String()),
  type: Opt(Type.String()),
});
export const MediaDownloadQuery = Type.Object({ mid: Opt(Type.String()), hash: Opt(Type.String()) });
export const TemplateQuery = Type.Object({
  name: Opt(Type.String()),
  status: Opt(Type.String()),
  limit: Opt(Type.String()),
  after: Opt(Type.String()),
  hsm_id: Opt(Type.String()),
  fields: Opt(Type.String()),
});
export const CodeExchangeQuery = Type.Object({
  client_id: Opt(Type.String()),
  client_secret: Opt(Type.String()),
  code: Opt(Type.String()),
});
export const DebugTokenQuery = Type.Object({ input_token: Opt(Type.String()) });
export const NodeQuery = Type.Object({ fields: Opt(Type.String()), phone_number_id: Opt(Type.String()) });
export const MediaDeleteQuery = Type.Object({ phone_number_id: Opt(Type.String()) });
