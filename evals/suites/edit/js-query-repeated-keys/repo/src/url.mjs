import { parseQuery, stringifyQuery } from './query.mjs';

/** '/search' + { q: 'x' } -> '/search?q=x' */
export function buildUrl(path, params = {}) {
  const query = stringifyQuery(params);
  return query ? `${path}?${query}` : path;
}

/** Split '/search?q=x#top' into { path, query, hash }. */
export function splitUrl(url) {
  const hashAt = url.indexOf('#');
  const hash = hashAt === -1 ? '' : url.slice(hashAt + 1);
  const rest = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const path = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? {} : parseQuery(rest.slice(queryAt + 1));
  return { path, query, hash };
}
