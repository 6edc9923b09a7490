// The function's environment, read once per isolate. The platform sets SUPABASE_URL,
// SUPABASE_SECRET_KEYS, SUPABASE_SERVICE_ROLE_KEY and SUPABASE_DB_URL; the organisation
// sets FCM_SERVICE_ACCOUNT and, for tests, FCM_API_URL.

import { AnswerError, misconfigured } from "./answers.ts";
import { connect } from "./db.ts";
import { FcmSender } from "./fcm.ts";
import { GoogleTokens, parseServiceAccount } from "./google.ts";
import { safeBaseUrl } from "./http.ts";
import { Ledger } from "./idempotency.ts";
import { ScenarioTexts } from "./scenarios.ts";

export interface Env {
  get(name: string): string | undefined;
}

export const DEFAULT_FCM_API_URL = "https://fcm.googleapis.com";

export interface Services {
  ledger: Ledger;
  scenarios: ScenarioTexts;
  sender: FcmSender;
  close(): Promise<void>;
}

/** The database and FCM clients; an AnswerError (500 misconfigured) naming what is wrong. */
export function buildServices(env: Env): Services {
  const dbUrl = env.get("SUPABASE_DB_URL")?.trim();
  if (!dbUrl) throw new AnswerError(misconfigured("SUPABASE_DB_URL is not set"));
  const sender = fcmSender(env);
  const sql = connect(dbUrl); // connects on first use
  return {
    ledger: new Ledger(sql),
    scenarios: new ScenarioTexts(sql),
    sender,
    close: () => sql.end({ timeout: 5 }),
  };
}

function fcmSender(env: Env): FcmSender {
  const raw = env.get("FCM_SERVICE_ACCOUNT")?.trim();
  if (!raw) throw new AnswerError(misconfigured("FCM_SERVICE_ACCOUNT is not set"));
  let account;
  try {
    account = parseServiceAccount(raw);
  } catch (error) {
    throw new AnswerError(misconfigured((error as Error).message));
  }
  const apiUrl = safeBaseUrl(env.get("FCM_API_URL")?.trim() || DEFAULT_FCM_API_URL);
  if (!apiUrl) {
    throw new AnswerError(
      misconfigured("FCM_API_URL must be https:// (plain http:// only to this machine)"),
    );
  }
  const tokenUri = safeBaseUrl(account.tokenUri);
  if (!tokenUri) {
    throw new AnswerError(misconfigured(
      "FCM_SERVICE_ACCOUNT's token_uri must be https:// (plain http:// only to this machine)",
    ));
  }
  const sendUrl = `${apiUrl}/v1/projects/${encodeURIComponent(account.projectId)}/messages:send`;
  return new FcmSender(sendUrl, new GoogleTokens(account, tokenUri));
}
