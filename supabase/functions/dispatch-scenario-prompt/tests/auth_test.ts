import { CallerCheck, callerKeys } from "../auth.ts";
import { assertEquals } from "./assert.ts";
import { edgeTest, FCM_PATH, LEGACY_KEY, OTHER_SECRET_KEY, SECRET_KEY } from "./helpers.ts";

const env = (values: Record<string, string>) => new Map(Object.entries(values));

Deno.test("it takes every secret key and the legacy key as caller keys", () => {
  const keys = callerKeys(env({
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_a", ci: " sb_secret_b\n" }),
    SUPABASE_SERVICE_ROLE_KEY: "legacy-jwt",
  }));

  assertEquals(keys, ["sb_secret_a", "sb_secret_b", "legacy-jwt"]);
});

Deno.test("it ignores SUPABASE_SECRET_KEYS that is not a JSON object", () => {
  const original = console.log;
  console.log = () => {};
  try {
    for (const value of ["sb_secret_plain", '["sb_secret_a"]', "null", "{broken"]) {
      assertEquals(callerKeys(env({ SUPABASE_SECRET_KEYS: value })), []);
    }
  } finally {
    console.log = original;
  }
});

Deno.test("it allows exactly the keys it was given", async () => {
  const check = new CallerCheck(["sb_secret_abcdef", "legacy-jwt"]);

  assertEquals(await check.allows("sb_secret_abcdef"), true);
  assertEquals(await check.allows("legacy-jwt"), true);
  for (const wrong of ["sb_secret_abcde", "sb_secret_abcdefg", "SB_SECRET_ABCDEF", "", null]) {
    assertEquals(await check.allows(wrong), false, String(wrong));
  }
});

Deno.test("it refuses everyone when no key is configured", async () => {
  const original = console.log;
  console.log = () => {};
  try {
    assertEquals(await new CallerCheck([]).allows(""), false);
    assertEquals(await new CallerCheck([]).allows("anything"), false);
  } finally {
    console.log = original;
  }
});

for (const key of [SECRET_KEY, OTHER_SECRET_KEY, LEGACY_KEY]) {
  edgeTest(`it accepts the apikey ${key.slice(0, 12)}…`, async (ctx) => {
    const answer = await ctx.send({ scenario_id: await ctx.scenario() }, { apikey: key });

    assertEquals(answer.status, 200);
  });
}

const REFUSED: Record<string, Record<string, string | null>> = {
  "a wrong key": { apikey: "sb_secret_wrong" },
  "no apikey": { apikey: null },
  "the right key as a Bearer token only": { apikey: null, Authorization: `Bearer ${SECRET_KEY}` },
  "a wrong key beside a right Bearer token": {
    apikey: "sb_secret_wrong",
    Authorization: `Bearer ${LEGACY_KEY}`,
  },
};

for (const [what, headers] of Object.entries(REFUSED)) {
  edgeTest(`it answers 401 and sends nothing for ${what}`, async (ctx) => {
    const answer = await ctx.send({ scenario_id: await ctx.scenario() }, headers);

    assertEquals(answer.status, 401);
    assertEquals(ctx.fcm.requestsTo(FCM_PATH).length, 0);
    assertEquals(ctx.google.tokenRequests, 0);
    const [{ count }] = await ctx.sql`select count(*)::int as count from dispatch_idempotency`;
    assertEquals(count, 0);
  });
}

edgeTest("it checks the key before it reads the body", async (ctx) => {
  const answer = await ctx.post("not json at all", { apikey: "sb_secret_wrong" });

  assertEquals(answer.status, 401);
});
