// Google OAuth for a service account: an RS256 assertion signed with WebCrypto, exchanged at
// the key file's token_uri. One access token per isolate, reused until shortly before expiry.

import { AnswerError, misconfigured, unreachable } from "./answers.ts";
import { errorText, parseJson, post, Unreachable } from "./http.ts";

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const ASSERTION_LIFETIME_SECONDS = 3600;
// A token this close to its expiry is renewed first: a request may take a while to arrive.
const RENEW_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

export interface ServiceAccount {
  clientEmail: string;
  privateKey: string; // PEM, PKCS#8
  privateKeyId: string;
  tokenUri: string;
  projectId: string;
}

/** The service account from FCM_SERVICE_ACCOUNT (the key file's JSON); throws a message. */
export function parseServiceAccount(json: string): ServiceAccount {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new Error("FCM_SERVICE_ACCOUNT is not JSON");
  }
  const info = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  if (info.type !== "service_account") {
    throw new Error('FCM_SERVICE_ACCOUNT is not a service-account key ("type": "service_account")');
  }
  const field = (name: string): string => {
    const value = info[name];
    if (typeof value !== "string" || !value.trim()) {
      throw new Error(`FCM_SERVICE_ACCOUNT has no ${name}`);
    }
    return value.trim();
  };
  return {
    clientEmail: field("client_email"),
    privateKey: field("private_key"),
    privateKeyId: typeof info.private_key_id === "string" ? info.private_key_id : "",
    tokenUri: field("token_uri"),
    projectId: field("project_id"),
  };
}

interface AccessToken {
  value: string;
  expiresAt: number; // epoch ms
}

export class GoogleTokens {
  #token?: AccessToken;
  #pending?: Promise<string>;
  #signingKey?: Promise<CryptoKey>;

  constructor(readonly account: ServiceAccount, readonly tokenUri: string) {}

  /** A valid access token; concurrent callers share one exchange. */
  get(deadline: number): Promise<string> {
    if (this.#token && this.#token.expiresAt - Date.now() > RENEW_BEFORE_EXPIRY_MS) {
      return Promise.resolve(this.#token.value);
    }
    this.#pending ??= this.#exchange(deadline).finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  /** Forget a token FCM refused, unless a newer one already replaced it. */
  discard(value: string): void {
    if (this.#token?.value === value) this.#token = undefined;
  }

  async #exchange(deadline: number): Promise<string> {
    const form = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: await this.#assertion(),
    });
    let answer;
    try {
      answer = await post(
        this.tokenUri,
        { "Content-Type": "application/x-www-form-urlencoded" },
        form.toString(),
        deadline,
      );
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      throw new AnswerError(
        unreachable(`Google's OAuth token endpoint could not be reached (${error.message})`),
      );
    }
    const data = parseJson(answer.body) as Record<string, unknown> | undefined;
    if (answer.redirected) {
      throw new AnswerError(misconfigured(
        `Google's OAuth token endpoint answered with a redirect (HTTP ${answer.status}), which ` +
          "is never followed: check token_uri in FCM_SERVICE_ACCOUNT",
      ));
    }
    if (answer.status === 429 || answer.status >= 500) {
      throw new AnswerError(
        unreachable(`Google's OAuth token endpoint is unavailable (HTTP ${answer.status})`),
      );
    }
    if (answer.status >= 400) {
      throw new AnswerError(misconfigured(
        `Google refused the service account (HTTP ${answer.status}: ${grantError(data)}): ` +
          "check FCM_SERVICE_ACCOUNT (key revoked or deleted?)",
      ));
    }
    const token = data?.access_token;
    const expiresIn = Number(data?.expires_in ?? 3600);
    if (typeof token !== "string" || !token || !Number.isFinite(expiresIn)) {
      throw new AnswerError(
        unreachable("Google's OAuth token endpoint gave no access token"),
      );
    }
    this.#token = { value: token, expiresAt: Date.now() + expiresIn * 1000 };
    return token;
  }

  async #assertion(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", kid: this.account.privateKeyId || undefined };
    const claims = {
      iss: this.account.clientEmail,
      scope: SCOPE,
      aud: this.account.tokenUri,
      iat: now,
      exp: now + ASSERTION_LIFETIME_SECONDS,
    };
    const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = await crypto.subtle.sign(
      "RSASSA-PKCS1-v1_5",
      await this.#key(),
      new TextEncoder().encode(unsigned),
    );
    return `${unsigned}.${base64url(new Uint8Array(signature))}`;
  }

  #key(): Promise<CryptoKey> {
    this.#signingKey ??= importPrivateKey(this.account.privateKey).catch((error) => {
      this.#signingKey = undefined;
      throw error;
    });
    return this.#signingKey;
  }
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const base64 = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  try {
    const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return await crypto.subtle.importKey(
      "pkcs8",
      der,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
  } catch {
    throw new AnswerError(
      misconfigured("FCM_SERVICE_ACCOUNT's private_key is not a usable RSA key (PKCS#8 PEM)"),
    );
  }
}

function grantError(data: Record<string, unknown> | undefined): string {
  const code = typeof data?.error === "string" ? data.error : "refused";
  const description = typeof data?.error_description === "string" ? data.error_description : "";
  return errorText(description ? `${code}, ${description}` : code, 200);
}

export function base64url(input: string | Uint8Array): string {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
