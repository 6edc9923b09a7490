// The database behind SUPABASE_DB_URL: the scheduler's tables (read only) and this function's own.

import postgres from "npm:postgres@3.4.9";
import { AnswerError, misconfigured, unreachable } from "./answers.ts";

export type Sql = ReturnType<typeof postgres>;

// SQLSTATE classes that no retry fixes: a missing table or column (the migration was not
// pushed, or this is not the scheduler's database), no privilege, a wrong login.
const MISCONFIGURATION_STATES = /^(42|3D|3F|28)/;

export function connect(url: string): Sql {
  return postgres(url, {
    max: 4,
    // Supabase's transaction-mode pooler (Supavisor) has no prepared statements.
    prepare: false,
    connect_timeout: 5,
    idle_timeout: 30,
    onnotice: () => {},
    connection: { application_name: "dispatch-scenario-prompt" },
  });
}

class DatabaseTimeout extends Error {}

/** Run `work` on the database before `deadline` (epoch ms); failures become answers. */
export async function withDatabase<T>(work: () => Promise<T>, deadline: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeout()), Math.max(1, deadline - Date.now()));
  });
  try {
    return await Promise.race([work(), timeout]);
  } catch (error) {
    throw new AnswerError(databaseAnswer(error));
  } finally {
    clearTimeout(timer);
  }
}

function databaseAnswer(error: unknown) {
  if (error instanceof AnswerError) return error.answer;
  const code = String((error as { code?: unknown })?.code ?? "");
  if (error instanceof postgres.PostgresError && MISCONFIGURATION_STATES.test(code)) {
    return misconfigured(
      `the database refused a query (SQLSTATE ${code}: ${error.message}): check SUPABASE_DB_URL ` +
        "and that the migrations in supabase/migrations were pushed (supabase db push)",
    );
  }
  const what = error instanceof DatabaseTimeout ? "timed out" : code || "connection failed";
  return unreachable(`the database could not be reached (${what})`);
}
