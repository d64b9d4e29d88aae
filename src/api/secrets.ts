/** Hashing and constant-time comparison of secrets (API keys, admin and pool tokens), on Web Crypto. */

/** Lower-case hex SHA-256 of the whole secret, the only form an API key is stored in. */
export async function sha256Hex(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret));
  let hex = '';
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Compares two strings in time that depends only on their lengths (hashes have a fixed, public length):
 * every character is visited and differences are OR-ed together, with no early exit.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/**
 * Constant-time comparison of secrets of any length (e.g. an admin token): both sides are hashed first, so
 * the comparison runs over two 64-character digests and leaks neither content nor length.
 */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256Hex(given), sha256Hex(expected)]);
  return constantTimeEqual(a, b);
}
