import { assert, assertEquals } from "./assert.ts";
import { edgeTest, PROJECT, serviceAccountKeys, TOKEN } from "./helpers.ts";

edgeTest(
  "it sends the scenario's text and ids as the scheduler's FCM backend does",
  async (ctx) => {
    const scenario = await ctx.scenario("Time to check in", "Three days since the first contact.");

    const answer = await ctx.send({ prompt_id: 41, scenario_id: scenario, peer_mentor_id: 7 });

    assertEquals(answer.status, 200);
    assertEquals(answer.json, { message: `projects/${PROJECT}/messages/1` });
    const [request] = ctx.fcm.requestsTo(`/v1/projects/${PROJECT}/messages:send`);
    assertEquals(request.json, {
      message: {
        token: TOKEN,
        notification: { title: "Time to check in", body: "Three days since the first contact." },
        data: { scenario_id: String(scenario), prompt_id: "41" },
        android: { collapse_key: "prompt-41", notification: { tag: "prompt-41" } },
        apns: { headers: { "apns-collapse-id": "prompt-41" } },
      },
    });
    assertEquals(request.headers.get("Authorization"), "Bearer loopback-access-1");
  },
);

edgeTest("it signs the OAuth assertion with the service account's key (RS256)", async (ctx) => {
  await ctx.send({ scenario_id: await ctx.scenario() });

  const [exchange] = ctx.google.requestsTo("/token");
  const form = new URLSearchParams(exchange.body);
  assertEquals(form.get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
  const [header, claims, signature] = form.get("assertion")!.split(".");
  const decode = (part: string) =>
    Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const valid = await crypto.subtle.verify(
    "RSASSA-PKCS1-v1_5",
    (await serviceAccountKeys()).publicKey,
    decode(signature),
    new TextEncoder().encode(`${header}.${claims}`),
  );
  assert(valid, "the assertion's signature does not verify with the public key");
  assertEquals(JSON.parse(new TextDecoder().decode(decode(header))), {
    alg: "RS256",
    typ: "JWT",
    kid: "loopback-key-1",
  });
  const payload = JSON.parse(new TextDecoder().decode(decode(claims)));
  assertEquals(payload.iss, `push-sender@${PROJECT}.iam.gserviceaccount.com`);
  assertEquals(payload.aud, `${ctx.google.url}/token`);
  assertEquals(payload.scope, "https://www.googleapis.com/auth/firebase.messaging");
  assertEquals(payload.exp - payload.iat, 3600);
});

edgeTest("it reuses one access token for the sends of an isolate", async (ctx) => {
  const scenario = await ctx.scenario();
  for (const id of [1, 2, 3]) await ctx.send({ prompt_id: id, scenario_id: scenario });

  assertEquals(ctx.google.tokenRequests, 1);
  const bearers = ctx.fcm.requestsTo(`/v1/projects/${PROJECT}/messages:send`)
    .map((r) => r.headers.get("Authorization"));
  assertEquals(bearers, Array(3).fill("Bearer loopback-access-1"));
});

edgeTest("it shares one token exchange between requests that arrive together", async (ctx) => {
  ctx.google.script("/token", {
    delayMs: 200,
    body: { access_token: "slow-access-token", expires_in: 3600 },
  });
  const scenario = await ctx.scenario();

  const answers = await Promise.all(
    [1, 2, 3, 4].map((id) => ctx.send({ prompt_id: id, scenario_id: scenario })),
  );

  assertEquals(answers.map((a) => a.status), [200, 200, 200, 200]);
  assertEquals(ctx.google.requestsTo("/token").length, 1);
});

edgeTest("it renews an access token shortly before it expires", async (ctx) => {
  ctx.google.serveOAuthTokens("/token", 120); // inside the renewal margin from the start
  const scenario = await ctx.scenario();

  await ctx.send({ prompt_id: 1, scenario_id: scenario });
  await ctx.send({ prompt_id: 2, scenario_id: scenario });

  assertEquals(ctx.google.tokenRequests, 2);
});

edgeTest("it keeps a scenario's text for a minute, then reads it again", async (ctx) => {
  const scenario = await ctx.scenario("First title", "First body");
  await ctx.send({ prompt_id: 1, scenario_id: scenario });
  await ctx.sql`update scheduler_scenario set title = 'Second title' where id = ${scenario}`;

  await ctx.send({ prompt_id: 2, scenario_id: scenario });
  const now = Date.now;
  Date.now = () => now() + 61_000;
  try {
    await ctx.send({ prompt_id: 3, scenario_id: scenario });
  } finally {
    Date.now = now;
  }

  const titles = ctx.fcmMessages().map((m) => (m.notification as { title: string }).title);
  assertEquals(titles, ["First title", "First title", "Second title"]);
});

edgeTest("it never keeps a disabled scenario: enabled a moment later, it is sent", async (ctx) => {
  const scenario = await ctx.scenario("Title", "Body", false);
  assertEquals((await ctx.send({ prompt_id: 1, scenario_id: scenario })).status, 422);
  await ctx.sql`update scheduler_scenario set is_enabled = true where id = ${scenario}`;

  assertEquals((await ctx.send({ prompt_id: 1, scenario_id: scenario })).status, 200);
  assertEquals(ctx.fcmMessages().length, 1);
});

edgeTest(
  "it sends a test prompt every time, with the fixed test text, recording nothing",
  async (ctx) => {
    for (let i = 0; i < 2; i++) {
      const answer = await ctx.send({ prompt_id: null, scenario_id: 0 });
      assertEquals(answer.status, 200);
    }

    const messages = ctx.fcmMessages();
    assertEquals(messages.length, 2);
    assertEquals(messages[0].notification, {
      title: "Testvarsel",
      body: "Dette er en test av oppfølgingspåminnelser. Du trenger ikke gjøre noe.",
    });
    assertEquals(messages[0].data, { scenario_id: "0", prompt_id: "test" });
    assertEquals(messages[0].android, {
      collapse_key: "prompt-test",
      notification: { tag: "prompt-test" },
    });
    const [{ count }] = await ctx.sql`select count(*)::int as count from dispatch_idempotency`;
    assertEquals(count, 0);
  },
);

edgeTest("it sends a test prompt with a scenario's text when given one", async (ctx) => {
  const scenario = await ctx.scenario("Scenario title", "Scenario body");

  const answer = await ctx.send({ prompt_id: null, scenario_id: scenario });

  assertEquals(answer.status, 200);
  assertEquals(ctx.fcmMessages()[0].notification, {
    title: "Scenario title",
    body: "Scenario body",
  });
});
