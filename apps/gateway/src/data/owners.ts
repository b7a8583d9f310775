import { AppError } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { memberKey, type WorkspaceRepositories } from './workspaces.repository';

/**
 * The last-owner rule without transactions (FerretDB has none): the workspace document holds
 * the set of its owners (`owners`), and giving up the owner role is one conditional update
 * of that document, "pull X if X is in the set and the set has two or more members". Two
 * owners demoting each other at once are two such updates on one document: the database
 * applies them one after the other, so the second no longer matches and is refused. A
 * count-then-update on `members` could let both pass.
 *
 * Invariant: `owners` ⊆ the members whose role is owner. Hence the order of the two writes:
 * a demotion pulls from the set first and then changes the member; a promotion changes the
 * member first and then adds to the set. A crash between the two leaves an owner uncounted,
 * which can only make the rule stricter, never let the last owner go.
 */
export function ownerGuard(tenancy: WorkspaceRepositories) {
  /** Fills `owners` of a workspace created before the field existed (once: only while it is absent). */
  async function ensureOwners(ws: string): Promise<void> {
    const doc = await tenancy.workspaces.findOne({ _id: ws });
    if (!doc) throw new AppError('NOT_FOUND');
    if (doc.owners) return;
    const owners = await tenancy.members.find(asWorkspaceId(ws), { role: 'owner' }, { limit: 1_000 });
    await tenancy.workspaces.updateOne(
      { _id: ws, owners: { $exists: false } },
      { $set: { owners: owners.map((m) => m.userId) } },
    );
  }

  return {
    /**
     * Takes `userId` out of the owners of `ws` unless it is the last one (409 LAST_OWNER).
     * Call it before the member's role changes away from owner or the member is removed.
     */
    async release(ws: string, userId: string): Promise<void> {
      await ensureOwners(ws);
      const pulled = await tenancy.workspaces.updateOne(
        // Two or more owners, one of them `userId`: neither size 0 nor size 1.
        { _id: ws, owners: userId, $nor: [{ owners: { $size: 0 } }, { owners: { $size: 1 } }] },
        { $pull: { owners: userId } },
      );
      if (pulled.matched === 1) return;
      const doc = await tenancy.workspaces.findOne({ _id: ws });
      const owners = doc?.owners ?? [];
      // Not in the set: a concurrent demotion of the same member already took it out (or a
      // crash left it uncounted); someone else is counted, so the change may go ahead.
      if (!owners.includes(userId) && owners.length > 0) return;
      throw new AppError('LAST_OWNER');
    },

    /** Counts `userId` as an owner of `ws`; call it after the member's role became owner. */
    async grant(ws: string, userId: string): Promise<void> {
      await ensureOwners(ws);
      await tenancy.workspaces.updateOne({ _id: ws }, { $addToSet: { owners: userId } });
      // A concurrent demotion of the same member may have run between its role change and
      // this add: the set must not count a member who is no longer an owner.
      const member = await tenancy.members.findOne(asWorkspaceId(ws), { _id: memberKey(ws, userId) });
      if (member?.role !== 'owner')
        await tenancy.workspaces.updateOne({ _id: ws }, { $pull: { owners: userId } });
    },
  };
}
export type OwnerGuard = ReturnType<typeof ownerGuard>;
