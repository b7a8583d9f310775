import { Type } from '@sinclair/typebox';
import {
  ApiPhoneNumberList,
  AppError,
  ConnectPhoneNumberRequest,
  DirectoryEntry,
  ErrorResponse,
  PhoneNumber,
  PhoneNumberIdParam,
  WabaDirectoryEntry,
  WabaIdParam,
} from '@wapi/contracts';
import { registerInternal, type ServiceApp } from '@wapi/service-kit';
import type { VaultClient } from '@wapi/vault-client';
import { principalOf } from '../plugins/auth';
import type { PhoneDirectory } from './directory';
import type { MessagingRepositories, PhoneNumberDoc } from './repositories';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

export const phoneNumberView = (d: PhoneNumberDoc): PhoneNumber => ({
  phoneNumberId: d._id,
  wabaId: d.wabaId,
  displayPhoneNumber: d.displayPhoneNumber,
  verifiedName: d.verifiedName,
  status: d.status,
  qualityRating: d.qualityRating,
  messagingLimitTier: d.messagingLimitTier,
  throughputMps: d.throughputMps,
  businessId: d.businessId ?? null,
  connectedAt: d.connectedAt.toISOString(),
});

export interface PhoneNumberRouteDeps {
  repos: MessagingRepositories;
  directory: PhoneDirectory;
  vault: Pick<VaultClient, 'put'>;
  now(): Date;
}

/** A workspace's WhatsApp numbers, and the internal directory lookup webhook-ingest falls back on. */
export function registerPhoneNumberRoutes(app: ServiceApp, deps: PhoneNumberRouteDeps): void {
  const { repos } = deps;

  app.post(
    '/api/v1/phone-numbers',
    {
      config: { permission: 'phone_numbers:manage' },
      schema: {
        tags: ['phone-numbers'],
        body: ConnectPhoneNumberRequest,
        response: { 201: PhoneNumber, ...errors },
      },
    },
    async (request, reply) => {
      const { workspaceId } = principalOf(request);
      const body = request.body;
      const existing = await repos.phoneNumbers.findOne({ _id: body.phoneNumberId });
      if (existing && existing.workspaceId !== workspaceId) throw new AppError('PHONE_NUMBER_TAKEN');
      // The token first: a number is never routable without the credential to answer from it.
      await deps.vault.put(workspaceId, 'meta.access_token', body.phoneNumberId, body.accessToken);
      const doc: PhoneNumberDoc = {
        _id: body.phoneNumberId,
        workspaceId,
        wabaId: body.wabaId,
        displayPhoneNumber: body.displayPhoneNumber,
        verifiedName: body.verifiedName ?? null,
        status: 'connected',
        qualityRating: null,
        messagingLimitTier: null,
        throughputMps: 80,
        connectedAt: deps.now(),
      };
      if (existing) {
        // Reconnecting one's own number replaces its token and details.
        await repos.phoneNumbers.updateOne(
          { _id: doc._id, workspaceId },
          {
            $set: {
              wabaId: doc.wabaId,
              displayPhoneNumber: doc.displayPhoneNumber,
              verifiedName: doc.verifiedName,
              status: 'connected',
            },
          },
        );
      } else if (!(await repos.phoneNumbers.insertOnce(doc))) {
        // Another workspace connected it between our read and our insert.
        throw new AppError('PHONE_NUMBER_TAKEN');
      }
      const stored = (await repos.phoneNumbers.findOne({ _id: doc._id, workspaceId })) ?? doc;
      await deps.directory.publish(stored);
      return reply.code(201).send(phoneNumberView(stored));
    },
  );

  app.get(
    '/api/v1/phone-numbers',
    {
      config: { permission: 'phone_numbers:read' },
      schema: { tags: ['phone-numbers'], response: { 200: ApiPhoneNumberList, ...errors } },
    },
    async (request) => {
      const { workspaceId } = principalOf(request);
      const docs = await repos.phoneNumbers.find({ workspaceId }, { sort: { connectedAt: 1 }, limit: 1_000 });
      return { phoneNumbers: docs.map(phoneNumberView) };
    },
  );

  app.get(
    '/api/v1/phone-numbers/:phoneNumberId',
    {
      config: { permission: 'phone_numbers:read' },
      schema: {
        tags: ['phone-numbers'],
        params: Type.Object({ phoneNumberId: PhoneNumberIdParam }),
        response: { 200: PhoneNumber, ...errors },
      },
    },
    async (request) => {
      const { workspaceId } = principalOf(request);
      const doc = await repos.phoneNumbers.findOne({ _id: request.params.phoneNumberId, workspaceId });
      if (!doc) throw new AppError('NOT_FOUND');
      return phoneNumberView(doc);
    },
  );

  registerInternal(
    app,
    async (scope) => {
      scope.get(
        '/v1/directory/:phoneNumberId',
        {
          schema: {
            params: Type.Object({ phoneNumberId: PhoneNumberIdParam }),
            response: { 200: DirectoryEntry, ...errors },
          },
        },
        async (request) => {
          const entry = await deps.directory.lookup(request.params.phoneNumberId);
          if (!entry) throw new AppError('NOT_FOUND', 'No connected WhatsApp number has this id.');
          return entry;
        },
      );
      scope.get(
        '/v1/directory/waba/:wabaId',
        {
          schema: {
            params: Type.Object({ wabaId: WabaIdParam }),
            response: { 200: WabaDirectoryEntry, ...errors },
          },
        },
        async (request) => {
          const entry = await deps.directory.lookupWaba(request.params.wabaId);
          if (!entry) throw new AppError('NOT_FOUND', 'No connected WhatsApp number belongs to this WABA.');
          return entry;
        },
      );
    },
    { auth: app.internalAuth! },
  );
}
