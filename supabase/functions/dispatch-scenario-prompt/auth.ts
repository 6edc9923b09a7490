// Who may call: the `apikey` header must be one of the project's secret keys or its legacy
// service_role key, compared in constant time. The Authorization header plays no part.

import { logLine } from "./log.ts";
import type { Env } from "./config.ts";

/** The keys a caller may present: SUPABASE_SECRET_KEYS' values and SUPABASE_SERVICE_ROLE_KEY. */
export function callerKeys(env: Env): string[] {
  const keys: string[] = [];
  const secretKeys = env.get("SUPABASE_SECRET_KEYS")?.trim();
  if (secretKeys) {
    try {
      const parsed: unknown = JSON.parse(secretKeys);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        keys.push(...Object.values(parsed).filter((v): v is string => typeof v === "string"));
      } else {
        throw new Error("not an object");
      }
    } catch {
      logLine({ warning: "SUPABASE_SECRET_KEYS is not a JSON object of name to key; ignored" });
    }
  }
  keys.push(env.get("SUPABASE_SERVICE_ROLE_KEY") ?? "");
  return keys.map((key) => key.trim()).filter(Boolean);
}

export class CallerCheck {
  readonly #digests: Promise<Uint8Array[]>;

  constructor(keys: string[]) {
    if (!keys.length) {
      logLine({
        warning: "no SUPABASE_SECRET_KEYS or SUPABASE_SERVICE_ROLE_KEY: every call is refused",
      });
    }
    this.#digests = Promise.all(keys.map(digest));
  }

  /** True when `apikey` equals one of the keys; every key is compared, all the way. */
  async allows(apikey: string | null): Promise<boolean> {
    // Digests have one length, so neither the length of a key nor where it differs shows.
    const given = await digest(apikey ?? "");
    let matches = 0;
    for (const key of await this.#digests) matches |= equal(given, key) ? 1 : 0;
    return apikey !== null && apikey !== "" && matches === 1;
  }
}

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
