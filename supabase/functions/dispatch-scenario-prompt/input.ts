// The request the scheduler sends: {"prompt_id", "peer_mentor_id", "scenario_id",
// "device_token"} and, for a real prompt, Idempotency-Key: prompt-<prompt_id>.

import { AnswerError, badRequest } from "./answers.ts";

// The payload is four small fields; anything much larger is not from the scheduler.
const MAX_BODY_BYTES = 16 * 1024;
const MAX_TOKEN_LENGTH = 2048;
// FCM and APNs tokens are printable ASCII without spaces.
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

export interface Input {
  promptId: number | null;
  peerMentorId: number;
  scenarioId: number;
  deviceToken: string;
  idempotencyKey: string | null;
}

export async function readInput(request: Request, deadline: number): Promise<Input> {
  const text = await readBody(request, deadline);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AnswerError(badRequest("the body is not JSON"));
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new AnswerError(badRequest("the body is not a JSON object"));
  }
  const fields = data as Record<string, unknown>;
  const input: Input = {
    promptId: promptId(fields),
    peerMentorId: id(fields, "peer_mentor_id", 1),
    scenarioId: id(fields, "scenario_id", 0),
    deviceToken: deviceToken(fields.device_token),
    idempotencyKey: request.headers.get("Idempotency-Key"),
  };
  checkIdempotencyKey(input);
  return input;
}

async function readBody(request: Request, deadline: number): Promise<string> {
  const declared = Number(request.headers.get("Content-Length") ?? 0);
  if (declared > MAX_BODY_BYTES) throw new AnswerError(badRequest("the body is too large", 413));
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A caller that trickles its body is cut off at the deadline.
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AnswerError(badRequest("the body did not arrive in time", 408))),
      Math.max(1, deadline - Date.now()),
    );
  });
  try {
    while (true) {
      const { done, value } = await Promise.race([reader.read(), late]);
      if (done) break;
      size += value.length;
      if (size > MAX_BODY_BYTES) throw new AnswerError(badRequest("the body is too large", 413));
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") +
    decoder.decode();
}

function promptId(fields: Record<string, unknown>): number | null {
  if (fields.prompt_id === null) return null;
  if (!("prompt_id" in fields)) {
    throw new AnswerError(badRequest("prompt_id is missing (null for a test prompt)"));
  }
  return id(fields, "prompt_id", 1);
}

function id(fields: Record<string, unknown>, name: string, smallest: number): number {
  const value = fields[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < smallest) {
    const what = smallest === 0 ? "a whole number of at least 0" : "a positive whole number";
    throw new AnswerError(badRequest(`${name} must be ${what}`));
  }
  return value;
}

function deviceToken(value: unknown): string {
  if (typeof value !== "string" || !value) {
    throw new AnswerError(badRequest("device_token must be a non-empty string"));
  }
  if (value.length > MAX_TOKEN_LENGTH) {
    throw new AnswerError(badRequest(`device_token is over ${MAX_TOKEN_LENGTH} characters`));
  }
  if (!TOKEN_CHARACTERS.test(value)) {
    throw new AnswerError(badRequest("device_token must be printable ASCII without spaces"));
  }
  return value;
}

function checkIdempotencyKey(input: Input): void {
  if (input.promptId === null && input.idempotencyKey !== null) {
    throw new AnswerError(badRequest("Idempotency-Key is only for a prompt with a prompt_id"));
  }
  if (input.promptId !== null && input.idempotencyKey !== `prompt-${input.promptId}`) {
    throw new AnswerError(
      badRequest(`a prompt needs the header Idempotency-Key: prompt-${input.promptId}`),
    );
  }
}
