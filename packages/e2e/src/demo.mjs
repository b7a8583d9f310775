// @ts-check
// `./wapi up`'s demo workspace: a sandbox number connected to a workspace, an approved
// template, a simulated customer and an API key, seeded idempotently on every start.
// The sandbox keeps its world in memory, so the world is applied again on each start with the
// same ids and secrets (kept in the state file), and wapi's side (the account, the connected
// number, the key) is found again or made.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { publicApi } from './api.mjs';
import { connectSandboxNumber, worldSeed } from './world.mjs';

/** Fixed ids of the demo world: the connected number survives a restart of the sandbox. */
export const DEMO = /** @type {const} */ ({
  appId: '1000000000000001',
  wabaId: '2000000000000001',
  businessId: '2500000000000001',
  phoneNumberId: '3000000000000001',
  display: '15550100000',
  verifiedName: 'wapi demo',
  customer: { waId: '15550123456', name: 'Alex (simulated customer)' },
  template: {
    id: '4000000000000001',
    name: 'hello_world',
    language: 'en_US',
    category: /** @type {const} */ ('UTILITY'),
    body: 'Hello from wapi! Reply to this message to start a conversation.',
  },
  email: 'demo@wapi.local',
  name: 'Demo User',
  workspaceName: 'wapi demo',
});

/**
 * What the demo keeps between runs (mode 0600 beside the other local keys): the sandbox app's
 * secret and verify token, the number's token, the demo account's password and its API key.
 * @typedef {object} DemoState
 * @property {string} appSecret
 * @property {string} verifyToken
 * @property {string} accessToken
 * @property {string} password
 * @property {string} [apiKey]
 */

/**
 * The demo's secrets, created on the first run and kept in `stateFile`.
 * @param {string} stateFile
 * @returns {DemoState}
 */
export function demoState(stateFile) {
  if (existsSync(stateFile)) return JSON.parse(readFileSync(stateFile, 'utf8'));
  const secret = () => randomBytes(24).toString('base64url');
  /** @type {DemoState} */
  const state = {
    appSecret: secret(),
    verifyToken: secret(),
    accessToken: `EAAdemo${secret()}`,
    password: secret(),
  };
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return state;
}

/** @param {DemoState} state @returns {import('./platform.mjs').MetaApp} */
export const demoMetaApp = (state) => ({
  appId: DEMO.appId,
  appSecret: state.appSecret,
  verifyToken: state.verifyToken,
});

/**
 * @typedef {object} DemoWorkspace
 * @property {string} workspaceId
 * @property {string} apiKey  role manager: sends, reads, audit
 * @property {string} phoneNumberId
 * @property {string} displayPhoneNumber  the connected sandbox number
 * @property {string} template  the approved template's name
 * @property {string} customerPhone  E.164 of the simulated customer
 * @property {object} firstMessage  the body of the first send (an approved template)
 * @property {boolean} templatesFromApi  whether gateway manages templates (else the sandbox's approved one is used as is)
 */

/**
 * Seeds the demo world into the sandbox and the demo workspace into wapi, idempotently.
 * @param {{ gatewayUrl: string, sandbox: import('./api.mjs').SandboxControl, webhookUrl: string, stateFile: string }} options
 * @returns {Promise<DemoWorkspace>}
 */
export async function ensureDemoWorkspace({ gatewayUrl, sandbox, webhookUrl, stateFile }) {
  const state = demoState(stateFile);
  const number = {
    phoneNumberId: DEMO.phoneNumberId,
    wabaId: DEMO.wabaId,
    businessId: DEMO.businessId,
    display: DEMO.display,
    verifiedName: DEMO.verifiedName,
    accessToken: state.accessToken,
  };
  await sandbox.applyWorld(
    worldSeed({
      app: demoMetaApp(state),
      callbackUrl: webhookUrl,
      numbers: [number],
      customers: [DEMO.customer],
      templates: [{ wabaId: DEMO.wabaId, ...DEMO.template }],
    }),
  );

  const anonymous = publicApi(gatewayUrl);
  const login = await anonymous.request('POST', '/api/v1/auth/login', {
    email: DEMO.email,
    password: state.password,
  });
  let accessToken;
  if (login.status === 200) {
    accessToken = login.body.accessToken;
  } else {
    const signup = await anonymous.request('POST', '/api/v1/auth/signup', {
      email: DEMO.email,
      password: state.password,
      name: DEMO.name,
      workspaceName: DEMO.workspaceName,
    });
    if (signup.status !== 201)
      throw new Error(
        `could not log in to or sign up the demo account ${DEMO.email} (login ${login.status}, sign-up ${signup.status}: ${JSON.stringify(signup.body)}); if its password in ${stateFile} was lost, drop the gateway database (or use WAPI_NAMESPACE) and start again`,
      );
    accessToken = signup.body.tokens.accessToken;
  }
  const owner = publicApi(gatewayUrl, accessToken);
  const workspace = await owner.get('/api/v1/workspace');
  await connectSandboxNumber(owner, number, { sandbox, appId: DEMO.appId });

  // The key is shown once, at creation: keep it, and make a new one only when it stopped working.
  if (
    !state.apiKey ||
    (await publicApi(gatewayUrl, state.apiKey).request('GET', '/api/v1/workspace')).status !== 200
  ) {
    const created = await owner.post('/api/v1/api-keys', { name: 'demo', role: 'manager' });
    state.apiKey = created.key;
    writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  }

  // The template is approved at Meta (seeded above, as if reviewed long ago); wapi learns it
  // the way it learns any template made outside it: a sync with Meta's list. Older gateways
  // without template routes send it unchecked.
  const sync = await owner.request('POST', '/api/v1/templates/sync');
  const templatesFromApi = sync.status === 200;
  if (templatesFromApi) {
    const { templates } = await owner.get(
      `/api/v1/templates?name=${DEMO.template.name}&language=${DEMO.template.language}`,
    );
    if (templates[0]?.status !== 'APPROVED')
      throw new Error(
        `the demo template ${DEMO.template.name} is ${templates[0]?.status ?? 'missing'} at wapi after a sync; see gateway's log`,
      );
  } else if (sync.body?.error?.code !== 'ROUTE_NOT_FOUND') {
    throw new Error(`POST /api/v1/templates/sync answered ${sync.status}: ${JSON.stringify(sync.body)}`);
  }

  return {
    workspaceId: workspace.id,
    apiKey: /** @type {string} */ (state.apiKey),
    phoneNumberId: DEMO.phoneNumberId,
    displayPhoneNumber: DEMO.display,
    template: DEMO.template.name,
    customerPhone: `+${DEMO.customer.waId}`,
    firstMessage: {
      to: `+${DEMO.customer.waId}`,
      category: 'utility',
      content: { type: 'template', template: { name: DEMO.template.name, language: DEMO.template.language } },
    },
    templatesFromApi,
  };
}

/**
 * The curl that sends the demo's first message (one line per option, as printed).
 * @param {string} gatewayUrl
 * @param {DemoWorkspace} demo
 */
export function firstMessageCurl(gatewayUrl, demo) {
  return [
    `curl -sS -X POST ${gatewayUrl}/api/v1/messages \\`,
    `  -H 'Authorization: Bearer ${demo.apiKey}' \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -d '${JSON.stringify(demo.firstMessage)}'`,
  ].join('\n');
}
