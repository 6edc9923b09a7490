// A scenario's notification text, read from the scheduler's own table and kept for a minute.

import { type Sql, withDatabase } from "./db.ts";

const CACHE_MS = 60_000;
const CACHE_MAX_ENTRIES = 1000;

export interface ScenarioText {
  title: string;
  body: string;
}

// What `send_test_prompt` sends without --scenario (its scenario id is 0), in the admin's
// language, Norwegian bokmål.
export const TEST_SCENARIO_ID = 0;
export const TEST_TEXT: ScenarioText = {
  title: "Testvarsel",
  body: "Dette er en test av oppfølgingspåminnelser. Du trenger ikke gjøre noe.",
};

export class ScenarioTexts {
  readonly #cache = new Map<number, { text: ScenarioText; until: number }>();

  constructor(readonly sql: Sql) {}

  /** The text of an enabled scenario; null for an unknown or disabled one. */
  async get(id: number, deadline: number): Promise<ScenarioText | null> {
    const cached = this.#cache.get(id);
    if (cached && cached.until > Date.now()) return cached.text;
    const rows = await withDatabase(
      () =>
        this.sql<{ title: string; body: string; is_enabled: boolean }[]>`
          select title, body, is_enabled from scheduler_scenario where id = ${id}`,
      deadline,
    );
    const row = rows[0];
    // Only enabled scenarios are kept: one enabled a moment ago is never refused for a minute.
    if (!row?.is_enabled) return null;
    const text = { title: row.title, body: row.body };
    if (this.#cache.size >= CACHE_MAX_ENTRIES) this.#cache.clear();
    this.#cache.set(id, { text, until: Date.now() + CACHE_MS });
    return text;
  }
}
