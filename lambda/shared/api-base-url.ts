/**
 * A Together base URL as it arrives at run time (a token passes synth unchecked): https, or http to this machine
 * only (local fakes). Returns it, or throws naming `name` and the value.
 */
export function checkApiBaseUrl(name: string, raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  const loopback = url !== undefined && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url && (url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) return raw;
  throw new Error(`${name} must be https (http only for 127.0.0.1 or localhost), got "${raw.slice(0, 200)}"`);
}
