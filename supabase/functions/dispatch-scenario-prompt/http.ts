// Outgoing requests: no redirect followed, a bounded body, a deadline for the whole answer.

// An error page can be megabytes; what a person needs is in its first few hundred bytes.
const MAX_BODY_BYTES = 64 * 1024;
const ERROR_TEXT_LENGTH = 300;

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  redirected: boolean; // a 3xx answer, never followed
}

/** No complete answer: the connection failed, or the deadline passed first. */
export class Unreachable extends Error {}

/** POST and read the answer, all of it before `deadline` (epoch ms) or not at all. */
export async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  deadline: number,
): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  try {
    // A redirect would carry the bearer token or the signed assertion elsewhere.
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal,
    });
    const status = response.status;
    const redirected = response.type === "opaqueredirect" || (status >= 300 && status < 400);
    return { status, headers: response.headers, body: await readAtMost(response), redirected };
  } catch (error) {
    const timedOut = error instanceof DOMException &&
      (error.name === "TimeoutError" || error.name === "AbortError");
    throw new Unreachable(timedOut ? "timed out" : `connection failed (${errorName(error)})`);
  }
}

async function readAtMost(response: Response): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body.slice(0, MAX_BODY_BYTES);
}

export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

/** A short, readable line from an error body. */
export function errorText(text: string, limit = ERROR_TEXT_LENGTH): string {
  const line = text.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
  return line.length <= limit ? line : `${line.slice(0, limit - 1)}…`;
}

/** Retry-After as seconds (delta-seconds or an HTTP date); undefined if absent or garbled. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  const seconds = /^\d+(\.\d+)?$/.test(trimmed)
    ? Number(trimmed)
    : (Date.parse(trimmed) - now) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : undefined;
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** A base URL a token may travel to: https, or plain http to this machine only. */
export function safeBaseUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return undefined;
  }
  const loopback = ["localhost", "[::1]"].includes(url.hostname) ||
    /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol === "https:" || (url.protocol === "http:" && loopback)) {
    return url.href.replace(/\/+$/, "");
  }
  return undefined;
}
