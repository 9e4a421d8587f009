/**
 * Parse a query string ("?a=1&b=2" or "a=1&b=2") into an object of strings.
 */
export function parseQuery(input) {
  const text = input.startsWith('?') ? input.slice(1) : input;
  const result = {};
  if (!text) return result;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const [rawKey, ...rest] = pair.split('=');
    const key = decodeURIComponent(rawKey);
    const value = decodeURIComponent(rest.join('='));
    result[key] = value;
  }
  return result;
}

/**
 * Turn an object into a query string (without the leading "?").
 * null and undefined values are left out.
 */
export function stringifyQuery(params) {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
}
