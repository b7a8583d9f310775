import type { FastifyRequest } from 'fastify';

/** `http(s)://host[:port]` as the caller reached this sandbox. */
export function requestBase(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** Base of the links the sandbox hands out (media): SANDBOX_PUBLIC_URL, else the request's host. */
export function publicBase(publicUrl: string, request: FastifyRequest): string {
  return publicUrl || requestBase(request);
}
