// Each answer in docs/design.md's table ("The Edge Function", Answers), provoked for real.
// The scheduler's tests play the same table to its Supabase backend.

import { assert, assertEquals } from "./assert.ts";
import { type Answer, type Context, edgeTest, FCM_PATH, SECRET_KEY } from "./helpers.ts";

interface Row {
  status: number;
  body: Record<string, string>;
  retryAfter: number | null; // the least Retry-After the table promises, null for none
}

async function documentedAnswers(): Promise<Row[]> {
  const design = await Deno.readTextFile(new URL("../../../../docs/design.md", import.meta.url));
  const lines = design.split("\n");
  const header = lines.findIndex((line) => line.startsWith("| Status | Body | Retry-After |"));
  assert(header >= 0, "docs/design.md has no answers table");
  const rows: Row[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    const [status, body, retryAfter] = line.split("|").slice(1).map((cell) => cell.trim());
    rows.push({
      status: Number(status.replaceAll("`", "")),
      body: JSON.parse(body.replaceAll("`", "")),
      retryAfter: /\d+/.test(retryAfter) ? Number(retryAfter.match(/\d+/)![0]) : null,
    });
  }
  return rows;
}

const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const fcmFails = (ctx: Context, status: number, code: string, headers = {}) =>
  ctx.fcm.script(FCM_PATH, {
    status,
    headers,
    body: { error: { status: code, details: [{ "@type": FCM_ERROR, errorCode: code }] } },
  });

// How to make the function give each answer.
const PROVOKE: Record<number, (ctx: Context, scenario: number) => Promise<Answer>> = {
  200: (ctx, scenario) => ctx.send({ scenario_id: scenario }),
  400: (ctx) => ctx.post("not json", { apikey: SECRET_KEY }),
  401: (ctx, scenario) => ctx.send({ scenario_id: scenario }, { apikey: "sb_secret_wrong" }),
  405: async (ctx) => {
    const response = await ctx.handler.fetch(
      new Request("http://function.local/", { headers: { apikey: SECRET_KEY } }),
    );
    return { status: response.status, headers: response.headers, json: await response.json() };
  },
  408: async (ctx) => {
    await ctx.rebuild(200);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new TextEncoder().encode("{")),
      cancel: () => {},
    });
    return await ctx.post(body, { apikey: SECRET_KEY });
  },
  409: async (ctx, scenario) => {
    ctx.fcm.script(FCM_PATH, { delayMs: 300, body: { name: "projects/p/messages/1" } });
    const first = ctx.send({ scenario_id: scenario });
    while (!ctx.fcm.requestsTo(FCM_PATH).length) await new Promise((r) => setTimeout(r, 5));
    const second = await ctx.send({ scenario_id: scenario });
    await first;
    return second;
  },
  410: (ctx, scenario) => {
    fcmFails(ctx, 404, "UNREGISTERED");
    return ctx.send({ scenario_id: scenario });
  },
  413: (ctx) => ctx.send({ device_token: "x".repeat(20_000) }),
  422: (ctx, scenario) => ctx.send({ scenario_id: scenario + 1000 }),
  429: (ctx, scenario) => {
    fcmFails(ctx, 429, "QUOTA_EXCEEDED", { "Retry-After": "5" });
    return ctx.send({ scenario_id: scenario });
  },
  500: (ctx, scenario) => {
    ctx.google.script("/token", { status: 400, body: { error: "invalid_grant" } });
    return ctx.send({ scenario_id: scenario });
  },
  502: (ctx, scenario) => {
    ctx.google.script("/token", { status: 503, body: "unavailable" });
    return ctx.send({ scenario_id: scenario });
  },
  503: (ctx, scenario) => {
    fcmFails(ctx, 503, "UNAVAILABLE");
    return ctx.send({ scenario_id: scenario });
  },
};

Deno.test("the design's answers table lists exactly the answers provoked here", async () => {
  const documented = (await documentedAnswers()).map((row) => row.status);

  assertEquals(documented, Object.keys(PROVOKE).map(Number));
});

for (const row of await documentedAnswers()) {
  edgeTest(`it answers ${row.status} as the design's table says`, async (ctx) => {
    const answer = await PROVOKE[row.status](ctx, await ctx.scenario());

    assertEquals(answer.status, row.status);
    assertEquals(Object.keys(answer.json).sort(), Object.keys(row.body).sort());
    for (const [key, value] of Object.entries(row.body)) {
      if (!value.includes("…")) assertEquals(answer.json[key], value, key);
    }
    const retryAfter = answer.headers.get("Retry-After");
    if (row.retryAfter === null) assertEquals(retryAfter, null);
    else assert(Number(retryAfter) >= row.retryAfter, `Retry-After ${retryAfter}`);
  });
}
