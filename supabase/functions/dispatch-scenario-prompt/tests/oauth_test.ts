import { assertEquals, assertMatch } from "./assert.ts";
import { edgeTest, FCM_PATH } from "./helpers.ts";
import { Loopback } from "./loopback.ts";

for (const grantError of ["invalid_grant", "invalid_client", "unauthorized_client"]) {
  edgeTest(
    `it answers 500 misconfigured when Google refuses the account (${grantError})`,
    async (ctx) => {
      ctx.google.script("/token", {
        status: 400,
        body: { error: grantError, error_description: "Invalid JWT Signature." },
      });

      const answer = await ctx.send({ scenario_id: await ctx.scenario() });

      assertEquals(answer.status, 500);
      assertEquals(answer.json.error, "misconfigured");
      assertMatch(answer.json.detail, new RegExp(grantError));
      assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
    },
  );
}

for (const status of [429, 500, 503]) {
  edgeTest(`it answers 502 when Google's token endpoint answers ${status}`, async (ctx) => {
    ctx.google.script("/token", { status, body: "busy" });

    const answer = await ctx.send({ scenario_id: await ctx.scenario() });

    assertEquals(answer.status, 502);
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
  });
}

edgeTest("it answers 502 when Google's token endpoint cannot be reached", async (ctx) => {
  const gone = new Loopback();
  const account = JSON.parse(ctx.env.get("FCM_SERVICE_ACCOUNT")!);
  account.token_uri = `${gone.url}/token`;
  await gone.close();
  ctx.env.set("FCM_SERVICE_ACCOUNT", JSON.stringify(account));
  await ctx.rebuild();

  const answer = await ctx.send({ scenario_id: await ctx.scenario() });

  assertEquals(answer.status, 502);
  assertMatch(answer.json.error, /token endpoint could not be reached/);
});

edgeTest("it never follows a redirect from the token endpoint", async (ctx) => {
  const elsewhere = new Loopback();
  try {
    ctx.google.script("/token", { status: 302, headers: { Location: `${elsewhere.url}/token` } });

    const answer = await ctx.send({ scenario_id: await ctx.scenario() });

    assertEquals(answer.status, 500);
    assertMatch(answer.json.detail, /token_uri/);
    assertEquals(elsewhere.requests.length, 0);
  } finally {
    await elsewhere.close();
  }
});

edgeTest("it tries the token endpoint again on the next request after a failure", async (ctx) => {
  ctx.google.script("/token", { status: 503, body: "busy" });
  const scenario = await ctx.scenario();

  const first = await ctx.send({ prompt_id: 1, scenario_id: scenario });
  const second = await ctx.send({ prompt_id: 1, scenario_id: scenario });

  assertEquals([first.status, second.status], [502, 200]);
});
