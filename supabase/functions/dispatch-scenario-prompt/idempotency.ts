// The Idempotency-Key ledger: one row per (key, device), recorded before FCM is asked.

import { type Sql, withDatabase } from "./db.ts";

// Cleaning up is cheap but needs doing only now and then.
const CLEANUP_EVERY_MS = 60 * 60 * 1000;

export type Claim =
  | { kind: "claimed"; attempt: string }
  | { kind: "delivered"; message: string }
  | { kind: "in_flight" };

export class Ledger {
  #lastCleanup = 0;

  constructor(readonly sql: Sql) {}

  /**
   * Take the key for this device, unless it was delivered or is being sent right now.
   *
   * A new key, one whose last try failed, or one in flight for more than 5 minutes (its
   * sender died: no request lives that long) is taken in one statement, so two callers
   * racing for it cannot both win.
   */
  async claim(key: string, deviceHash: string, deadline: number): Promise<Claim> {
    const attempt = crypto.randomUUID();
    return await withDatabase(async () => {
      const taken = await this.sql`
        insert into dispatch_idempotency as d
          (idempotency_key, device_token_sha256, status, attempt, started_at)
        values (${key}, ${deviceHash}, 'in_flight', ${attempt}, now())
        on conflict (idempotency_key, device_token_sha256) do update
          set status = 'in_flight', attempt = excluded.attempt, started_at = now(),
              finished_at = null, tries = d.tries + 1
          where d.status = 'failed'
             or (d.status = 'in_flight' and d.started_at < now() - interval '5 minutes')
        returning attempt`;
      if (taken.length) return { kind: "claimed", attempt };
      const [row] = await this.sql<{ status: string; message_name: string | null }[]>`
        select status, message_name from dispatch_idempotency
        where idempotency_key = ${key} and device_token_sha256 = ${deviceHash}`;
      return row?.status === "delivered"
        ? { kind: "delivered", message: row.message_name ?? "" }
        : { kind: "in_flight" };
    }, deadline);
  }

  /** Record how the attempt ended; a key taken over meanwhile is left to its new holder. */
  async finish(
    key: string,
    deviceHash: string,
    attempt: string,
    outcome: { delivered: boolean; message?: string },
    deadline: number,
  ): Promise<void> {
    await withDatabase(
      () =>
        this.sql`
          update dispatch_idempotency
          set status = ${outcome.delivered ? "delivered" : "failed"},
              message_name = ${outcome.message ?? null}, finished_at = now()
          where idempotency_key = ${key} and device_token_sha256 = ${deviceHash}
            and attempt = ${attempt} and status = 'in_flight'`,
      deadline,
    );
  }

  /** Delete entries older than 30 days, at most once an hour per isolate. */
  async forgetOld(deadline: number): Promise<void> {
    if (Date.now() - this.#lastCleanup < CLEANUP_EVERY_MS) return;
    this.#lastCleanup = Date.now();
    await withDatabase(
      () =>
        this.sql`delete from dispatch_idempotency where created_at < now() - interval '30 days'`,
      deadline,
    );
  }
}
