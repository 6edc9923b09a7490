// FCM HTTP v1: the same message the scheduler's FCM backend sends, and what its answers mean.

import {
  type Answer,
  AnswerError,
  delivered,
  misconfigured,
  refused,
  throttled,
  unavailable,
  unregistered,
} from "./answers.ts";
import type { GoogleTokens } from "./google.ts";
import {
  errorText,
  type HttpAnswer,
  parseJson,
  post,
  retryAfterSeconds,
  Unreachable,
} from "./http.ts";
import { scrub } from "./log.ts";

const FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest";
// FCM's word for a token that will never work again.
const DEAD_TOKEN_CODES = new Set(["UNREGISTERED", "SENDER_ID_MISMATCH"]);

export interface Notification {
  deviceToken: string;
  title: string;
  body: string;
  scenarioId: number;
  promptId: number | null;
}

/** The v1 message: the scenario's fixed text and ids, nothing about the person helped. */
export function buildMessage(n: Notification): Record<string, unknown> {
  const promptRef = n.promptId === null ? "test" : String(n.promptId);
  // A repeat replaces itself on the phone: collapse key at FCM, tag and apns-collapse-id shown.
  const collapseKey = `prompt-${promptRef}`;
  return {
    message: {
      token: n.deviceToken,
      notification: { title: n.title, body: n.body },
      data: { scenario_id: String(n.scenarioId), prompt_id: promptRef },
      android: { collapse_key: collapseKey, notification: { tag: collapseKey } },
      apns: { headers: { "apns-collapse-id": collapseKey } },
    },
  };
}

export class FcmSender {
  constructor(readonly sendUrl: string, readonly tokens: GoogleTokens) {}

  async send(n: Notification, deadline: number): Promise<Answer> {
    let accessToken = await this.tokens.get(deadline);
    let answer = await this.#post(n, accessToken, deadline);
    // An access token revoked before its expiry: one new token, one more try.
    // (THIRD_PARTY_AUTH_ERROR is about APNs credentials, not ours.)
    if (answer.status === 401 && FcmError.parse(answer.body).code !== "THIRD_PARTY_AUTH_ERROR") {
      this.tokens.discard(accessToken);
      accessToken = await this.tokens.get(deadline);
      answer = await this.#post(n, accessToken, deadline);
    }
    return classify(answer, n.deviceToken, accessToken);
  }

  async #post(n: Notification, accessToken: string, deadline: number): Promise<HttpAnswer> {
    const headers = {
      "Authorization": `Bearer ${accessToken}`,
      "Content-Type": "application/json",
    };
    try {
      return await post(this.sendUrl, headers, JSON.stringify(buildMessage(n)), deadline);
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      throw new AnswerError(unavailable(undefined, `FCM could not be reached: ${error.message}`));
    }
  }
}

export class FcmError {
  constructor(
    readonly status = "",
    readonly message = "",
    readonly code = "", // FcmError.errorCode
    readonly fields: [string, string][] = [], // BadRequest violations: (field, description)
  ) {}

  static parse(body: Uint8Array): FcmError {
    const data = parseJson(body) as { error?: unknown } | undefined;
    const error = data?.error;
    if (typeof error !== "object" || error === null) {
      return new FcmError("", errorText(new TextDecoder().decode(body)));
    }
    const e = error as Record<string, unknown>;
    let code = "";
    const fields: [string, string][] = [];
    for (const detail of Array.isArray(e.details) ? e.details : []) {
      if (detail?.["@type"] === FCM_ERROR_TYPE) code = String(detail.errorCode ?? "");
      if (detail?.["@type"] === BAD_REQUEST_TYPE && Array.isArray(detail.fieldViolations)) {
        for (const v of detail.fieldViolations) {
          fields.push([String(v?.field ?? ""), String(v?.description ?? "")]);
        }
      }
    }
    return new FcmError(String(e.status ?? ""), errorText(String(e.message ?? "")), code, fields);
  }

  get namesToken(): boolean {
    const texts = [this.message, ...this.fields.map(([, description]) => description)];
    return this.fields.some(([name]) => name.endsWith("token")) ||
      texts.some((text) => text.toLowerCase().includes("registration token"));
  }

  summary(httpStatus: number): string {
    const label = [String(httpStatus), this.code || this.status].filter(Boolean).join(" ");
    return `HTTP ${label}` + (this.message ? `: ${this.message}` : "");
  }
}

/** What an FCM answer means for the scheduler (the contract in docs/design.md). */
export function classify(answer: HttpAnswer, ...secrets: string[]): Answer {
  const { status } = answer;
  if (status >= 200 && status < 300) {
    const data = parseJson(answer.body) as { name?: unknown } | undefined;
    return delivered(typeof data?.name === "string" ? data.name : "");
  }
  if (answer.redirected) {
    return misconfigured(
      `FCM answered with a redirect (HTTP ${status}), which is never followed: check FCM_API_URL`,
    );
  }
  const error = FcmError.parse(answer.body);
  const what = scrub(error.summary(status), ...secrets);
  const retryAfter = retryAfterSeconds(answer.headers.get("Retry-After"));
  if (DEAD_TOKEN_CODES.has(error.code)) return unregistered(error.code, what);
  if ((error.code || error.status) === "INVALID_ARGUMENT" && error.namesToken) {
    return unregistered("INVALID_ARGUMENT", what);
  }
  if (error.code === "THIRD_PARTY_AUTH_ERROR") {
    return refused(`FCM: Apple or web push credentials were rejected (${what})`);
  }
  if (error.code === "QUOTA_EXCEEDED" || status === 429) return throttled(retryAfter ?? 0, what);
  if (status >= 500) return unavailable(retryAfter, what);
  if (status === 401 || status === 403) {
    return misconfigured(
      `FCM refused the request (${what}): check that the service account in ` +
        "FCM_SERVICE_ACCOUNT may send messages for its project",
    );
  }
  if (status === 404) return misconfigured(`FCM: not found (${what}): check FCM_API_URL`);
  return refused(`FCM rejected the message (${what})`);
}
