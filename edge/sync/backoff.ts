// Retry delays: exponential with "full jitter" (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): a random delay between 0 and
// min(max, initial x 2^attempt). Jitter keeps a hospital's gateways from
// retrying in step after a shared outage.
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}
