// A real HTTP server on 127.0.0.1 that records requests and plays scripted replies: it stands
// in for FCM and Google's OAuth token endpoint.

export interface Reply {
  status?: number;
  body?: unknown; // an object becomes JSON, a string goes out as is
  headers?: Record<string, string>;
  delayMs?: number; // wait before answering
  trickleMs?: number; // send the body a byte at a time, this long apart
}

export interface Recorded {
  method: string;
  path: string;
  headers: Headers;
  body: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

type Responder = (request: Recorded) => Reply;

export class Loopback {
  readonly requests: Recorded[] = [];
  tokenRequests = 0;
  readonly #queues = new Map<string, Reply[]>();
  readonly #fallbacks = new Map<string, Responder>();
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #stopping = new AbortController();
  #issued = 0;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#serve(request),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Replies used once each, in order, before the path's fallback. */
  script(path: string, ...replies: Reply[]): void {
    this.#queues.set(path, [...(this.#queues.get(path) ?? []), ...replies]);
  }

  always(path: string, reply: Reply | Responder): void {
    this.#fallbacks.set(path, typeof reply === "function" ? reply : () => reply);
  }

  /** Answer like Google's token endpoint: a new access token each time. */
  serveOAuthTokens(path = "/token", expiresIn = 3600): void {
    this.always(path, () => {
      this.tokenRequests++;
      return { body: { access_token: `loopback-access-${++this.#issued}`, expires_in: expiresIn } };
    });
  }

  requestsTo(path: string): Recorded[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.#stopping.abort();
    await this.#server.shutdown();
  }

  async #serve(request: Request): Promise<Response> {
    const body = await request.text();
    const recorded: Recorded = {
      method: request.method,
      path: new URL(request.url).pathname,
      headers: request.headers,
      body,
      json: parse(body),
    };
    this.requests.push(recorded);
    const reply = this.#queues.get(recorded.path)?.shift() ??
      this.#fallbacks.get(recorded.path)?.(recorded) ??
      { status: 404, body: { error: `nothing scripted for ${recorded.path}` } };
    if (reply.delayMs) await this.#sleep(reply.delayMs);
    return this.#response(reply);
  }

  #response(reply: Reply): Response {
    const headers = new Headers(reply.headers);
    const isJson = typeof reply.body === "object" && reply.body !== null;
    if (isJson) headers.set("Content-Type", "application/json");
    const payload = new TextEncoder().encode(
      isJson ? JSON.stringify(reply.body) : String(reply.body ?? ""),
    );
    if (!reply.trickleMs) return new Response(payload, { status: reply.status ?? 200, headers });
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        await this.#sleep(reply.trickleMs!);
        if (offset >= payload.length || this.#stopping.signal.aborted) return controller.close();
        controller.enqueue(payload.slice(offset, ++offset));
      },
    });
    return new Response(stream, { status: reply.status ?? 200, headers });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#stopping.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** A port nothing listens on. */
export function closedPortUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}
