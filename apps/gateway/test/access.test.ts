import { markSuppressionReady } from '@wapi/consent';
import { PERMISSIONS, ROLES, ROUTE_ACCESS, type Role, roleHas, windowKey } from '@wapi/contracts';
import { useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiRoute } from '../src/plugins/auth';
import { type Answer, type Harness, insertPhoneNumber, startGateway } from './harness';

const ctx = useTestContext('gwacc');
let gw: Harness;

beforeAll(async () => {
  gw = await startGateway(ctx);
});
afterAll(() => gw?.close());

/** An owner's workspace with an API key of every role, and a member added as `role`. */
async function workspaceWithKeys(label: string) {
  const owner = await gw.signup(label);
  const token = owner.tokens.accessToken;
  const keys = {} as Record<Role, string>;
  const keyIds = {} as Record<Role, string>;
  for (const role of ROLES) {
    const created = await gw.call('POST', '/api/v1/api-keys', { token, body: { name: `${role} key`, role } });
    expect(created.statusCode, created.body).toBe(201);
    keys[role] = created.json().key;
    keyIds[role] = created.json().apiKey.id;
  }
  return { owner, token, keys, keyIds };
}

/** Adds `member` to `owner`'s workspace as `role` and logs the member in there. */
async function addMember(
  ownerToken: string,
  member: Awaited<ReturnType<Harness['signup']>>,
  role: Role,
  ws: string,
) {
  const added = await gw.call('POST', '/api/v1/members', {
    token: ownerToken,
    body: { email: member.user.email, role },
  });
  expect(added.statusCode, added.body).toBe(201);
  const login = await gw.call('POST', '/api/v1/auth/login', {
    body: { email: member.user.email, password: member.password, workspaceId: ws },
  });
  expect(login.statusCode, login.body).toBe(200);
  return login.json().accessToken as string;
}

/** Made-up ids, one per path parameter any route takes. */
const fake = {
  userId: 'usr_AAAAAAAAAAAAAAAAAAAA',
  keyId: 'AAAAAAAAAAAA',
  phoneNumberId: '100000000001',
  contactId: `ct_${'A'.repeat(22)}`,
  messageId: `msg_${'A'.repeat(22)}`,
};

const fill = (route: ApiRoute, values: Record<string, string>) =>
  route.url.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`no test value for path parameter :${name} of ${route.method} ${route.url}; add one`);
    return value;
  });

