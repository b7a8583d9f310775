import { Type } from '@sinclair/typebox';

/**
 * Workspace roles and what each may do: ONE table, read by the gateway's authorisation
 * check, its generated permission test and `GET /api/v1/auth/me`.
 *
 * A permission is `resource:verb`. Never rename one (API keys and consoles depend on the
 * names); add a new one and retire the old.
 */
export const ROLES = ['owner', 'manager', 'agent', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = Type.Unsafe<Role>(Type.String({ enum: [...ROLES], description: 'workspace role' }));

const O = 'owner';
const M = 'manager';
const A = 'agent';
const V = 'viewer';

/** Permission -> the roles holding it (owner holds every permission). */
export const PERMISSION_ROLES = {
  'workspace:read': [O, M, A, V],
  'workspace:manage': [O, M],
  'workspace:delete': [O],
  'billing:read': [O, M],
  'billing:manage': [O],
  'members:read': [O, M, A, V],
  'members:manage': [O, M],
  'api_keys:read': [O, M],
  'api_keys:manage': [O, M],
  'messages:read': [O, M, A, V],
  'messages:send': [O, M, A],
  // Agents see only the conversations assigned to them; the others see all.
  'conversations:read_all': [O, M, V],
  'conversations:read_assigned': [O, M, A, V],
  'conversations:assign': [O, M],
  'conversations:close': [O, M, A],
  'contacts:read': [O, M, A, V],
  'contacts:write': [O, M, A],
  'contacts:delete': [O, M],
  'contacts:import': [O, M],
  'contacts:export': [O, M],
  'consent:read': [O, M, A, V],
  'consent:write': [O, M, A],
  'templates:read': [O, M, A, V],
  'templates:write': [O, M],
  'templates:delete': [O, M],
  'broadcasts:read': [O, M, V],
  'broadcasts:send': [O, M],
  'media:read': [O, M, A, V],
  'media:upload': [O, M, A],
  'phone_numbers:read': [O, M, A, V],
  'phone_numbers:manage': [O],
  'webhooks:read': [O, M],
  'webhooks:manage': [O, M],
  'analytics:read': [O, M, V],
  'audit:read': [O, M],
  'audit:export': [O],
  'settings:read': [O, M, A, V],
  'settings:manage': [O, M],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSION_ROLES;
export const PERMISSIONS = Object.keys(PERMISSION_ROLES) as Permission[];
export const PermissionSchema = Type.Unsafe<Permission>(Type.String({ enum: [...PERMISSIONS] }));

/**
 * What a route may declare instead of a permission: `public` (no credentials: sign-up,
 * login, refresh) or `authenticated` (any member of the token's workspace: `auth/me`, logout).
 */
export const ROUTE_ACCESS = ['public', 'authenticated'] as const;
export type RouteAccess = Permission | (typeof ROUTE_ACCESS)[number];

const byRole = new Map<Role, ReadonlySet<Permission>>(
  ROLES.map((role) => [
    role,
    new Set(PERMISSIONS.filter((p) => (PERMISSION_ROLES[p] as readonly Role[]).includes(role))),
  ]),
);

/** True when `role` holds `permission`. */
export function roleHas(role: Role, permission: Permission): boolean {
  return byRole.get(role)?.has(permission) ?? false;
}

/** Every permission of `role`, in table order. */
export function permissionsOf(role: Role): Permission[] {
  return [...(byRole.get(role) ?? [])];
}

/** True when `value` names a role. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
