import { type Static, Type } from '@sinclair/typebox';
import { ErrorResponse, PhoneNumberIdParam } from '@wapi/contracts';
import type { ServiceApp } from '@wapi/service-kit';
import { ONBOARDING_STEPS, type OnboardingRecord } from '../data/workspaces.repository';
import { dependency, principalOf } from '../plugins/auth';
import type { EmbeddedSignup } from './esb';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

const Pin = Type.String({
  pattern: '^[0-9]{6}$',
  description: "the number's 6-digit two-step verification PIN",
});
const MetaId = (description: string) => Type.String({ pattern: '^[0-9]{1,32}$', description });

export const EsbStart = Type.Object(
  {
    appId: Type.String({ description: "the Meta app id to open Meta's flow with (FB.init appId)" }),
    configId: Type.String({ description: 'the Embedded Signup configuration id (FB.login config_id)' }),
    graphVersion: Type.String({ description: 'the Graph version the gateway calls, e.g. v23.0' }),
    state: Type.String({
      description: 'pass back unchanged to the callback: bound to this workspace and user, single-use',
    }),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const EsbCallback = Type.Object(
  {
    state: Type.String({ minLength: 1, maxLength: 256 }),
    code: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: "the code Meta's flow returned (valid 30 s)",
    }),
    wabaId: MetaId("the customer's WhatsApp Business Account id from the flow"),
    phoneNumberId: PhoneNumberIdParam,
    businessId: Type.Optional(
      MetaId(
        "the business portfolio id from the flow's WA_EMBEDDED_SIGNUP event (`data.business_id`): the sender counts the messaging limit per portfolio with it",
      ),
    ),
    pin: Type.Optional(Pin),
  },
  { additionalProperties: false },
);

export const EsbRetry = Type.Object(
  {
    code: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'a new code, needed only if tokenExchanged failed',
      }),
    ),
    pin: Type.Optional(Pin),
  },
  { additionalProperties: false },
);

const Step = Type.Object(
  {
    status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
    at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const EsbStatus = Type.Object(
  {
    wabaId: Type.String(),
    phoneNumberId: Type.String(),
    startedAt: Type.String({ format: 'date-time' }),
    completed: Type.Boolean({ description: 'every step succeeded' }),
    steps: Type.Object(
      Object.fromEntries(ONBOARDING_STEPS.map((s) => [s, Step])) as Record<
        (typeof ONBOARDING_STEPS)[number],
        typeof Step
      >,
    ),
  },
  { additionalProperties: false },
);
export type EsbStatus = Static<typeof EsbStatus>;

const statusView = (r: OnboardingRecord): EsbStatus => ({
  wabaId: r.wabaId,
  phoneNumberId: r.phoneNumberId,
  startedAt: r.startedAt.toISOString(),
  completed: ONBOARDING_STEPS.every((s) => r.steps[s].status === 'succeeded'),
  steps: Object.fromEntries(
    ONBOARDING_STEPS.map((s) => {
      const step = r.steps[s];
      return [s, { ...step, at: step.at ? step.at.toISOString() : null }];
    }),
  ) as EsbStatus['steps'],
});

/**
 * Embedded Signup (docs/meta-platform.md §8.1), Redis or MongoDB unreachable answering 503: `start` gives the front end what it opens
 * Meta's flow with; `callback` takes what the flow returned; `retry` runs the failed steps.
 * Managing numbers is an owner's (`phone_numbers:manage`); reading the progress is anyone's
 * who may read numbers.
 */
export function registerOnboardingRoutes(app: ServiceApp, deps: { esb: EmbeddedSignup }): void {
  const { esb } = deps;

  app.post(
    '/api/v1/onboarding/esb/start',
    {
      config: { permission: 'phone_numbers:manage' },
      schema: { tags: ['onboarding'], response: { 200: EsbStart, ...errors } },
    },
    async (request) => {
      const { workspaceId, id } = principalOf(request);
      return dependency(esb.start(workspaceId, id));
    },
  );

  app.post(
    '/api/v1/onboarding/esb/callback',
    {
      config: { permission: 'phone_numbers:manage' },
      schema: { tags: ['onboarding'], body: EsbCallback, response: { 200: EsbStatus, ...errors } },
    },
    async (request) => {
      const { workspaceId, id } = principalOf(request);
      return statusView(await dependency(esb.callback(workspaceId, id, request.body)));
    },
  );

  app.post(
    '/api/v1/onboarding/esb/retry',
    {
      config: { permission: 'phone_numbers:manage' },
      schema: { tags: ['onboarding'], body: EsbRetry, response: { 200: EsbStatus, ...errors } },
    },
    async (request) =>
      statusView(await dependency(esb.retry(principalOf(request).workspaceId, request.body))),
  );

  app.get(
    '/api/v1/onboarding/esb',
    {
      config: { permission: 'phone_numbers:read' },
      schema: { tags: ['onboarding'], response: { 200: EsbStatus, ...errors } },
    },
    async (request) => statusView(await dependency(esb.status(principalOf(request).workspaceId))),
  );
}
