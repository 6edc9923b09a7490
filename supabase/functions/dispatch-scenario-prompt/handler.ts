// One request: check the caller, read the input, take the Idempotency-Key, send, record.

import {
  type Answer,
  AnswerError,
  badRequest,
  delivered,
  inFlight,
  internalError,
  refused,
  toResponse,
  unauthorized,
} from "./answers.ts";
import { CallerCheck, callerKeys } from "./auth.ts";
import { buildServices, type Env, type Services } from "./config.ts";
import { type Input, readInput } from "./input.ts";
import { logLine, masked, scrub } from "./log.ts";
import { type ScenarioText, TEST_SCENARIO_ID, TEST_TEXT } from "./scenarios.ts";

// Everything a request does (database, token exchange, FCM) fits in this, well inside the
// scheduler's read timeout (10 s by default), so its answer is never lost to a timeout there.
export const REQUEST_BUDGET_MS = 8000;

export interface HandlerOptions {
  budgetMs?: number;
}

export interface Handler {
  fetch(request: Request): Promise<Response>;
  /** Close the database connections (tests; the platform simply ends the isolate). */
  close(): Promise<void>;
}

export function createHandler(env: Env, options: HandlerOptions = {}): Handler {
  const callers = new CallerCheck(callerKeys(env));
  const budgetMs = options.budgetMs ?? REQUEST_BUDGET_MS;
  let services: Services | undefined;
  const servicesOnce = () => (services ??= buildServices(env));

  async function fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") {
      return toResponse(badRequest("only POST", 405), { Allow: "POST" });
    }
    if (!(await callers.allows(request.headers.get("apikey")))) {
      logLine({ status: 401, error: "apikey refused" });
      return toResponse(unauthorized());
    }
    const deadline = Date.now() + budgetMs;
    let input: Input | undefined;
    let answer: Answer;
    try {
      input = await readInput(request, deadline);
      answer = await dispatch(servicesOnce(), input, deadline);
    } catch (error) {
      answer = error instanceof AnswerError ? error.answer : unexpected(error);
    }
    log(answer, input);
    return toResponse(answer);
  }

  return { fetch, close: async () => await services?.close() };
}

async function dispatch(services: Services, input: Input, deadline: number): Promise<Answer> {
  // A test prompt (no prompt_id) is meant to arrive every time: nothing is recorded.
  if (input.idempotencyKey === null) return await deliver(services, input, deadline);
  const { ledger } = services;
  const deviceHash = await sha256Hex(input.deviceToken);
  const claim = await ledger.claim(input.idempotencyKey, deviceHash, deadline);
  if (claim.kind === "delivered") return delivered(claim.message);
  if (claim.kind === "in_flight") return inFlight();
  let answer: Answer = internalError();
  try {
    answer = await deliver(services, input, deadline);
  } catch (error) {
    answer = error instanceof AnswerError ? error.answer : unexpected(error);
  }
  const outcome = { delivered: answer.status === 200, message: answer.body.message };
  try {
    await ledger.finish(input.idempotencyKey, deviceHash, claim.attempt, outcome, deadline);
    await ledger.forgetOld(deadline);
  } catch (error) {
    // The answer stands: a delivered prompt was delivered even if its record was not written.
    logLine({ warning: "could not record the outcome", detail: describe(error) });
  }
  return answer;
}

async function deliver(services: Services, input: Input, deadline: number): Promise<Answer> {
  const text = await scenarioText(services, input, deadline);
  if (text === null) {
    return refused(`scenario ${input.scenarioId} is unknown or disabled`);
  }
  return await services.sender.send({
    deviceToken: input.deviceToken,
    title: text.title,
    body: text.body,
    scenarioId: input.scenarioId,
    promptId: input.promptId,
  }, deadline);
}

function scenarioText(
  services: Services,
  input: Input,
  deadline: number,
): Promise<ScenarioText | null> | ScenarioText {
  if (input.promptId === null && input.scenarioId === TEST_SCENARIO_ID) return TEST_TEXT;
  return services.scenarios.get(input.scenarioId, deadline);
}

function unexpected(error: unknown): Answer {
  logLine({ error: "unexpected failure", detail: describe(error) });
  return internalError();
}

function describe(error: unknown): string {
  if (error instanceof AnswerError) return error.answer.body.error;
  return error instanceof Error ? error.name : typeof error;
}

function log(answer: Answer, input: Input | undefined): void {
  const secrets = input ? [input.deviceToken] : [];
  logLine({
    status: answer.status,
    error: answer.body.error ? scrub(answer.body.error, ...secrets) : undefined,
    detail: answer.body.detail ? scrub(answer.body.detail, ...secrets) : undefined,
    prompt_id: input?.promptId,
    scenario_id: input?.scenarioId,
    peer_mentor_id: input?.peerMentorId,
    device: input ? masked(input.deviceToken) : undefined,
  });
}

async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
