import { type Static, Type } from '@sinclair/typebox';
import { ERROR_CODES, type ErrorCode } from './errors';

/**
 * The body of every error answer of every wapi service: `{ error: { code, message, requestId } }`,
 * `code` one of the catalogue's (its static type is the `ErrorCode` union, not `string`).
 * Routes declare it for their 4xx/5xx answers, so OpenAPI lists it and serialisation keeps it.
 */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Unsafe<ErrorCode>(Type.String({ enum: [...ERROR_CODES] })),
        message: Type.String(),
        requestId: Type.String(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ErrorResponse = Static<typeof ErrorResponse>;
