// Logging without secrets: device tokens and keys are masked as the scheduler masks them.

// A run of this many characters of a secret is masked even where the rest is missing.
const SECRET_FRAGMENT_LENGTH = 12;

/** The last six characters only, as the scheduler shows a device token. */
export function masked(secret: string): string {
  return secret.length > 6 ? `…${secret.slice(-6)}` : "…";
}

/** `text` with every secret, and every long enough run of one (any case), masked. */
export function scrub(text: string, ...secrets: string[]): string {
  for (const secret of secrets) {
    if (secret) text = maskRuns(text, secret);
  }
  return text;
}

function maskRuns(text: string, secret: string): string {
  const size = Math.min(SECRET_FRAGMENT_LENGTH, secret.length);
  const lowerSecret = secret.toLowerCase();
  const pieces = new Set<string>();
  for (let i = 0; i + size <= lowerSecret.length; i++) pieces.add(lowerSecret.slice(i, i + size));
  const lower = text.toLowerCase();
  const runs: [number, number][] = [];
  for (let i = 0; i + size <= lower.length; i++) {
    if (!pieces.has(lower.slice(i, i + size))) continue;
    const last = runs.at(-1);
    if (last && i <= last[1]) last[1] = i + size;
    else runs.push([i, i + size]);
  }
  for (const [start, end] of runs.reverse()) {
    const mask = lower.slice(start, end) === lowerSecret ? masked(secret) : "…";
    text = text.slice(0, start) + mask + text.slice(end);
  }
  return text;
}

/** One JSON line per request: ids, counts and masked values only. */
export function logLine(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ function: "dispatch-scenario-prompt", ...fields }));
}
