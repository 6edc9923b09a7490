// The answers the scheduler reads: the status says what happened, the body why (docs/design.md).

export interface Answer {
  status: number;
  body: Record<string, string>;
  retryAfter?: number; // seconds, sent as Retry-After
}

/** Thrown by any step that has its answer ready; the handler sends it. */
export class AnswerError extends Error {
  constructor(readonly answer: Answer) {
    super(answer.body.error);
  }
}

// FCM asks senders to wait at least a minute after a quota error.
export const QUOTA_MIN_WAIT_SECONDS = 60;
// Without a Retry-After from FCM: about the scheduler's first backoff step.
export const UNAVAILABLE_WAIT_SECONDS = 60;

export const delivered = (name: string): Answer => ({ status: 200, body: { message: name } });

export const badRequest = (error: string, status = 400): Answer => ({ status, body: { error } });

export const refused = (error: string): Answer => ({ status: 422, body: { error } });

export const unauthorized = (): Answer => ({
  status: 401,
  body: { error: "the apikey header is not one of this project's secret keys" },
});

export const inFlight = (): Answer => ({
  status: 409,
  body: { error: "in flight: this Idempotency-Key is being sent right now" },
});

export const unregistered = (fcmError: string, detail: string): Answer => ({
  status: 410,
  body: { error: "unregistered", fcm_error: fcmError, detail },
});

export const throttled = (retryAfter: number, detail: string): Answer => ({
  status: 429,
  body: { error: `FCM: sending quota exceeded (${detail})` },
  retryAfter: Math.max(retryAfter, QUOTA_MIN_WAIT_SECONDS),
});

export const unavailable = (retryAfter: number | undefined, detail: string): Answer => ({
  status: 503,
  body: { error: `FCM is unavailable (${detail})` },
  retryAfter: retryAfter ?? UNAVAILABLE_WAIT_SECONDS,
});

export const unreachable = (error: string): Answer => ({ status: 502, body: { error } });

export const misconfigured = (detail: string): Answer => ({
  status: 500,
  body: { error: "misconfigured", detail },
});

export const internalError = (): Answer => ({ status: 500, body: { error: "internal error" } });

export function toResponse(answer: Answer, extraHeaders: Record<string, string> = {}): Response {
  const headers = new Headers({
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    ...extraHeaders,
  });
  if (answer.retryAfter !== undefined) {
    headers.set("Retry-After", String(Math.ceil(answer.retryAfter)));
  }
  return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
}
