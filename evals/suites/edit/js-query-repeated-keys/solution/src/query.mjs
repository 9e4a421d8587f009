function decode(text) {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

/**
 * Parse a query string ("?a=1&b=2" or "a=1&b=2") into an object.
 * A key that appears several times gets an array of its values.
 */
export function parseQuery(input) {
  const text = input.startsWith('?') ? input.slice(1) : input;
  const result = {};
  if (!text) return result;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const [rawKey, ...rest] = pair.split('=');
    const key = decode(rawKey);
    const value = decode(rest.join('='));
    if (!Object.prototype.hasOwnProperty.call(result, key)) {
      result[key] = value;
    } else if (Array.isArray(result[key])) {
      result[key].push(value);
    } else {
      result[key] = [result[key], value];
    }
  }
  return result;
}

/**
 * Turn an object into a query string (without the leading "?").
 * null and undefined values are left out; arrays become repeated keys.
 */
export function stringifyQuery(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(item)}`);
    }
  }
  return parts.join('&');
}
