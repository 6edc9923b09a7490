import { scrub } from "../log.ts";
import { assertEquals } from "./assert.ts";
import { edgeTest, FCM_PATH, SECRET_KEY, TOKEN } from "./helpers.ts";

Deno.test("it masks a secret, any long run of it, in any case", () => {
  const secret = "sb_secret_0123456789abcdefghij";

  assertEquals(scrub(`key ${secret} refused`, secret), "key …efghij refused");
  assertEquals(scrub(`key ${secret.slice(0, 20)}`, secret), "key …");
  assertEquals(scrub(`KEY ${secret.toUpperCase()}`, secret), "KEY …efghij");
  assertEquals(scrub("nothing secret here", secret), "nothing secret here");
});

edgeTest("it logs one line per request with the token masked and no key", async (ctx) => {
  const scenario = await ctx.scenario();
  ctx.fcm.script(FCM_PATH, {
    status: 404,
    body: {
      error: {
        status: "NOT_FOUND",
        message: `token ${TOKEN} is gone`,
        details: [{
          "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
          errorCode: "UNREGISTERED",
        }],
      },
    },
  });

  await ctx.send({ prompt_id: 41, scenario_id: scenario });
  await ctx.send({ prompt_id: 41, scenario_id: scenario }, { apikey: "sb_secret_wrong-key" });

  const text = ctx.logs.join("\n");
  for (const secret of [TOKEN, SECRET_KEY, "sb_secret_wrong-key", "loopback-access-1"]) {
    assertEquals(text.includes(secret), false, `${secret} in the logs`);
  }
  const [sent, refused] = ctx.logs.map((line) => JSON.parse(line));
  assertEquals(sent.status, 410);
  assertEquals(sent.device, "…123456");
  assertEquals(sent.prompt_id, 41);
  assertEquals(refused.status, 401);
});
