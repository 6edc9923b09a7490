import { assertEquals, assertMatch } from "./assert.ts";
import { edgeTest, FCM_PATH, serviceAccount } from "./helpers.ts";
import { closedPortUrl } from "./loopback.ts";

const MISSING: Record<string, Record<string, string | null>> = {
  "no FCM_SERVICE_ACCOUNT": { FCM_SERVICE_ACCOUNT: null },
  "an FCM_SERVICE_ACCOUNT that is not JSON": { FCM_SERVICE_ACCOUNT: "{not json" },
  "a google-services.json instead of a key": {
    FCM_SERVICE_ACCOUNT: JSON.stringify({ project_info: { project_id: "p" } }),
  },
  "no SUPABASE_DB_URL": { SUPABASE_DB_URL: null },
  "an FCM_API_URL in clear text off this machine": { FCM_API_URL: "http://fcm.example.org" },
};

for (const [what, env] of Object.entries(MISSING)) {
  edgeTest(`it answers 500 misconfigured for ${what}`, async (ctx) => {
    const answer = await ctx.send({ scenario_id: await ctx.scenario() });

    assertEquals(answer.status, 500);
    assertEquals(answer.json.error, "misconfigured");
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
  }, { env });
}

edgeTest("it answers 500 misconfigured for a private key that is not one", async (ctx) => {
  const account = await serviceAccount(`${ctx.google.url}/token`);
  ctx.env.set("FCM_SERVICE_ACCOUNT", JSON.stringify({ ...account, private_key: "garbage" }));
  await ctx.rebuild();

  const answer = await ctx.send({ scenario_id: await ctx.scenario() });

  assertEquals(answer.status, 500);
  assertMatch(answer.json.detail, /private_key/);
});

edgeTest("it answers 502 when its database cannot be reached", async (ctx) => {
  ctx.env.set("SUPABASE_DB_URL", `${closedPortUrl().replace("http", "postgres")}/postgres`);
  await ctx.rebuild();

  const answer = await ctx.send({ scenario_id: 1 });

  assertEquals(answer.status, 502);
  assertMatch(answer.json.error, /database could not be reached/);
  assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
});

edgeTest("it answers 500 misconfigured when its table was never created", async (ctx) => {
  const scenario = await ctx.scenario();
  await ctx.sql`alter table dispatch_idempotency rename to dispatch_idempotency_away`;
  try {
    const answer = await ctx.send({ scenario_id: scenario });

    assertEquals(answer.status, 500);
    assertMatch(answer.json.detail, /supabase db push/);
  } finally {
    await ctx.sql`alter table dispatch_idempotency_away rename to dispatch_idempotency`;
  }
});
