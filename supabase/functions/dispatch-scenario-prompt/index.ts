// dispatch-scenario-prompt: sends one scheduler prompt to one device through FCM HTTP v1.
// Runs on Supabase Edge Functions and locally with
//   deno serve --port N --allow-net --allow-env --allow-read index.ts
// The answer contract is in docs/design.md ("The Edge Function").

import { createHandler } from "./handler.ts";

const { fetch } = createHandler(Deno.env);

export default { fetch } satisfies Deno.ServeDefaultExport;
