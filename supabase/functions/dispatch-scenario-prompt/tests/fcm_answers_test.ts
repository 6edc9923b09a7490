import { assert, assertEquals, assertMatch } from "./assert.ts";
import { edgeTest, FCM_PATH, TOKEN } from "./helpers.ts";
import { Loopback } from "./loopback.ts";

const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

function fcmError(status: number, code: string, message = "error", ...extra: unknown[]) {
  const statusName = { 400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED" }[
    status as 400 | 404 | 429
  ] ?? (status >= 500 ? "UNAVAILABLE" : "PERMISSION_DENIED");
  const details = code ? [{ "@type": FCM_ERROR, errorCode: code }, ...extra] : extra;
  return { error: { code: status, message, status: statusName, details } };
}

const DEAD_TOKENS: Record<string, [number, unknown, string]> = {
  "UNREGISTERED": [
    404,
    fcmError(404, "UNREGISTERED", "Requested entity was not found."),
    "UNREGISTERED",
  ],
  "SENDER_ID_MISMATCH": [
    403,
    fcmError(403, "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "SENDER_ID_MISMATCH",
  ],
  "an invalid registration token": [
    400,
    fcmError(
      400,
      "INVALID_ARGUMENT",
      "The registration token is not a valid FCM registration token",
    ),
    "INVALID_ARGUMENT",
  ],
  "a field violation on message.token": [
    400,
    fcmError(400, "", "Invalid value", {
      "@type": BAD_REQUEST,
      fieldViolations: [{ field: "message.token", description: "Invalid registration token" }],
    }),
    "INVALID_ARGUMENT",
  ],
};

for (const [what, [status, body, code]] of Object.entries(DEAD_TOKENS)) {
  edgeTest(`it answers 410 unregistered for ${what}`, async (ctx) => {
    ctx.fcm.script(FCM_PATH, { status, body });

    const answer = await ctx.send({ scenario_id: await ctx.scenario() });

    assertEquals(answer.status, 410);
    assertEquals(answer.json.error, "unregistered");
    assertEquals(answer.json.fcm_error, code);
    assertMatch(answer.json.detail, new RegExp(`^HTTP ${status} ${code}`));
  });
}

const REFUSED_PAYLOADS: Record<string, [number, unknown]> = {
  "an invalid payload": [400, fcmError(400, "INVALID_ARGUMENT", "Invalid JSON payload received")],
  "APNs credentials refused": [
    401,
    fcmError(401, "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS"),
  ],
  "a message too big": [400, { error: { code: 400, status: "FAILED_PRECONDITION" } }],
};

for (const [what, [status, body]] of Object.entries(REFUSED_PAYLOADS)) {
  edgeTest(`it answers 422 for ${what}`, async (ctx) => {
    ctx.fcm.script(FCM_PATH, { status, body });

    const answer = await ctx.send({ scenario_id: await ctx.scenario() });

    assertEquals(answer.status, 422);
    assertMatch(answer.json.error, /^FCM/);
  });
}

const THROTTLED: Record<string, [number, unknown, string | undefined, string]> = {
  "429 without Retry-After": [429, fcmError(429, "QUOTA_EXCEEDED"), undefined, "60"],
  "429 asking for 10 s": [429, fcmError(429, "QUOTA_EXCEEDED"), "10", "60"],
  "429 asking for 120 s": [429, fcmError(429, ""), "120", "120"],
};

for (const [what, [status, body, retryAfter, expected]] of Object.entries(THROTTLED)) {
  edgeTest(`it answers 429 with Retry-After of at least 60 s for ${what}`, async (ctx) => {
    ctx.fcm.script(FCM_PATH, {
      status,
      body,
      headers: retryAfter ? { "Retry-After": retryAfter } : {},
    });

    const answer = await ctx.send({ scenario_id: await ctx.scenario() });

    assertEquals(answer.status, 429);
    assertEquals(answer.headers.get("Retry-After"), expected);
  });
}

for (const [status, retryAfter, expected] of [[503, "30", "30"], [500, undefined, "60"]] as const) {
  edgeTest(
    `it answers 503 with Retry-After ${expected} when FCM answers ${status}`,
    async (ctx) => {
      ctx.fcm.script(FCM_PATH, {
        status,
        body: fcmError(status, "UNAVAILABLE"),
        headers: retryAfter ? { "Retry-After": retryAfter } : {},
      });

      const answer = await ctx.send({ scenario_id: await ctx.scenario() });

      assertEquals(answer.status, 503);
      assertEquals(answer.headers.get("Retry-After"), expected);
    },
  );
}

edgeTest("it answers 503 with Retry-After when FCM cannot be reached", async (ctx) => {
  const gone = new Loopback();
  const url = gone.url;
  await gone.close();
  ctx.env.set("FCM_API_URL", url);
  await ctx.rebuild();

  const answer = await ctx.send({ scenario_id: await ctx.scenario() });

  assertEquals(answer.status, 503);
  assert(answer.headers.get("Retry-After"));
});

edgeTest("it cuts off an FCM answer that trickles past the deadline", async (ctx) => {
  const scenario = await ctx.scenario();
  ctx.fcm.script(FCM_PATH, { body: { name: "projects/p/messages/1" }, trickleMs: 200 });
  const started = Date.now();

  const answer = await ctx.send({ scenario_id: scenario });

  assertEquals(answer.status, 503);
  assertMatch(answer.json.error, /timed out/);
  assert(Date.now() - started < 3000, "the answer was read past the deadline");
}, { budgetMs: 1000 });

for (
  const [status, body] of [[403, fcmError(403, "", "Permission denied")], [
    404,
    fcmError(404, ""),
  ]] as const
) {
  edgeTest(
    `it answers 500 misconfigured when FCM answers ${status} about the project`,
    async (ctx) => {
      ctx.fcm.script(FCM_PATH, { status, body });

      const answer = await ctx.send({ scenario_id: await ctx.scenario() });

      assertEquals(answer.status, 500);
      assertEquals(answer.json.error, "misconfigured");
    },
  );
}

edgeTest(
  "it never follows FCM's redirect: 500 misconfigured, nothing sent elsewhere",
  async (ctx) => {
    const elsewhere = new Loopback();
    try {
      ctx.fcm.script(FCM_PATH, { status: 307, headers: { Location: `${elsewhere.url}/moved` } });

      const answer = await ctx.send({ scenario_id: await ctx.scenario() });

      assertEquals(answer.status, 500);
      assertEquals(answer.json.error, "misconfigured");
      assertMatch(answer.json.detail, /FCM_API_URL/);
      assertEquals(elsewhere.requests.length, 0);
    } finally {
      await elsewhere.close();
    }
  },
);

edgeTest("it gets a new access token once when FCM refuses the one it had", async (ctx) => {
  ctx.fcm.script(FCM_PATH, {
    status: 401,
    body: fcmError(401, "", "Request had invalid credentials"),
  });

  const answer = await ctx.send({ scenario_id: await ctx.scenario() });

  assertEquals(answer.status, 200);
  const bearers = ctx.fcm.requestsTo(FCM_PATH).map((r) => r.headers.get("Authorization"));
  assertEquals(bearers, ["Bearer loopback-access-1", "Bearer loopback-access-2"]);
});

edgeTest("it masks a device token that FCM echoes in an error", async (ctx) => {
  ctx.fcm.script(FCM_PATH, {
    status: 400,
    body: fcmError(400, "INVALID_ARGUMENT", `Invalid payload for ${TOKEN}`),
  });

  const answer = await ctx.send({ scenario_id: await ctx.scenario() });

  assertEquals(answer.status, 422);
  assertEquals(JSON.stringify(answer.json).includes(TOKEN), false);
  assertMatch(answer.json.error, /…123456/);
});
