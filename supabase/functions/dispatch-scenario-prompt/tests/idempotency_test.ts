import { assertEquals } from "./assert.ts";
import { edgeTest, FCM_PATH, TOKEN } from "./helpers.ts";

async function sha256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

edgeTest(
  "it answers a delivered key again with the same result and no second send",
  async (ctx) => {
    const scenario = await ctx.scenario();
    const first = await ctx.send({ prompt_id: 41, scenario_id: scenario });

    const again = await ctx.send({ prompt_id: 41, scenario_id: scenario });

    assertEquals(again.status, 200);
    assertEquals(again.json, first.json);
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 1);
  },
);

edgeTest("it records the key with the token's hash only, before FCM is asked", async (ctx) => {
  const scenario = await ctx.scenario();
  ctx.fcm.always(FCM_PATH, () => ({ delayMs: 100, body: { name: "projects/p/messages/9" } }));
  const sending = ctx.send({ prompt_id: 41, scenario_id: scenario });
  while (!ctx.fcm.requestsTo(FCM_PATH).length) await new Promise((r) => setTimeout(r, 5));
  const seenDuringSend = [...await ctx.sql`select status from dispatch_idempotency`];
  await sending;

  assertEquals(seenDuringSend, [{ status: "in_flight" }]);
  const rows = await ctx.sql`
    select idempotency_key, device_token_sha256, status, message_name from dispatch_idempotency`;
  assertEquals([...rows], [{
    idempotency_key: "prompt-41",
    device_token_sha256: await sha256(TOKEN),
    status: "delivered",
    message_name: "projects/p/messages/9",
  }]);
});

edgeTest("it answers 409 while the same key is in flight", async (ctx) => {
  const scenario = await ctx.scenario();
  ctx.fcm.script(FCM_PATH, { delayMs: 300, body: { name: "projects/p/messages/1" } });
  const first = ctx.send({ prompt_id: 41, scenario_id: scenario });
  while (!ctx.fcm.requestsTo(FCM_PATH).length) await new Promise((r) => setTimeout(r, 5));

  const second = await ctx.send({ prompt_id: 41, scenario_id: scenario });

  assertEquals(second.status, 409);
  assertEquals((await first).status, 200);
  assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 1);
});

edgeTest("it takes over a key left in flight for more than 5 minutes", async (ctx) => {
  const scenario = await ctx.scenario();
  const hash = await sha256(TOKEN);
  await ctx.sql`
    insert into dispatch_idempotency
      (idempotency_key, device_token_sha256, status, attempt, started_at)
    values ('prompt-41', ${hash}, 'in_flight', gen_random_uuid(), now() - interval '6 minutes'),
           ('prompt-42', ${hash}, 'in_flight', gen_random_uuid(), now() - interval '4 minutes')`;

  const stale = await ctx.send({ prompt_id: 41, scenario_id: scenario });
  const recent = await ctx.send({ prompt_id: 42, scenario_id: scenario });

  assertEquals([stale.status, recent.status], [200, 409]);
  assertEquals(ctx.fcmMessages().map((m) => (m.data as { prompt_id: string }).prompt_id), ["41"]);
});

for (
  const [what, reply] of Object.entries({
    "FCM was unavailable": { status: 503, body: { error: { status: "UNAVAILABLE" } } },
    "the token was dead (410)": {
      status: 404,
      body: {
        error: {
          status: "NOT_FOUND",
          details: [{
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            errorCode: "UNREGISTERED",
          }],
        },
      },
    },
    "FCM refused the payload (422)": {
      status: 400,
      body: { error: { status: "INVALID_ARGUMENT", message: "Invalid JSON payload" } },
    },
  })
) {
  edgeTest(`it sends a key again after its last try failed: ${what}`, async (ctx) => {
    const scenario = await ctx.scenario();
    ctx.fcm.script(FCM_PATH, reply);

    const first = await ctx.send({ prompt_id: 41, scenario_id: scenario });
    const second = await ctx.send({ prompt_id: 41, scenario_id: scenario });

    assertEquals(first.status === 200, false);
    assertEquals(second.status, 200);
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 2);
    const [row] = await ctx.sql`select status, tries from dispatch_idempotency`;
    assertEquals({ ...row }, { status: "delivered", tries: 2 });
  });
}

edgeTest("it sends one key to each of a mentor's devices", async (ctx) => {
  const scenario = await ctx.scenario();

  for (const token of ["phone-token-111111", "tablet-token-222222", "phone-token-111111"]) {
    await ctx.send({ prompt_id: 41, scenario_id: scenario, device_token: token });
  }

  assertEquals(ctx.fcmMessages().map((m) => m.token), [
    "phone-token-111111",
    "tablet-token-222222",
  ]);
});

edgeTest("it deletes entries older than 30 days", async (ctx) => {
  const scenario = await ctx.scenario();
  await ctx.sql`
    insert into dispatch_idempotency
      (idempotency_key, device_token_sha256, status, attempt, created_at)
    values ('prompt-1', ${await sha256(
    "a",
  )}, 'delivered', gen_random_uuid(), now() - interval '31 days'),
           ('prompt-2', ${await sha256(
    "b",
  )}, 'delivered', gen_random_uuid(), now() - interval '29 days')`;

  await ctx.send({ prompt_id: 41, scenario_id: scenario });

  const keys = await ctx.sql`select idempotency_key from dispatch_idempotency order by 1`;
  assertEquals(keys.map((r) => r.idempotency_key), ["prompt-2", "prompt-41"]);
});
