import {
  DeleteSecretResponse,
  ErrorResponse,
  PutSecretBody,
  RotateSecretBody,
  SecretListResponse,
  SecretMetadata,
  SecretParams,
  SecretValueResponse,
  WorkspaceSecretsParams,
} from '@wapi/contracts';
import { registerInternal, type ServiceApp } from '@wapi/service-kit';
import { asWorkspaceId } from '@wapi/store';
import type { SecretRef, Secrets } from '../domain/secrets';

const errors = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  500: ErrorResponse,
  503: ErrorResponse,
};

const refOf = (params: SecretParams): SecretRef => ({
  workspaceId: asWorkspaceId(params.workspaceId),
  purpose: params.purpose,
  recordId: params.recordId,
});

/**
 * `/internal/v1/workspaces/:workspaceId/secrets…`, registered behind internal auth: the
 * caller is the authenticated service (`request.caller`), whose access to each purpose is
 * checked (and refusals audited) by the domain.
 */
export function registerSecretsRoutes(service: ServiceApp, secrets: Secrets): void {
  registerInternal(
    service,
    async (app) => {
      const caller = (request: { caller?: string }) => request.caller!;

      app.put(
        '/v1/workspaces/:workspaceId/secrets/:purpose/:recordId',
        {
          schema: { params: SecretParams, body: PutSecretBody, response: { 200: SecretMetadata, ...errors } },
        },
        async (request) => secrets.put(caller(request), refOf(request.params), request.body.value),
      );

      app.get(
        '/v1/workspaces/:workspaceId/secrets/:purpose/:recordId',
        { schema: { params: SecretParams, response: { 200: SecretValueResponse, ...errors } } },
        async (request) => secrets.read(caller(request), refOf(request.params)),
      );

      app.post(
        '/v1/workspaces/:workspaceId/secrets/:purpose/:recordId/rotate',
        {
          schema: {
            params: SecretParams,
            body: RotateSecretBody,
            response: { 200: SecretMetadata, ...errors },
          },
        },
        async (request) => secrets.rotate(caller(request), refOf(request.params), request.body.value),
      );

      app.delete(
        '/v1/workspaces/:workspaceId/secrets/:purpose/:recordId',
        { schema: { params: SecretParams, response: { 200: DeleteSecretResponse, ...errors } } },
        async (request) => ({ deleted: await secrets.remove(caller(request), refOf(request.params)) }),
      );

      app.get(
        '/v1/workspaces/:workspaceId/secrets',
        { schema: { params: WorkspaceSecretsParams, response: { 200: SecretListResponse, ...errors } } },
        async (request) => ({
          secrets: await secrets.list(caller(request), asWorkspaceId(request.params.workspaceId)),
        }),
      );
    },
    { auth: service.internalAuth! },
  );
}