describe('every route declares its permission (generated from the route table)', () => {
  it('lists a known permission, `public` or `authenticated` for every /api/v1 route', () => {
    const api = gw.app.routeTable.filter((r) => r.url.startsWith('/api/v1'));
    expect(api.length).toBeGreaterThan(10);
    const allowed = new Set<string>([...PERMISSIONS, ...ROUTE_ACCESS]);
    const undeclared = api.filter((r) => {
      const declared = gw.app.apiRoutes.find((a) => a.method === r.method && a.url === r.url);
      return !declared?.permission || !allowed.has(declared.permission);
    });
    expect(undeclared.map((r) => `${r.method} ${r.url}`)).toEqual([]);
  });

  it('has at least 30 permissions over four roles, the owner holding all', () => {
    expect(PERMISSIONS.length).toBeGreaterThanOrEqual(30);
    expect(PERMISSIONS.every((p) => roleHas('owner', p))).toBe(true);
  });

  it('answers 403 PERMISSION_DENIED exactly to the roles lacking each route’s permission', async () => {
    const { keys } = await workspaceWithKeys('perm');
    const mismatches: string[] = [];
    for (const route of gw.app.apiRoutes) {
      const permission = route.permission;
      if (permission === 'public' || permission === 'authenticated' || permission === undefined) continue;
      for (const role of ROLES) {
        // An empty body: an allowed role gets past authorisation and stops at validation (400)
        // or at the made-up id (404), so nothing is changed by this sweep.
        const answer = await gw.call(route.method as 'GET', fill(route, fake), {
          token: keys[role],
          ...(route.hasBody ? { body: {} } : {}),
        });
        const denied = answer.statusCode === 403 && answer.json().error.code === 'PERMISSION_DENIED';
        if (denied === roleHas(role, permission) || answer.statusCode === 401) {
          mismatches.push(`${role} ${route.method} ${route.url}: ${answer.statusCode} ${answer.body}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('answers 401 AUTH_REQUIRED to every non-public route called without credentials', async () => {
    for (const route of gw.app.apiRoutes.filter((r) => r.permission !== 'public')) {
      const answer = await gw.call(
        route.method as 'GET',
        fill(route, fake),
        route.hasBody ? { body: {} } : {},
      );
      expect(answer.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(answer.json().error.code).toBe('AUTH_REQUIRED');
    }
  });
});

describe('tenant isolation (BOLA, generated from the route table)', () => {
  it('answers 404 with no data to every route taking an id, called with another workspace’s id and credentials', async () => {
    const a = await workspaceWithKeys('bolaa');
    const member = await gw.signup('bolam');
    await addMember(a.token, member, 'agent', a.owner.workspace.id);
    const b = await workspaceWithKeys('bolab');
    // A's phone number (stored as the connect route stores it; connecting needs vault, tested
    // in messaging.test.ts), a contact and a message of A.
    const phoneNumberId = `9${Date.now()}`;
    await insertPhoneNumber(ctx, a.owner.workspace.id, phoneNumberId, '1');
    const contact = await gw.call('POST', '/api/v1/contacts', {
      token: a.token,
      body: { phone: '+14155550100' },
    });
    expect(contact.statusCode, contact.body).toBe(201);
    await markSuppressionReady(ctx.redis, ctx.prefix);
    // A free-form message inside an open customer-service window (no template needed).
    await ctx.redis.set(
      windowKey(ctx.prefix, phoneNumberId, '14155550100'),
      String(Date.now() + 3_600_000),
      'PX',
      3_600_000,
    );
    const message = await gw.call('POST', '/api/v1/messages', {
      token: a.token,
      body: {
        contactId: contact.json().id,
        content: { type: 'text', text: { body: 'hello' } },
      },
    });
    expect(message.statusCode, message.body).toBe(202);
    // A's ids, one per path parameter any route takes. A new route with a new parameter
    // fails `fill` until it gets a value here.
    const aIds = {
      userId: member.user.id,
      keyId: a.keyIds.viewer,
      phoneNumberId,
      contactId: contact.json().id,
      messageId: message.json().id,
    };
    // Bodies valid for each route, so the call reaches the lookup instead of stopping at validation.
    const bodies: Record<string, unknown> = {
      'PATCH /api/v1/members/:userId': { role: 'viewer' },
      'PATCH /api/v1/contacts/:contactId': { name: 'changed by B' },
      'POST /api/v1/contacts/:contactId/consent': { signal: 'opt_out', scope: 'all' },
    };
    const withId = gw.app.apiRoutes.filter((r) => r.params.length > 0);
    expect(withId.length).toBeGreaterThanOrEqual(5);
    const leaks: string[] = [];
    for (const route of withId) {
      const body = bodies[`${route.method} ${route.url}`];
      if (route.hasBody && body === undefined)
        throw new Error(`no valid body for ${route.method} ${route.url}; add one`);
      for (const token of [b.token, b.keys.owner]) {
        const answer: Answer = await gw.call(route.method as 'GET', fill(route, aIds), {
          token,
          ...(body === undefined ? {} : { body }),
        });
        const json = answer.json();
        if (
          answer.statusCode !== 404 ||
          json.error?.code !== 'NOT_FOUND' ||
          Object.keys(json).join() !== 'error'
        ) {
          leaks.push(`${route.method} ${route.url}: ${answer.statusCode} ${answer.body}`);
        }
        expect(answer.body).not.toContain(member.user.email);
      }
    }
    expect(leaks).toEqual([]);
    // Nothing of A changed, and A itself still reaches both.
    const own = await gw.call('GET', `/api/v1/members/${member.user.id}`, { token: a.token });
    expect(own.json()).toMatchObject({ role: 'agent' });
    const key = await gw.call('GET', `/api/v1/api-keys/${a.keyIds.viewer}`, { token: a.token });
    expect(key.json().revokedAt).toBeNull();
    expect((await gw.call('GET', '/api/v1/auth/me', { token: a.keys.viewer })).statusCode).toBe(200);
    const ownContact = await gw.call('GET', `/api/v1/contacts/${aIds.contactId}`, { token: a.token });
    expect(ownContact.json().name).toBeNull();
    expect((await gw.call('GET', `/api/v1/messages/${aIds.messageId}`, { token: a.token })).statusCode).toBe(
      200,
    );
    expect(
      (await gw.call('GET', `/api/v1/phone-numbers/${phoneNumberId}`, { token: a.token })).statusCode,
    ).toBe(200);
  });
});

describe('API keys', () => {
  it('shows the key once, in the wapi_ format with a valid checksum, and stores only its hash', async () => {
    const { token, keys, keyIds } = await workspaceWithKeys('keys');
    expect(keys.viewer).toMatch(/^wapi_[0-9A-Za-z]{50}$/);
    const list = await gw.call('GET', '/api/v1/api-keys', { token });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(keys.viewer);
    expect(list.json().apiKeys).toHaveLength(4);
    const stored = await ctx.db.collection('api_keys').findOne({ _id: keyIds.viewer as never });
    expect(JSON.stringify(stored)).not.toContain(keys.viewer.slice(17));
    // One changed character breaks the checksum: refused before any lookup.
    const last = keys.viewer.at(-1) === 'a' ? 'b' : 'a';
    const tampered = await gw.call('GET', '/api/v1/auth/me', { token: `${keys.viewer.slice(0, -1)}${last}` });
    expect(tampered.statusCode).toBe(401);
  });

  it('acts as its role: a viewer key cannot send (403), an agent key passes authorisation, and lastUsedAt is kept', async () => {
    const { token, keys, keyIds } = await workspaceWithKeys('send');
    const body = { to: '+919999000001', content: { type: 'text', text: { body: 'hi' } } };
    const viewer = await gw.call('POST', '/api/v1/messages', { token: keys.viewer, body });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().error.code).toBe('PERMISSION_DENIED');
    const agent = await gw.call('POST', '/api/v1/messages', { token: keys.agent, body });
    // Past authorisation, stopped by the workspace having no number yet.
    expect(agent.json().error.code).toBe('PHONE_NUMBER_NOT_CONNECTED');
    const me = await gw.call('GET', '/api/v1/auth/me', { token: keys.agent });
    expect(me.json()).toMatchObject({ principal: { type: 'api_key', id: keyIds.agent }, role: 'agent' });
    const listed = await gw.call('GET', `/api/v1/api-keys/${keyIds.agent}`, { token });
    // Written after the answer (not awaited by the request), so wait for it, bounded.
    await expect
      .poll(
        async () => (await gw.call('GET', `/api/v1/api-keys/${keyIds.agent}`, { token })).json().lastUsedAt,
        {
          timeout: 5_000,
        },
      )
      .not.toBeNull();
    expect(listed.statusCode).toBe(200);
  });

  it('is refused with 401 AUTH_INVALID at once after revocation', async () => {
    const { token, keys, keyIds } = await workspaceWithKeys('revoke');
    expect((await gw.call('GET', '/api/v1/workspace', { token: keys.manager })).statusCode).toBe(200);
    expect((await gw.call('DELETE', `/api/v1/api-keys/${keyIds.manager}`, { token })).statusCode).toBe(204);
    const after = await gw.call('GET', '/api/v1/workspace', { token: keys.manager });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('AUTH_INVALID');
  });

  it('lets only an owner create an owner key', async () => {
    const { keys } = await workspaceWithKeys('ownerkey');
    const answer = await gw.call('POST', '/api/v1/api-keys', {
      token: keys.manager,
      body: { name: 'x', role: 'owner' },
    });
    expect(answer.statusCode).toBe(403);
  });
});

describe('members and roles', () => {
  it('refuses to remove or demote the last owner with 409 LAST_OWNER, and allows it once there is another owner', async () => {
    const owner = await gw.signup('last');
    const token = owner.tokens.accessToken;
    const demote = await gw.call('PATCH', `/api/v1/members/${owner.user.id}`, {
      token,
      body: { role: 'manager' },
    });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().error.code).toBe('LAST_OWNER');
    const remove = await gw.call('DELETE', `/api/v1/members/${owner.user.id}`, { token });
    expect(remove.json().error.code).toBe('LAST_OWNER');
    const second = await gw.signup('second');
    await addMember(token, second, 'owner', owner.workspace.id);
    const nowOk = await gw.call('PATCH', `/api/v1/members/${owner.user.id}`, {
      token,
      body: { role: 'manager' },
    });
    expect(nowOk.statusCode).toBe(200);
    expect(nowOk.json().role).toBe('manager');
  });

  it('leaves at least one owner when two owners demote or remove each other at the same moment, every time', async () => {
    const a = await gw.signup('racea');
    const b = await gw.signup('raceb');
    const ws = a.workspace.id;
    const tokenOf = { [a.user.id]: a.tokens.accessToken } as Record<string, string>;
    tokenOf[b.user.id] = await addMember(a.tokens.accessToken, b, 'owner', ws);
    const ids = [a.user.id, b.user.id] as const;
    // Read from the database, whoever is still allowed to list members.
    const ownersNow = async () =>
      (await ctx.db.collection('members').find({ workspaceId: ws, role: 'owner' }).toArray()).map(
        (m) => m.userId as string,
      );
    for (let round = 0; round < 12; round++) {
      const [x, y] = round % 2 === 0 ? ids : [ids[1], ids[0]];
      // Round 0..3: each demotes the other; 4..7: each demotes itself; 8..11: one removes the
      // other while that one demotes the first. All at once, through the same await points.
      const calls =
        round < 4
          ? [
              gw.call('PATCH', `/api/v1/members/${y}`, { token: tokenOf[x]!, body: { role: 'manager' } }),
              gw.call('PATCH', `/api/v1/members/${x}`, { token: tokenOf[y]!, body: { role: 'manager' } }),
            ]
          : round < 8
            ? [
                gw.call('PATCH', `/api/v1/members/${x}`, { token: tokenOf[x]!, body: { role: 'agent' } }),
                gw.call('PATCH', `/api/v1/members/${y}`, { token: tokenOf[y]!, body: { role: 'agent' } }),
              ]
            : [
                gw.call('PATCH', `/api/v1/members/${y}`, { token: tokenOf[x]!, body: { role: 'viewer' } }),
                gw.call('PATCH', `/api/v1/members/${x}`, { token: tokenOf[y]!, body: { role: 'viewer' } }),
              ];
      const answers = await Promise.all(calls);
      const codes = answers.map((r) => r.statusCode).sort();
      expect(codes, answers.map((r) => r.body).join(' | ')).toEqual([200, 409]);
      const remaining = await ownersNow();
      expect(remaining).toHaveLength(1);
      const survivor = remaining[0]!;
      const other = survivor === a.user.id ? b.user.id : a.user.id;
      const restore = await gw.call('PATCH', `/api/v1/members/${other}`, {
        token: tokenOf[survivor]!,
        body: { role: 'owner' },
      });
      expect(restore.statusCode, restore.body).toBe(200);
    }
  });

  it('applies the rule to a workspace created before the owner set existed', async () => {
    const owner = await gw.signup('legacy');
    await ctx.db
      .collection('workspaces')
      .updateOne({ _id: owner.workspace.id as never }, { $unset: { owners: '' } });
    const demote = await gw.call('PATCH', `/api/v1/members/${owner.user.id}`, {
      token: owner.tokens.accessToken,
      body: { role: 'manager' },
    });
    expect(demote.json().error.code).toBe('LAST_OWNER');
    const stored = await ctx.db.collection('workspaces').findOne({ _id: owner.workspace.id as never });
    expect(stored?.owners).toEqual([owner.user.id]);
  });

  it('lets a user belong to several workspaces and pick one per token; removal closes that workspace at once', async () => {
    const a = await gw.signup('multia');
    const b = await gw.signup('multib');
    const user = await gw.signup('multiu');
    const inA = await addMember(a.tokens.accessToken, user, 'viewer', a.workspace.id);
    const inB = await addMember(b.tokens.accessToken, user, 'manager', b.workspace.id);
    expect((await gw.call('GET', '/api/v1/workspace', { token: inA })).json().id).toBe(a.workspace.id);
    expect((await gw.call('GET', '/api/v1/workspace', { token: inB })).json().id).toBe(b.workspace.id);
    const me = (await gw.call('GET', '/api/v1/auth/me', { token: inB })).json();
    expect(me.role).toBe('manager');
    expect(me.workspaces.map((w: { id: string }) => w.id).sort()).toEqual(
      [user.workspace.id, a.workspace.id, b.workspace.id].sort(),
    );
    // A manager may not grant the owner role.
    const grant = await gw.call('PATCH', `/api/v1/members/${user.user.id}`, {
      token: inB,
      body: { role: 'owner' },
    });
    expect(grant.statusCode).toBe(403);
    expect(
      (await gw.call('DELETE', `/api/v1/members/${user.user.id}`, { token: a.tokens.accessToken }))
        .statusCode,
    ).toBe(204);
    expect((await gw.call('GET', '/api/v1/workspace', { token: inA })).statusCode).toBe(401);
    expect((await gw.call('GET', '/api/v1/workspace', { token: inB })).statusCode).toBe(200);
    const notMember = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: user.user.email, password: user.password, workspaceId: a.workspace.id },
    });
    expect(notMember.statusCode).toBe(404);
  });

  it('takes a demotion into effect on the next request', async () => {
    const owner = await gw.signup('demote');
    const user = await gw.signup('demoted');
    const token = await addMember(owner.tokens.accessToken, user, 'manager', owner.workspace.id);
    expect((await gw.call('GET', '/api/v1/api-keys', { token })).statusCode).toBe(200);
    await gw.call('PATCH', `/api/v1/members/${user.user.id}`, {
      token: owner.tokens.accessToken,
      body: { role: 'viewer' },
    });
    expect((await gw.call('GET', '/api/v1/api-keys', { token })).statusCode).toBe(403);
  });
});
