import { assertEquals } from "./assert.ts";
import { type Call, edgeTest, FCM_PATH, SECRET_KEY } from "./helpers.ts";

const BAD_FIELDS: Record<string, Call> = {
  "a string id": { peer_mentor_id: "7" },
  "a fractional id": { scenario_id: 1.5 },
  "a negative id": { peer_mentor_id: -1 },
  "a missing scenario": { scenario_id: undefined },
  "a missing device token": { device_token: undefined },
  "a device token that is a number": { device_token: 12345678 },
  "an empty device token": { device_token: "" },
  "a device token over 2,048 characters": { device_token: "x".repeat(2049) },
  "a device token with a space": { device_token: "device token" },
  "a device token with a line break": { device_token: "device-token\nX-Injected: 1" },
};

for (const [what, fields] of Object.entries(BAD_FIELDS)) {
  edgeTest(`it answers 400 to ${what} and sends nothing`, async (ctx) => {
    const scenario = await ctx.scenario();

    const answer = await ctx.send({ scenario_id: scenario, ...fields });

    assertEquals(answer.status, 400);
    assertEquals(typeof answer.json.error, "string");
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
  });
}

edgeTest("it accepts a device token of exactly 2,048 characters", async (ctx) => {
  const answer = await ctx.send({
    scenario_id: await ctx.scenario(),
    device_token: "x".repeat(2048),
  });

  assertEquals(answer.status, 200);
});

edgeTest("it answers 400 to a body that is not JSON, or not an object", async (ctx) => {
  for (const body of ["not json", "[1, 2]", '"text"', "null", ""]) {
    const answer = await ctx.post(body, { apikey: SECRET_KEY });
    assertEquals(answer.status, 400, body);
  }
  assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
});

edgeTest("it answers 400 without prompt_id (a test prompt sends null)", async (ctx) => {
  const body = {
    peer_mentor_id: 7,
    scenario_id: await ctx.scenario(),
    device_token: "t".repeat(10),
  };

  const answer = await ctx.post(JSON.stringify(body), { apikey: SECRET_KEY });

  assertEquals(answer.status, 400);
  assertEquals(answer.json.error, "prompt_id is missing (null for a test prompt)");
});

edgeTest("it answers 413 to a body too large to be a prompt", async (ctx) => {
  const answer = await ctx.send({ device_token: "x".repeat(20_000) });

  assertEquals(answer.status, 413);
});

edgeTest("it answers 405 to anything but POST", async (ctx) => {
  const response = await ctx.handler.fetch(
    new Request("http://function.local/", { headers: { apikey: SECRET_KEY } }),
  );

  assertEquals(response.status, 405);
  assertEquals(response.headers.get("Allow"), "POST");
  await response.body?.cancel();
});

edgeTest("it cuts off a body that trickles in past its deadline", async (ctx) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"prompt_id": '));
      timer = setTimeout(() => controller.close(), 3000);
    },
  });
  const started = Date.now();

  const answer = await ctx.post(body, { apikey: SECRET_KEY });

  clearTimeout(timer);
  assertEquals(answer.status, 408);
  assertEquals(Date.now() - started < 2000, true, "the read was not cut at the deadline");
}, { budgetMs: 300 });

const IDEMPOTENCY_MISMATCHES: Record<string, [Call, Record<string, string | null>]> = {
  "a key naming another prompt": [{ prompt_id: 41 }, { "Idempotency-Key": "prompt-42" }],
  "a prompt without a key": [{ prompt_id: 41 }, { "Idempotency-Key": null }],
  "a key on a test prompt": [{ prompt_id: null }, { "Idempotency-Key": "prompt-41" }],
};

for (const [what, [fields, headers]] of Object.entries(IDEMPOTENCY_MISMATCHES)) {
  edgeTest(`it answers 400 to ${what}`, async (ctx) => {
    const answer = await ctx.send({ scenario_id: await ctx.scenario(), ...fields }, headers);

    assertEquals(answer.status, 400);
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
  });
}

edgeTest("it answers 422 to an unknown or a disabled scenario and sends nothing", async (ctx) => {
  const disabled = await ctx.scenario("Off", "Off", false);

  for (const scenario of [disabled, disabled + 1000]) {
    const answer = await ctx.send({ scenario_id: scenario });
    assertEquals(answer.status, 422);
    assertEquals(answer.json.error, `scenario ${scenario} is unknown or disabled`);
  }
  assertEquals((await ctx.send({ prompt_id: 5, scenario_id: 0 })).status, 422);
  assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
});
